"""Which version of each document is live, the store's write generation and the index's format number: records in
two small Chroma collections beside the chunks (records, not vectors: Chroma wants an embedding per record, so each
gets a constant one).

Readers serve only chunks of a live version; the generation changes with every write that changes one, so a
reader (and the lexical index) knows when what it read last is stale.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import asdict

import chromadb

from qa.store.chroma import read_all
from qa.store.versions import Version

# How long a search trusts the store generation and live versions it last read (two store reads saved a
# question): another process's writes show within this; this process's own at once.
SEEN_FOR_S = 1.0
_GENERATION, _FORMAT = "generation", "format"


class Records:
    """The live versions and the write generation of one collection of chunks."""

    def __init__(self, client: chromadb.ClientAPI, name: str, guard: Callable[[], AbstractContextManager]):
        self._guard = guard
        self._versions = client.get_or_create_collection(f"{name}-versions", embedding_function=None)
        self._generation = client.get_or_create_collection(f"{name}-generation", embedding_function=None)
        self._seen: tuple[float, str, dict[str, Version]] | None = None  # when read, generation, live versions

    def live(self, sources: Iterable[str] | None = None) -> dict[str, Version]:
        """Source name → its live version, for the given sources (default: every document)."""
        ids = sorted(set(sources)) if sources is not None else None
        if ids == []:
            return {}
        with self._guard():
            got = read_all(self._versions, include=["metadatas"], ids=ids)
        return {id_: Version(**meta) for id_, meta in zip(got["ids"], got["metadatas"])}

    def generation(self) -> str:
        """The store's write generation: it changes with every write that changes a live version."""
        return str(self._value(_GENERATION) or "")

    def current(self) -> tuple[str, dict[str, Version]]:
        """The generation and every live version, read again after SEEN_FOR_S (the versions only when the
        generation moved)."""
        now, seen = time.monotonic(), self._seen
        if seen is None or now - seen[0] > SEEN_FOR_S:
            generation = self.generation()
            live = seen[2] if seen is not None and seen[1] == generation else self.live()
            self._seen = seen = (now, generation, live)
        return seen[1], seen[2]

    def switch(self, records: dict[str, Version]) -> str:
        """Make these versions live; the new generation."""
        self._versions.upsert(ids=list(records), embeddings=[[1.0]] * len(records), metadatas=[asdict(v) for v in records.values()])
        return self._next_generation()

    def drop(self, source: str) -> str:
        """No version of the document is live any more; the new generation."""
        self._versions.delete(ids=[source])
        return self._next_generation()

    def forget(self) -> None:
        """Read the generation and versions again next time (this process has just written)."""
        self._seen = None

    def format(self) -> int | None:
        """The format the index was written in (qa.store.format), None when it was never recorded."""
        value = self._value(_FORMAT)
        return None if value is None else int(value)

    def set_format(self, number: int) -> None:
        with self._guard():
            self._generation.upsert(ids=[_FORMAT], embeddings=[[1.0]], metadatas=[{"value": number}])

    def _value(self, key: str) -> str | int | None:
        with self._guard():
            got = self._generation.get(ids=[key], include=["metadatas"])
        return got["metadatas"][0]["value"] if got["ids"] else None

    def _next_generation(self) -> str:
        value = uuid.uuid4().hex
        self._generation.upsert(ids=[_GENERATION], embeddings=[[1.0]], metadatas=[{"value": value}])
        return value

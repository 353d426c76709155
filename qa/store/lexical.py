"""The lexical side of retrieval: BM25 over every live chunk, in a tantivy index kept in step with the store.

Chroma on a single node has no lexical index, so the words are indexed by tantivy (a Lucene-like engine:
block-max WAND finds the top hits without scoring every chunk that shares a word). The index holds
chunk ids and their words, not the texts: a hit's text, metadata and vector come from the store.

It is derived from the store's live version records (qa.store.index), never a second truth: each write of the
index adds its chunks here before the documents' records switch, and afterwards drops what no live version
holds. A search first compares the store's write generation with the one this index last saw; when another
process (an ingest beside a warm server, another client of a Chroma server) has written since, the
documents whose live version differ are replaced from the store, one commit. So a killed ingest, a lost
index folder or a second client all end in the same place: the words of exactly the live chunks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import tantivy

from qa.text import ASKS_WHY, STOP_WORDS

if TYPE_CHECKING:
    from qa.domain import Chunk
    from qa.store.versions import Version

# Beside the words: which version of each document they are, and the store generation they match.
_STATE = "versions.json"
# How long a write waits for another process's (tantivy allows one writer); a search never waits.
WRITER_WAIT_S = 10.0
# Words that give a reason, weighed for "why" questions (the stemmer folds their forms): the passage giving
# the reason rarely repeats the question's words ("This shift stems from a shortage ...").
REASON_WORDS = "because due owing stems result reason cause driven attributed pressure response".split()
_WORD = re.compile(r"[^\W_]+")


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("source", stored=False, tokenizer_name="raw")
    builder.add_text_field("version", stored=False, tokenizer_name="raw")
    builder.add_text_field("text", stored=False, tokenizer_name="en_stem")
    return builder.build()


def query_words(question: str) -> str:
    """The question's words that BM25 weighs, as a tantivy query (any may match); "" when none."""
    words = [w for w in _WORD.findall(question.lower()) if w not in STOP_WORDS]
    if ASKS_WHY.search(question):
        words += REASON_WORDS  # the passage giving the reason rarely repeats the question's words
    return " ".join(dict.fromkeys(words))


def _key(version: Version) -> str:
    return f"{version.digest}/{version.chunking}"


@dataclass
class _State:
    generation: str | None = None  # None: never compared with the store
    versions: dict[str, str] = field(default_factory=dict)  # source → the version key its words are of


class LexicalIndex:
    """BM25 over the live chunks' words, in a tantivy index in `folder` (derived: rebuilt if damaged)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.schema = _schema()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.index = tantivy.Index(self.schema, path=str(folder), reuse=True)
        except ValueError:
            # Damaged or of another schema: it only mirrors the store, so it is built again from there.
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            self.index = tantivy.Index(self.schema, path=str(folder), reuse=False)
        self.state = self._load_state()

    @property
    def generation(self) -> str | None:
        """The store generation whose live versions the index holds (None: not known)."""
        return self.state.generation

    def search(self, question: str, n: int) -> list[str]:
        """The ids of the `n` chunks BM25 ranks highest for the question's words, best first."""
        words = query_words(question)
        if not words:
            return []
        query, _errors = self.index.parse_query_lenient(words, ["text"])
        searcher = self.index.searcher()
        return [searcher.doc(address)["id"][0] for _score, address in searcher.search(query, n).hits]

    def add(self, chunks: list[Chunk], versions: list[Version]) -> None:
        """Index these chunks' words (replacing any with the same id), each of its document's version."""
        if not chunks:
            return
        with self._writing() as writer:
            for chunk, version in zip(chunks, versions):
                writer.delete_documents_by_term("id", chunk.id)
                writer.add_document(self._document(chunk, version))

    def keep_only(self, versions: dict[str, Version | None], generation: str | None) -> None:
        """Drop every word of these documents that is not of the given version (None: of any version);
        `generation` is the store's after the write that made them live (None: the index is not in step)."""
        if versions:
            with self._writing() as writer:
                for source, version in versions.items():
                    writer.delete_documents_by_query(self._other_versions(source, version))
        for source, version in versions.items():
            if version is None:
                self.state.versions.pop(source, None)
            else:
                self.state.versions[source] = _key(version)
        self.state.generation = generation
        self._save_state()

    def settle(self, live: dict[str, Version], generation: str, fetch: Callable[[str, Version], list[Chunk]]) -> None:
        """Bring the index to the store's live versions at `generation`: documents whose words are of
        their live version are kept, the others dropped and, if live, added again from `fetch` (the store).
        Raises ValueError at once when another process is writing the words (a search does not wait)."""
        held = self.state.versions
        changed = [s for s, v in live.items() if held.get(s) != _key(v)]
        gone = [s for s in held if s not in live]
        if changed or gone:
            with self._writing(wait_s=0.0) as writer:
                for source in [*changed, *gone]:
                    writer.delete_documents_by_term("source", source)
                for source in changed:
                    for chunk in fetch(source, live[source]):
                        writer.add_document(self._document(chunk, live[source]))
        self.state = _State(generation, {s: _key(v) for s, v in live.items()})
        self._save_state()

    def ids(self) -> set[str]:
        """Every chunk id the index holds (for consistency checks: reads the whole index)."""
        searcher = self.index.searcher()
        if not searcher.num_docs:
            return set()
        hits = searcher.search(tantivy.Query.all_query(), searcher.num_docs).hits
        return {searcher.doc(address)["id"][0] for _score, address in hits}

    def _document(self, chunk: Chunk, version: Version) -> tantivy.Document:
        return tantivy.Document(id=chunk.id, source=chunk.source, version=_key(version), text=chunk.text)

    def _other_versions(self, source: str, version: Version | None) -> tantivy.Query:
        of_source = tantivy.Query.term_query(self.schema, "source", source)
        if version is None:
            return of_source
        keep = tantivy.Query.term_query(self.schema, "version", _key(version))
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, of_source), (tantivy.Occur.MustNot, keep)])

    @contextmanager
    def _writing(self, wait_s: float = WRITER_WAIT_S) -> Iterator[tantivy.IndexWriter]:
        """A writer whose changes are committed together at the end (or not at all). One process writes at a
        time (tantivy's lock): wait up to `wait_s` for another to finish, then fail (ValueError)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                # One thread: the words are few beside the vectors, and the cores are the embedder's.
                writer = self.index.writer(heap_size=50_000_000, num_threads=1)
                break
            except ValueError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        try:
            yield writer
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        self.index.reload()

    def _load_state(self) -> _State:
        try:
            raw = json.loads((self.folder / _STATE).read_text())
            return _State(raw["generation"], {str(k): str(v) for k, v in raw["versions"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return _State()  # missing or damaged: the next search compares every document with the store

    def _save_state(self) -> None:
        # Written after the commit it describes; a crash in between only makes the next search recheck. Each
        # writer renames its own file: threads of one process (an ingest, a search settling) may save at once.
        tmp = self.folder / f"{_STATE}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps({"generation": self.state.generation, "versions": self.state.versions}))
        os.replace(tmp, self.folder / _STATE)

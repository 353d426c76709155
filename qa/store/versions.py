"""The records of a versioned write: which version of a document is live, what is stored of each, what one
write switches. The index (qa.store.index) stores them; ingestion (qa.store.ingestion) decides them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from qa.domain import Chunk


@dataclass(frozen=True)
class Version:
    """Which text of a document the index serves: its digest, how it was chunked, into how many chunks."""

    digest: str
    chunking: str
    parts: int
    title: str

    def same_as(self, digest: str | None, chunking: str | None) -> bool:
        return (self.digest, self.chunking) == (digest, chunking)


@dataclass
class Stored:
    """The chunks stored for one source, by the version (digest, chunking) they were written from."""

    ids: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    metas: dict[tuple[str, str], dict] = field(default_factory=dict)

    def add(self, id_: str, meta: dict) -> None:
        key = (meta.get("digest"), meta.get("chunking"))
        self.ids.setdefault(key, []).append(id_)
        self.metas.setdefault(key, meta)

    def ids_except(self, version: Version) -> set[str]:
        return {i for (d, c), ids in self.ids.items() if not version.same_as(d, c) for i in ids}

    def complete_version(self) -> Version | None:
        """An index written before version records: the one version whose chunks are all there, if any."""
        if len(self.ids) != 1:
            return None
        (key, ids), meta = next(iter(self.ids.items())), next(iter(self.metas.values()))
        if None in key or meta.get("parts") != len(ids):
            return None
        return Version(key[0], key[1], len(ids), meta.get("title", ""))


@dataclass
class StoredChunks:
    """What the store holds of every document: all of it listed, or (`listed` None) nothing listed because the
    store holds exactly the chunks of the `live` versions, and a document's chunks read when asked for."""

    live: dict[str, Version]
    listed: dict[str, Stored] | None
    read: Callable[[str], Stored]  # one document's chunks, from the store

    def sources(self) -> set[str]:
        return set(self.live) if self.listed is None else set(self.listed)

    def of(self, source: str) -> Stored:
        if self.listed is not None:
            return self.listed.get(source, Stored())
        return self.read(source) if source in self.live else Stored()

    def besides(self, source: str, version: Version) -> set[str]:
        """The ids of the document's chunks that are not of `version`: what a write of `version` leaves to delete."""
        if self.listed is None and self.live.get(source) == version:
            return set()
        return self.of(source).ids_except(version)


@dataclass
class Write:
    """Chunks to store together (each with its document's new version), the documents whose version
    records switch once they are stored, and stale chunks to delete after that."""

    chunks: list[Chunk] = field(default_factory=list)
    versions: list[Version] = field(default_factory=list)
    records: dict[str, Version] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)
    settled: dict[str, Version] = field(default_factory=dict)  # documents left with only this version once stored

    @property
    def empty(self) -> bool:
        return not (self.chunks or self.records or self.stale)

    def add(self, chunks: list[Chunk], version: Version) -> None:
        self.chunks += chunks
        self.versions += [version] * len(chunks)

    def finish(self, source: str, version: Version, stale: set[str], record: bool) -> None:
        """The document is complete once this write is stored: switch its record (if needed), then drop `stale`."""
        if record:
            self.records[source] = version
        if record or stale:
            self.settled[source] = version
        self.stale |= stale

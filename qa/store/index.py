"""The index: chunks embedded in one cosine-space Chroma collection, served at their documents' live versions.

This is the store side (Chroma reads and writes, through its public API): the live versions and the write
generation are qa.store.records, the format and its migrations qa.store.format, and deciding what changed in the
files is the ingestion pipeline, qa.store.ingestion, which works through what this class offers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from langchain_chroma import Chroma
from langchain_core.documents import Document as LangchainDocument
from langchain_core.embeddings import Embeddings

from qa.domain import Chunk
from qa.settings import Settings
from qa.store.chroma import chroma_client, location, read_all, store_errors
from qa.store.documents import Chunker, SentenceChunker, source_path
from qa.store.format import migrate
from qa.store.lexical import LexicalIndex
from qa.store.records import Records
from qa.store.versions import Stored, StoredChunks, Version, Write


class Index:
    """The chunks of every ingested document, embedded in one cosine-space Chroma collection.

    Beside the chunks, a small collection records each document's live version (one record per
    document). A version's chunks are written first, in as many batches as the store takes, and the
    record is switched to it only when every batch is in; readers see only chunks of the recorded
    version. So a document is in the index whole, at its old or its new version, whatever its size
    and wherever a write stops, on the embedded store and on a Chroma server alike.
    """

    def __init__(self, settings: Settings, embeddings: Embeddings, collection: str | None = None, chunker: Chunker | None = None):
        self.settings = settings
        self.chunker = chunker or SentenceChunker(settings.chunk_size)
        client = chroma_client(settings)
        name = collection or settings.collection
        with self.guard():
            # langchain's store serves similarity search; the collection itself takes our own vectors.
            self.store = Chroma(
                collection_name=name,
                embedding_function=embeddings,
                client=client,
                collection_configuration={"hnsw": {"space": "cosine"}},
            )
            self.collection = client.get_collection(name, embedding_function=None)
            self.records = Records(client, name, self.guard)
            self.max_batch = client.get_max_batch_size()
            migrate(self.collection, self.records, location(settings))
        self.lexical = LexicalIndex(lexical_folder(settings, name))

    @property
    def embeddings(self) -> Embeddings:
        return self.store.embeddings

    @property
    def version_name(self) -> str:
        """How a document's chunks are made: the chunking, and the embedder's precision when not the default
        (a document stored otherwise is embedded again)."""
        tag = getattr(self.embeddings, "version_tag", "")
        return f"{self.chunker.name}+{tag}" if tag else self.chunker.name

    def guard(self):
        """Wrap any use of the store: its failures become IndexStoreError."""
        return store_errors(self.settings)

    def live(self, sources: Iterable[str] | None = None) -> dict[str, Version]:
        """Source name → its live version, for the given sources (default: every document)."""
        return self.records.live(sources)

    def count(self) -> int:
        """Chunks of live versions."""
        return sum(v.parts for v in self.live().values())

    def documents(self) -> dict[str, dict]:
        """Source name → {title, chunks} for every document in the index."""
        return {source: {"title": v.title, "chunks": v.parts} for source, v in sorted(self.live().items())}

    def chunks(self, source: str | None = None) -> list[Chunk]:
        """Chunks of live versions (of one source, or all), in document order."""
        with self.guard():
            got = read_all(self.collection, where={"source": source} if source else None, include=["metadatas"])
        live = self.live([source] if source else None)
        return sorted(_as_chunks(got, lambda meta: _is_live(meta, live)), key=lambda c: (c.source, c.start))

    def vectors(self, ids: list[str]) -> dict[str, list[float]]:
        """The stored embedding of each of these chunks."""
        with self.guard():
            got = read_all(self.collection, include=["embeddings"], ids=ids)
        return {id_: list(vector) for id_, vector in zip(got["ids"], got["embeddings"])}

    def lexical_search(self, question: str, n: int) -> list[str]:
        """The ids of the `n` live chunks BM25 ranks highest for the question, once the words are in step
        with the store (qa.store.lexical); chunks of versions no longer live may be among them."""
        generation, live = self.records.current()
        if self.lexical.generation != generation:
            try:
                with self.guard():
                    self.lexical.settle(live, generation, self._live_chunks)
            except ValueError:
                pass  # another process is writing the words now: search what is there, it settles next time
        return self.lexical.search(question, n)

    def _live_chunks(self, source: str, version: Version) -> list[Chunk]:
        where = {"$and": [{"source": source}, {"digest": version.digest}, {"chunking": version.chunking}]}
        return _as_chunks(read_all(self.collection, where=where, include=["metadatas"]))

    def keep_live(self, docs: list[LangchainDocument]) -> list[LangchainDocument]:
        """The retrieved chunks that belong to their document's live version."""
        _generation, live = self.records.current()
        return [d for d in docs if _is_live(d.metadata, live)]

    def stored(self, live: dict[str, Version]) -> StoredChunks:
        """Every chunk the store holds, live or not, per source name, given the `live` versions (Index.live()).

        Listing every chunk's metadata is most of an ingest that changes little (2.1 s at 50,000 chunks, each
        with its text). When the store holds as many chunks as the live versions have (it does unless a write
        was cut short or the index predates version records) nothing is listed: a document's chunks are read
        when it changes."""
        with self.guard():
            if self.collection.count() == sum(v.parts for v in live.values()):
                return StoredChunks(live, None, self._stored_of)
            return StoredChunks(live, _by_source(read_all(self.collection, include=["metadatas"])), self._stored_of)

    def _stored_of(self, source: str) -> Stored:
        with self.guard():
            got = read_all(self.collection, where={"source": source}, include=["metadatas"])
        return _by_source(got).get(source, Stored())

    def path_of(self, source: str) -> Path:
        """The file behind a source name."""
        return source_path(source, self.settings.corpus_dir)

    def remove(self, source: str) -> bool:
        """Take a document out of the index: its version record first, so no reader sees it half deleted."""
        known = bool(self.live([source]))
        with self.guard():
            in_step = self.lexical.generation == self.records.generation()
            generation = self.records.drop(source)
            self._delete_chunks(self.collection.get(where={"source": source}, include=[])["ids"])
            self.lexical.keep_only({source: None}, generation if in_step else None)
        self.records.forget()
        return known

    def write(self, write: Write, vectors: Sequence[Sequence[float]]) -> None:
        """Store the chunks, then switch the versions of the documents they complete, then drop stale chunks."""
        metadatas = [_metadata(c, v) for c, v in zip(write.chunks, write.versions)]
        in_step = self.lexical.generation == self.records.generation()
        # Chroma refuses writes larger than its batch limit (5,461 records on the embedded store).
        for at in range(0, len(write.chunks), self.max_batch):
            part = slice(at, at + self.max_batch)
            self.collection.upsert(
                ids=[c.id for c in write.chunks[part]],
                embeddings=vectors[part],
                # The text goes in the metadata (format 2, qa.store.format); the words are searched in tantivy.
                documents=[""] * len(write.chunks[part]),
                metadatas=metadatas[part],
            )
        self.lexical.add(write.chunks, write.versions)
        generation = self.records.switch(write.records) if write.records else self.lexical.generation
        self._delete_chunks(sorted(write.stale))
        self.lexical.keep_only(write.settled, generation if in_step else None)
        self.records.forget()

    def _delete_chunks(self, ids: list[str]) -> None:
        for at in range(0, len(ids), self.max_batch):
            self.collection.delete(ids=ids[at : at + self.max_batch])


def lexical_folder(settings: Settings, collection: str) -> Path:
    """Where the collection's words are indexed: beside the embedded index, or in the cache for a server."""
    if settings.chroma_url:
        server = re.sub(r"[^A-Za-z0-9.]+", "-", settings.chroma_url).strip("-")
        return settings.cache_dir / "lexical" / server / collection
    return settings.index_dir / "lexical" / collection


def _by_source(got: dict) -> dict[str, Stored]:
    """A store read (ids, metadatas) as each source's chunk ids by the version they were written from."""
    stored: dict[str, Stored] = {}
    for id_, meta in zip(got["ids"], got["metadatas"]):
        stored.setdefault(meta["source"], Stored()).add(id_, meta)
    return stored


def _as_chunks(got: dict, keep: Callable[[dict], bool] = lambda meta: True) -> list[Chunk]:
    """The chunks of a store read (ids, metadatas) whose metadata `keep` accepts."""
    return [
        Chunk(id_, meta["text"], meta["source"], meta["title"], meta["start"], meta["end"], page=meta.get("page"))
        for id_, meta in zip(got["ids"], got["metadatas"])
        if keep(meta)
    ]


def _metadata(chunk: Chunk, version: Version) -> dict:
    return {
        "text": chunk.text,
        "source": chunk.source,
        "title": chunk.title,
        "start": chunk.start,
        "end": chunk.end,
        "digest": version.digest,
        "chunking": version.chunking,
        "parts": version.parts,
        **({} if chunk.page is None else {"page": chunk.page}),  # only PDFs have pages
    }


def _is_live(meta: dict, live: dict[str, Version]) -> bool:
    version = live.get(meta["source"])
    return version is not None and version.same_as(meta.get("digest"), meta.get("chunking"))

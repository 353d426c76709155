"""The index: chunks embedded in one cosine-space Chroma collection, and which version of each document is live.

This is the store side (Chroma reads and writes, through its public API); deciding what changed in the
files is qa.store.ingestion.
"""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError
from langchain_chroma import Chroma
from langchain_core.documents import Document as LangchainDocument
from langchain_core.embeddings import Embeddings

from qa.domain import Chunk
from qa.errors import CorpusError, IndexStoreError, QAError
from qa.settings import Settings
from qa.store.documents import Chunker, SentenceChunker, source_path
from qa.store.lexical import LexicalIndex
from qa.store.versions import Stored, StoredChunks, Version, Write

if TYPE_CHECKING:
    from qa.store.ingestion import IngestProgress, IngestReport


def chroma_client(settings: Settings) -> chromadb.ClientAPI:
    """A persistent client on `index_dir`, or an HTTP client when `chroma_url` names a server."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise CorpusError(f"QA_CHROMA_URL must look like http://host:port, not {settings.chroma_url!r}")
        with store_errors(settings):
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
    with store_errors(settings):
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        _check_database(settings.index_dir / "chroma.sqlite3")
        return chromadb.PersistentClient(path=str(settings.index_dir), settings=chroma_settings)


# Chroma waits forever on a database another process holds locked; we give up after this long.
LOCK_WAIT_S = 10.0
# Reads of many records go in pages of this many (see read_all).
READ_PAGE = 10_000
# How long a search trusts the store generation and live versions it last read (two store reads saved a
# question): another process's writes show within this; this process's own at once.
SEEN_FOR_S = 1.0


def _check_database(path: Path) -> None:
    """Fail fast on an index file that is not a database or that another process holds locked."""
    if not path.exists():
        return
    db = sqlite3.connect(path, timeout=LOCK_WAIT_S)
    try:
        db.execute("BEGIN IMMEDIATE")  # takes the write lock, so a held lock shows here, not as a hang
        db.execute("ROLLBACK")
    finally:
        db.close()


@contextmanager
def store_errors(settings: Settings) -> Iterator[None]:
    """Chroma, SQLite and file-system failures become one IndexStoreError that says what to do."""
    where = f"the Chroma server at {settings.chroma_url}" if settings.chroma_url else f"the index at {settings.index_dir}"
    try:
        yield
    except QAError:
        raise
    except (ChromaError, sqlite3.Error, OSError, ValueError) as e:
        reason = str(e).strip() or type(e).__name__
        lowered = reason.lower()
        if "locked" in lowered:
            advice = "another process holds it locked; stop that process or try again"
        elif any(w in lowered for w in ("readonly", "read-only", "permission")):
            advice = "it cannot be written here (permissions or a read-only disk)"
        elif any(w in lowered for w in ("full", "no space", "too large", "i/o error")):
            advice = "writing to the disk failed (is it full?); free space and run the ingest again"
        elif settings.chroma_url:
            advice = "check that the server is running and reachable"
        else:
            advice = "it looks damaged; `qa ingest --rebuild` sets it aside and builds a new one from the corpus"
        raise IndexStoreError(f"{where} cannot be used ({reason}): {advice}") from e


def set_aside(settings: Settings) -> Path | None:
    """Move a local index out of the way (kept, not deleted) so a new one can be built; returns where it went."""
    if settings.chroma_url:
        raise CorpusError("--rebuild works on the local index; rebuild a server's collection with the server's own tools")
    if not settings.index_dir.exists():
        return None
    target = settings.index_dir.with_name(f"{settings.index_dir.name}.broken-{time.strftime('%Y%m%dT%H%M%S')}")
    settings.index_dir.rename(target)
    # Chroma keeps one system per path; the next client must open the new directory, not the moved one.
    chromadb.api.client.SharedSystemClient.clear_system_cache()
    return target


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
            # Records, not vectors: Chroma wants an embedding per record, so each gets a constant one.
            self._versions = client.get_or_create_collection(f"{name}-versions", embedding_function=None)
            self._generation = client.get_or_create_collection(f"{name}-generation", embedding_function=None)
            self.max_batch = client.get_max_batch_size()
        self.lexical = LexicalIndex(lexical_folder(settings, name))
        self._seen: tuple[float, str, dict[str, Version]] | None = None  # when read, generation, live versions

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
        ids = sorted(set(sources)) if sources is not None else None
        if ids == []:
            return {}
        with self.guard():
            got = read_all(self._versions, include=["metadatas"], ids=ids)
        return {id_: Version(**meta) for id_, meta in zip(got["ids"], got["metadatas"])}

    def count(self) -> int:
        """Chunks of live versions."""
        return sum(v.parts for v in self.live().values())

    def documents(self) -> dict[str, dict]:
        """Source name → {title, chunks} for every document in the index."""
        return {source: {"title": v.title, "chunks": v.parts} for source, v in sorted(self.live().items())}

    def chunks(self, source: str | None = None) -> list[Chunk]:
        """Chunks of live versions (of one source, or all), in document order."""
        with self.guard():
            got = read_all(self.collection, where={"source": source} if source else None, include=["documents", "metadatas"])
        live = self.live([source] if source else None)
        return sorted(_as_chunks(got, lambda meta: _is_live(meta, live)), key=lambda c: (c.source, c.start))

    def vectors(self, ids: list[str]) -> dict[str, list[float]]:
        """The stored embedding of each of these chunks."""
        with self.guard():
            got = read_all(self.collection, include=["embeddings"], ids=ids)
        return {id_: list(vector) for id_, vector in zip(got["ids"], got["embeddings"])}

    def generation(self) -> str:
        """The store's write generation: it changes with every write that changes a live version."""
        with self.guard():
            got = self._generation.get(ids=["generation"], include=["metadatas"])
        return str(got["metadatas"][0]["value"]) if got["ids"] else ""

    def lexical_search(self, question: str, n: int) -> list[str]:
        """The ids of the `n` live chunks BM25 ranks highest for the question, once the words are in step
        with the store (qa.store.lexical); chunks of versions no longer live may be among them."""
        generation, live = self._current()
        if self.lexical.generation != generation:
            try:
                with self.guard():
                    self.lexical.settle(live, generation, self._live_chunks)
            except ValueError:
                pass  # another process is writing the words now: search what is there, it settles next time
        return self.lexical.search(question, n)

    def _current(self) -> tuple[str, dict[str, Version]]:
        """The store's generation and every live version, read again after SEEN_FOR_S (the versions only when
        the generation moved)."""
        now, seen = time.monotonic(), self._seen
        if seen is None or now - seen[0] > SEEN_FOR_S:
            generation = self.generation()
            live = seen[2] if seen is not None and seen[1] == generation else self.live()
            self._seen = seen = (now, generation, live)
        return seen[1], seen[2]

    def _live_chunks(self, source: str, version: Version) -> list[Chunk]:
        where = {"$and": [{"source": source}, {"digest": version.digest}, {"chunking": version.chunking}]}
        return _as_chunks(read_all(self.collection, where=where, include=["documents", "metadatas"]))

    def keep_live(self, docs: list[LangchainDocument]) -> list[LangchainDocument]:
        """The retrieved chunks that belong to their document's live version."""
        _generation, live = self._current()
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
            in_step = self.lexical.generation == self.generation()
            self._versions.delete(ids=[source])
            generation = self._next_generation()
            self._delete_chunks(self.collection.get(where={"source": source}, include=[])["ids"])
            self.lexical.keep_only({source: None}, generation if in_step else None)
        self._seen = None
        return known

    def write(self, write: Write, vectors: Sequence[Sequence[float]]) -> None:
        """Store the chunks, then switch the versions of the documents they complete, then drop stale chunks."""
        metadatas = [_metadata(c, v) for c, v in zip(write.chunks, write.versions)]
        in_step = self.lexical.generation == self.generation()
        # Chroma refuses writes larger than its batch limit (5,461 records on the embedded store).
        for at in range(0, len(write.chunks), self.max_batch):
            part = slice(at, at + self.max_batch)
            self.collection.upsert(
                ids=[c.id for c in write.chunks[part]],
                embeddings=vectors[part],
                # The text goes in the metadata (_metadata): Chroma's embedded store indexes every document's
                # trigrams, even with full-text search off in the schema, and that was over half of the upsert's
                # time, under the interpreter lock (docs/performance.md). The words are searched in tantivy. The
                # empty document keeps the records in langchain's similarity search, which drops those without.
                documents=[""] * len(write.chunks[part]),
                metadatas=metadatas[part],
            )
        self.lexical.add(write.chunks, write.versions)
        generation = self.lexical.generation
        if write.records:
            self._versions.upsert(
                ids=list(write.records),
                embeddings=[[1.0]] * len(write.records),
                metadatas=[asdict(v) for v in write.records.values()],
            )
            generation = self._next_generation()
        self._delete_chunks(sorted(write.stale))
        self.lexical.keep_only(write.settled, generation if in_step else None)
        self._seen = None

    def _next_generation(self) -> str:
        value = uuid.uuid4().hex
        self._generation.upsert(ids=["generation"], embeddings=[[1.0]], metadatas=[{"value": value}])
        return value

    def ingest(self, paths: Iterable[Path], progress: Callable[[IngestProgress], None] | None = None) -> IngestReport:
        """Bring the index in step with the given files and directories (qa.store.ingestion)."""
        from qa.store.ingestion import Ingest

        return Ingest(self, progress).run(paths)

    def _delete_chunks(self, ids: list[str]) -> None:
        for at in range(0, len(ids), self.max_batch):
            self.collection.delete(ids=ids[at : at + self.max_batch])


def read_all(collection: chromadb.Collection, include: list[str], where: dict | None = None, ids: list[str] | None = None) -> dict[str, list]:
    """`collection.get` of every record matching `where` (or of these ids), a page at a time: Chroma's embedded
    store fails one read of more than 32,766 records with their metadata ("too many SQL variables",
    chroma-core/chroma#7687)."""
    got: dict[str, list] = {"ids": [], **{field: [] for field in include}}

    def add(page: dict) -> int:
        for field, values in got.items():
            values.extend(page[field])
        return len(page["ids"])

    if ids is not None:
        for at in range(0, len(ids), READ_PAGE):
            add(collection.get(ids=ids[at : at + READ_PAGE], include=include))
        return got
    while add(collection.get(where=where, include=include, limit=READ_PAGE, offset=len(got["ids"]))) == READ_PAGE:
        pass
    return got


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
    """The chunks of a store read (ids, documents, metadatas) whose metadata `keep` accepts."""
    return [
        Chunk(id_, chunk_text(document, meta), meta["source"], meta["title"], meta["start"], meta["end"], page=meta.get("page"))
        for id_, document, meta in zip(got["ids"], got["documents"], got["metadatas"])
        if keep(meta)
    ]


def chunk_text(document: str | None, metadata: dict) -> str:
    """A stored chunk's text: in its metadata; indexes written before 2026-12-02 hold it as the Chroma document."""
    return metadata.get("text", document or "")


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

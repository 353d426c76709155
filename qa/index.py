"""The Chroma index of chunks: which client, what is stored, and keeping it in step with the files."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError
from langchain_chroma import Chroma
from langchain_core.documents import Document as LangchainDocument
from langchain_core.embeddings import Embeddings

from qa.documents import (
    SUPPORTED_SUFFIXES,
    Chunker,
    DocumentError,
    SentenceChunker,
    read_document,
    source_name,
    source_path,
)
from qa.domain import Chunk
from qa.errors import CorpusError, IndexStoreError, QAError
from qa.settings import Settings


@dataclass
class IngestReport:
    """What an ingest did, per source name."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    chunks_written: int = 0
    set_aside: Path | None = None  # where a rebuild moved the previous index

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


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
            self.store = Chroma(
                collection_name=name,
                embedding_function=embeddings,
                client=client,
                collection_configuration={"hnsw": {"space": "cosine"}},
            )
            # Records, not vectors: Chroma wants an embedding per record, so each gets a constant one.
            self._versions = client.get_or_create_collection(f"{name}-versions", embedding_function=None)
            self._max_batch = client.get_max_batch_size()

    def guard(self):
        """Wrap any use of the store: its failures become IndexStoreError."""
        return store_errors(self.settings)

    def _live(self, sources: Iterable[str] | None = None) -> dict[str, _Version]:
        """Source name → its live version, for the given sources (default: every document)."""
        ids = sorted(set(sources)) if sources is not None else None
        if ids == []:
            return {}
        with self.guard():
            got = self._versions.get(ids=ids, include=["metadatas"])
        return {id_: _Version(**meta) for id_, meta in zip(got["ids"], got["metadatas"])}

    def count(self) -> int:
        """Chunks of live versions."""
        return sum(v.parts for v in self._live().values())

    def documents(self) -> dict[str, dict]:
        """Source name → {title, chunks} for every document in the index."""
        return {source: {"title": v.title, "chunks": v.parts} for source, v in sorted(self._live().items())}

    def chunks(self, source: str | None = None) -> list[Chunk]:
        """Chunks of live versions (of one source, or all), in document order."""
        with self.guard():
            got = self.store.get(where={"source": source} if source else None, include=["documents", "metadatas"])
        live = self._live([source] if source else None)
        chunks = [
            Chunk(id_, text, meta["source"], meta["title"], meta["start"], meta["end"], page=meta.get("page"))
            for id_, text, meta in zip(got["ids"], got["documents"], got["metadatas"])
            if _is_live(meta, live)
        ]
        return sorted(chunks, key=lambda c: (c.source, c.start))

    def vectors(self, ids: list[str]) -> dict[str, list[float]]:
        """The stored embedding of each of these chunks."""
        with self.guard():
            got = self.store.get(ids=ids, include=["embeddings"])
        return {id_: list(vector) for id_, vector in zip(got["ids"], got["embeddings"])}

    def keep_live(self, docs: list[LangchainDocument]) -> list[LangchainDocument]:
        """The retrieved chunks that belong to their document's live version (one small lookup)."""
        live = self._live(d.metadata["source"] for d in docs)
        return [d for d in docs if _is_live(d.metadata, live)]

    def _stored(self) -> dict[str, _Stored]:
        """Every chunk the store holds, live or not, per source name: ids by the version they were written from."""
        with self.guard():
            got = self.store.get(include=["metadatas"])
        stored: dict[str, _Stored] = {}
        for id_, meta in zip(got["ids"], got["metadatas"]):
            stored.setdefault(meta["source"], _Stored()).add(id_, meta)
        return stored

    def path_of(self, source: str) -> Path:
        """The file behind a source name."""
        return source_path(source, self.settings.corpus_dir)

    def remove(self, source: str) -> bool:
        """Take a document out of the index: its version record first, so no reader sees it half deleted."""
        known = bool(self._live([source]))
        with self.guard():
            self._versions.delete(ids=[source])
            self._delete_chunks(self.store.get(where={"source": source}, include=[])["ids"])
        return known

    def _delete_chunks(self, ids: list[str]) -> None:
        for at in range(0, len(ids), self._max_batch):
            self.store._collection.delete(ids=ids[at : at + self._max_batch])

    def ingest(self, paths: Iterable[Path], progress: Callable[[int, int, str], None] | None = None) -> IngestReport:
        """Bring the index in step with the given files and directories.

        Unchanged documents cost nothing beyond one listing of the index. Changed documents are
        embedded in batches (several short documents to a batch, a long one over several) so that
        embedding and Chroma work in bulk; a document's version switches once all its chunks are
        stored, and its old chunks are deleted after that, so readers see it whole, old or new.
        Documents indexed from inside a given directory whose files are gone are removed.
        """
        report = IngestReport()
        files: list[Path] = []
        scanned_dirs: list[Path] = []
        for path in map(Path, paths):
            if path.is_dir():
                scanned_dirs.append(path.resolve())
                files.extend(sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path)))
            elif path.is_file():
                files.append(path)
            else:
                raise CorpusError(f"{path}: no such file or directory")
        stored = self._stored()
        live = self._live()
        batch = _Batch()
        seen: set[str] = set()
        # One writer thread: Chroma stores a batch while the next one is being embedded.
        with ThreadPoolExecutor(1) as writer:
            writing: Future | None = None
            for done, file in enumerate(files):
                if progress:
                    progress(done, len(files), file.name)
                if file.suffix.lower() not in SUPPORTED_SUFFIXES and file.parent.resolve() in scanned_dirs:
                    continue  # stray files in a corpus folder (README, images) are skipped, not errors
                try:
                    doc = read_document(file, self.settings.corpus_dir)
                except DocumentError as e:
                    report.failed[source_name(file, self.settings.corpus_dir)] = str(e)
                    continue
                seen.add(doc.source)
                old = stored.get(doc.source, _Stored())
                version = live.get(doc.source) or old.complete_version()
                if version is not None and version.same_as(doc.digest, self.chunker.name):
                    # Same text, same chunking: nothing to embed; leftovers of an interrupted write go.
                    batch.finish(doc.source, version, old.ids_except(version), record=doc.source not in live)
                    report.unchanged.append(doc.source)
                    continue
                chunks = _distinct(self.chunker(doc))
                new = _Version(doc.digest, self.chunker.name, len(chunks), doc.title)
                (report.updated if old.ids else report.added).append(doc.source)
                report.chunks_written += len(chunks)
                # A long document spans several batches; its version is switched in the batch with its last chunk.
                for at in range(0, len(chunks), _BATCH_CHUNKS):
                    batch.add(chunks[at : at + _BATCH_CHUNKS], new)
                    if at + _BATCH_CHUNKS < len(chunks):
                        writing = self._flush(batch, writer, writing)
                        batch = _Batch()
                batch.finish(doc.source, new, old.ids_except(new) - {c.id for c in chunks}, record=True)
                if len(batch.chunks) >= _BATCH_CHUNKS:
                    writing = self._flush(batch, writer, writing)
                    batch = _Batch()
            self._wait(self._flush(batch, writer, writing))
        for source in sorted(set(stored) | set(live)):
            if source not in seen and source not in report.failed and _under_any(self.path_of(source), scanned_dirs):
                self.remove(source)
                report.removed.append(source)
        return report

    def _flush(self, batch: _Batch, writer: ThreadPoolExecutor, writing: Future | None) -> Future | None:
        """Embed a batch, wait for the previous write, and hand this one to the writer."""
        if batch.empty:
            return writing
        vectors = self.store.embeddings.embed_documents([c.text for c in batch.chunks]) if batch.chunks else []
        self._wait(writing)
        return writer.submit(self._write, batch, vectors)

    def _wait(self, writing: Future | None) -> None:
        if writing is not None:
            with self.guard():
                writing.result()

    def _write(self, batch: _Batch, vectors: list[list[float]]) -> None:
        """Store the batch's chunks, then switch the versions of the documents it completes, then drop their stale chunks."""
        metadatas = [
            {
                "source": c.source,
                "title": c.title,
                "start": c.start,
                "end": c.end,
                "digest": v.digest,
                "chunking": v.chunking,
                "parts": v.parts,
                **({} if c.page is None else {"page": c.page}),  # only PDFs have pages
            }
            for c, v in zip(batch.chunks, batch.versions)
        ]
        collection = self.store._collection
        # Chroma refuses writes larger than its batch limit (5,461 records on the embedded store).
        for at in range(0, len(batch.chunks), self._max_batch):
            part = slice(at, at + self._max_batch)
            collection.upsert(
                ids=[c.id for c in batch.chunks[part]],
                embeddings=vectors[part],
                documents=[c.text for c in batch.chunks[part]],
                metadatas=metadatas[part],
            )
        if batch.records:
            self._versions.upsert(
                ids=list(batch.records),
                embeddings=[[1.0]] * len(batch.records),
                metadatas=[asdict(v) for v in batch.records.values()],
            )
        self._delete_chunks(sorted(batch.stale))


# Chunks are embedded and handed to the writer in batches of this many.
_BATCH_CHUNKS = 256


@dataclass(frozen=True)
class _Version:
    """Which text of a document the index serves: its digest, how it was chunked, into how many chunks."""

    digest: str
    chunking: str
    parts: int
    title: str

    def same_as(self, digest: str, chunking: str) -> bool:
        return (self.digest, self.chunking) == (digest, chunking)


def _is_live(meta: dict, live: dict[str, _Version]) -> bool:
    version = live.get(meta["source"])
    return version is not None and version.same_as(meta.get("digest"), meta.get("chunking"))


@dataclass
class _Stored:
    """The chunks stored for one source, by the version (digest, chunking) they were written from."""

    ids: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    metas: dict[tuple[str, str], dict] = field(default_factory=dict)

    def add(self, id_: str, meta: dict) -> None:
        key = (meta.get("digest"), meta.get("chunking"))
        self.ids.setdefault(key, []).append(id_)
        self.metas.setdefault(key, meta)

    def ids_except(self, version: _Version) -> set[str]:
        return {i for (d, c), ids in self.ids.items() if not version.same_as(d, c) for i in ids}

    def complete_version(self) -> _Version | None:
        """An index written before version records: the one version whose chunks are all there, if any."""
        if len(self.ids) != 1:
            return None
        (key, ids), meta = next(iter(self.ids.items())), next(iter(self.metas.values()))
        if None in key or meta.get("parts") != len(ids):
            return None
        return _Version(key[0], key[1], len(ids), meta.get("title", ""))


@dataclass
class _Batch:
    """Chunks to store together, and the documents whose versions switch once they are stored."""

    chunks: list[Chunk] = field(default_factory=list)
    versions: list[_Version] = field(default_factory=list)
    records: dict[str, _Version] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)

    @property
    def empty(self) -> bool:
        return not (self.chunks or self.records or self.stale)

    def add(self, chunks: list[Chunk], version: _Version) -> None:
        self.chunks += chunks
        self.versions += [version] * len(chunks)

    def finish(self, source: str, version: _Version, stale: set[str], record: bool) -> None:
        """The document is complete once this batch is stored: switch its record (if needed), then drop `stale`."""
        if record:
            self.records[source] = version
        self.stale |= stale


def _distinct(chunks: list[Chunk]) -> list[Chunk]:
    """The first chunk of each text in a document: repeats are left out of the index.

    Many identical vectors wreck HNSW search for everything else: with 20,000 copies of one vector
    beside 20 others, Chroma found none of the 20 by their own vectors (recall@10 0.0; 0.7 with
    ef_search 100). Repeated boilerplate, logs or a file of one line repeated do this; a repeat cites
    as well as its first copy.
    """
    seen: set[str] = set()
    return [c for c in chunks if not (c.text in seen or seen.add(c.text))]


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _under_any(path: Path, dirs: list[Path]) -> bool:
    return any(path.resolve().is_relative_to(d) for d in dirs)

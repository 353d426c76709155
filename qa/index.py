"""The Chroma index of chunks: which client, what is stored, and keeping it in step with the files."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError
from langchain_chroma import Chroma
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
    """The chunks of every ingested document, embedded in one cosine-space Chroma collection."""

    def __init__(self, settings: Settings, embeddings: Embeddings, collection: str | None = None, chunker: Chunker | None = None):
        self.settings = settings
        self.chunker = chunker or SentenceChunker(settings.chunk_size)
        client = chroma_client(settings)
        with self.guard():
            self.store = Chroma(
                collection_name=collection or settings.collection,
                embedding_function=embeddings,
                client=client,
                collection_configuration={"hnsw": {"space": "cosine"}},
            )

    def guard(self):
        """Wrap any use of the store: its failures become IndexStoreError."""
        return store_errors(self.settings)

    def count(self) -> int:
        with self.guard():
            return self.store._collection.count()

    def documents(self) -> dict[str, dict]:
        """Source name → {title, chunks} for every document in the index."""
        docs: dict[str, dict] = {}
        with self.guard():
            metadatas = self.store.get(include=["metadatas"])["metadatas"]
        for meta in metadatas:
            entry = docs.setdefault(meta["source"], {"title": meta["title"], "chunks": 0})
            entry["chunks"] += 1
        return dict(sorted(docs.items()))

    def chunks(self, source: str | None = None) -> list[Chunk]:
        """Stored chunks (of one source, or all), in document order."""
        with self.guard():
            got = self.store.get(where={"source": source} if source else None, include=["documents", "metadatas"])
        chunks = [
            Chunk(id_, text, meta["source"], meta["title"], meta["start"], meta["end"])
            for id_, text, meta in zip(got["ids"], got["documents"], got["metadatas"])
        ]
        return sorted(chunks, key=lambda c: (c.source, c.start))

    def _stored(self, source: str | None = None) -> dict[str, _Stored]:
        """What the index holds per source name: chunk ids and the versions they were written from."""
        with self.guard():
            got = self.store.get(where={"source": source} if source else None, include=["metadatas"])
        stored: dict[str, _Stored] = {}
        for id_, meta in zip(got["ids"], got["metadatas"]):
            entry = stored.setdefault(meta["source"], _Stored())
            entry.ids.append(id_)
            entry.versions.add(_version(meta.get("digest"), meta.get("chunking"), meta.get("parts")))
        return stored

    def path_of(self, source: str) -> Path:
        """The file behind a source name."""
        return source_path(source, self.settings.corpus_dir)

    def remove(self, source: str) -> bool:
        ids = self._stored(source).get(source, _Stored()).ids
        if ids:
            with self.guard():
                self.store.delete(ids=ids)
        return bool(ids)

    def ingest(self, paths: Iterable[Path], progress: Callable[[int, int, str], None] | None = None) -> IngestReport:
        """Bring the index in step with the given files and directories.

        Unchanged documents cost nothing beyond one listing of the index. Changed documents are
        written whole, several to a batch so that embedding and Chroma work in bulk; a document's
        old chunks are deleted only after its new ones are stored, so it is never missing from the
        index. Documents indexed from inside a given directory whose files are gone are removed.
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
                # Same text, same chunking, and as many chunks stored as were written: nothing to do.
                if old.versions == {_version(doc.digest, self.chunker.name, len(old.ids))}:
                    report.unchanged.append(doc.source)
                    continue
                chunks = self.chunker(doc)
                batch.add(chunks, doc.digest, old.ids)
                (report.updated if old.ids else report.added).append(doc.source)
                report.chunks_written += len(chunks)
                if len(batch.chunks) >= _BATCH_CHUNKS:
                    writing = self._flush(batch, writer, writing)
                    batch = _Batch()
            self._wait(self._flush(batch, writer, writing))
        for source in stored:
            if source not in seen and source not in report.failed and _under_any(self.path_of(source), scanned_dirs):
                with self.guard():
                    self.store.delete(ids=stored[source].ids)
                report.removed.append(source)
        return report

    def _flush(self, batch: _Batch, writer: ThreadPoolExecutor, writing: Future | None) -> Future | None:
        """Embed a batch, wait for the previous write, and hand this one to the writer."""
        if not batch.chunks:
            return writing
        vectors = self.store.embeddings.embed_documents([c.text for c in batch.chunks])
        self._wait(writing)
        return writer.submit(self._write, batch, vectors)

    def _wait(self, writing: Future | None) -> None:
        if writing is not None:
            with self.guard():
                writing.result()

    def _write(self, batch: _Batch, vectors: list[list[float]]) -> None:
        parts = Counter(c.source for c in batch.chunks)
        metadatas = [
            {
                "source": c.source,
                "title": c.title,
                "start": c.start,
                "end": c.end,
                "digest": digest,
                "chunking": self.chunker.name,
                # With the count, a document whose writing was cut short never looks complete.
                "parts": parts[c.source],
            }
            for c, digest in zip(batch.chunks, batch.digests)
        ]
        collection = self.store._collection
        collection.upsert(
            ids=[c.id for c in batch.chunks], embeddings=vectors, documents=[c.text for c in batch.chunks], metadatas=metadatas
        )
        stale = sorted(batch.old_ids - {c.id for c in batch.chunks})
        if stale:
            collection.delete(ids=stale)


def _version(digest: str | None, chunking: str | None, parts: int | None) -> str:
    return f"{digest}:{chunking}:{parts}"


# Documents are written whole, in batches of at least this many chunks.
_BATCH_CHUNKS = 256


@dataclass
class _Stored:
    ids: list[str] = field(default_factory=list)
    versions: set[str] = field(default_factory=set)


@dataclass
class _Batch:
    chunks: list[Chunk] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    old_ids: set[str] = field(default_factory=set)

    def add(self, chunks: list[Chunk], digest: str, old_ids: list[str]) -> None:
        self.chunks += chunks
        self.digests += [digest] * len(chunks)
        self.old_ids.update(old_ids)


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _under_any(path: Path, dirs: list[Path]) -> bool:
    return any(path.resolve().is_relative_to(d) for d in dirs)

"""The Chroma index of chunks: which client, what is stored, and keeping it in step with the files."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.documents import Document as LCDocument
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
from qa.errors import CorpusError
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
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.index_dir), settings=chroma_settings)


class Index:
    """The chunks of every ingested document, embedded in one cosine-space Chroma collection."""

    def __init__(self, settings: Settings, embeddings: Embeddings, collection: str | None = None, chunker: Chunker | None = None):
        self.settings = settings
        self.chunker = chunker or SentenceChunker(settings.chunk_size)
        self.store = Chroma(
            collection_name=collection or settings.collection,
            embedding_function=embeddings,
            client=chroma_client(settings),
            collection_configuration={"hnsw": {"space": "cosine"}},
        )

    def count(self) -> int:
        return self.store._collection.count()

    def documents(self) -> dict[str, dict]:
        """Source name → {title, chunks} for every document in the index."""
        docs: dict[str, dict] = {}
        for meta in self.store.get(include=["metadatas"])["metadatas"]:
            entry = docs.setdefault(meta["source"], {"title": meta["title"], "chunks": 0})
            entry["chunks"] += 1
        return dict(sorted(docs.items()))

    def chunks(self, source: str | None = None) -> list[Chunk]:
        """Stored chunks (of one source, or all), in document order."""
        got = self.store.get(where={"source": source} if source else None, include=["documents", "metadatas"])
        chunks = [
            Chunk(id_, text, meta["source"], meta["title"], meta["start"], meta["end"])
            for id_, text, meta in zip(got["ids"], got["documents"], got["metadatas"])
        ]
        return sorted(chunks, key=lambda c: (c.source, c.start))

    def _stored(self, source: str) -> tuple[list[str], set[str]]:
        got = self.store.get(where={"source": source}, include=["metadatas"])
        return got["ids"], {f"{m.get('digest')}:{m.get('chunking')}" for m in got["metadatas"]}

    def path_of(self, source: str) -> Path:
        """The file behind a source name."""
        return source_path(source, self.settings.corpus_dir)

    def remove(self, source: str) -> bool:
        ids, _ = self._stored(source)
        if ids:
            self.store.delete(ids=ids)
        return bool(ids)

    def ingest(self, paths: Iterable[Path], progress: Callable[[int, int, str], None] | None = None) -> IngestReport:
        """Bring the index in step with the given files and directories.

        Unchanged documents cost one lookup; a changed document's new chunks are written before its
        old ones are deleted, so it is never missing from the index. Documents indexed from inside a
        given directory whose files are gone are removed.
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
        seen: set[str] = set()
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
            old_ids, old_versions = self._stored(doc.source)
            if old_ids and old_versions == {f"{doc.digest}:{self.chunker.name}"}:
                report.unchanged.append(doc.source)
                continue
            chunks = self.chunker(doc)
            self._write(chunks, doc.digest)
            stale = sorted(set(old_ids) - {c.id for c in chunks})
            if stale:
                self.store.delete(ids=stale)
            (report.updated if old_ids else report.added).append(doc.source)
            report.chunks_written += len(chunks)
        for source in self.documents():
            if source not in seen and source not in report.failed and _under_any(self.path_of(source), scanned_dirs):
                self.remove(source)
                report.removed.append(source)
        return report

    def _write(self, chunks: list[Chunk], digest: str) -> None:
        docs = [
            LCDocument(
                page_content=c.text,
                metadata={
                    "source": c.source,
                    "title": c.title,
                    "start": c.start,
                    "end": c.end,
                    "digest": digest,
                    "chunking": self.chunker.name,
                },
            )
            for c in chunks
        ]
        self.store.add_documents(docs, ids=[c.id for c in chunks])


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _under_any(path: Path, dirs: list[Path]) -> bool:
    return any(path.resolve().is_relative_to(d) for d in dirs)

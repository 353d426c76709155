"""Keeping the index in step with the files: what changed (scan and compare), then writes in batches.

Unchanged documents cost nothing beyond one listing of the index. Changed documents are embedded in
batches (several short documents to a batch, a long one over several) so that embedding and Chroma work
in bulk; the files are read while a batch is embedded, and one writer thread stores each batch once its
vectors are in, so the embedder never waits for reading or storing. A document's version switches once all its
chunks are stored and its old chunks are deleted after that (qa.store.index), so readers see it whole, old or
new. Documents indexed from inside a given directory whose files are gone are removed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from contextlib import AbstractContextManager
from typing import Protocol, Self

import numpy as np
from langchain_core.embeddings import Embeddings

from qa.domain import Chunk
from qa.errors import CorpusError
from qa.settings import Settings
from qa.store.documents import Chunker, Document, DocumentError, read_document, source_name
from qa.store.readers import READERS
from qa.store.versions import StoredChunks, Version, Write

# Chunks are embedded and handed to the writer in batches of this many: each write has a fixed cost beyond its
# chunks (three Chroma calls, two tantivy commits), much of it while the embedder waits, so batches are large
# (docs/performance.md, "Figures behind the code's constants").
BATCH_CHUNKS = 1024
# The vectors of this many recently embedded texts are kept through an ingest: repeated boilerplate is embedded
# once, in bounded memory.
REMEMBERED_TEXTS = 10_000


@dataclass
class IngestProgress:
    """How far an ingest is: files looked at, chunks embedded, and the share of the input's bytes done.

    Chunks count once handed to the embedder, so they run at most one batch (BATCH_CHUNKS) ahead of those embedded."""

    files: int
    files_total: int
    chunks: int
    done: float  # 0..1, by bytes: a file's share advances as its chunks are embedded
    file: str


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


class Target(Protocol):
    """What an ingest needs of an index (qa.store.index.Index offers it): how it chunks and embeds, what it holds,
    and its versioned writes."""

    settings: Settings
    chunker: Chunker

    @property
    def embeddings(self) -> Embeddings: ...

    @property
    def version_name(self) -> str: ...

    def guard(self) -> AbstractContextManager: ...

    def live(self) -> dict[str, Version]: ...

    def stored(self, live: dict[str, Version]) -> StoredChunks: ...

    def write(self, write: Write, vectors: list) -> None: ...

    def path_of(self, source: str) -> Path: ...

    def remove(self, source: str) -> bool: ...


def ingest(index: Target, paths: Iterable[Path], progress: Callable[[IngestProgress], None] | None = None) -> IngestReport:
    """Bring the index in step with the given files and directories."""
    return Ingest(index, progress).run(paths)


class Ingest:
    """One ingest run over an index: `run(paths)` reads, compares with what is stored, writes what changed."""

    def __init__(self, index: Target, progress: Callable[[IngestProgress], None] | None = None):
        self.index = index
        self.corpus_dir = index.settings.corpus_dir
        self.progress = progress
        self.report = IngestReport()
        self._write = Write()
        self._writing: Future | None = None
        self._sizes: list[int] = []  # each file's bytes, when someone watches
        self._bytes_before, self._bytes_total = 0, 1  # bytes of the files before the one being read; of all
        self._file = 0  # the file being read
        self._file_chunks = (0, 0)  # the current file's chunks: embedded, in all
        self._embedded = 0

    def run(self, paths: Iterable[Path]) -> IngestReport:
        files, scanned = scan(paths)
        self._sizes = [max(_size(f), 1) for f in files] if self.progress else []
        self._bytes_total = max(sum(self._sizes), 1)
        live = self.index.live()
        stored = self.index.stored(live)
        seen: set[str] = set()
        with Embedder(self.index.embeddings) as self._embedder, ThreadPoolExecutor(1) as self._writer:
            for done, file in enumerate(files):
                self._next_file(done)
                self._report(file.name)
                if file.suffix.lower() not in READERS and file.parent.resolve() in scanned:
                    continue  # stray files in a corpus folder (README, images) are skipped, not errors
                try:
                    doc = read_document(file, self.corpus_dir)
                except DocumentError as e:
                    self.report.failed[source_name(file, self.corpus_dir)] = str(e)
                    continue
                seen.add(doc.source)
                self._compare(doc, stored, live.get(doc.source))
            self._flush()
            self._wait()
            self._next_file(len(files))
            self._report("")
        self._prune(stored.sources() | set(live), seen, scanned)
        return self.report

    def _compare(self, doc: Document, stored: StoredChunks, live: Version | None) -> None:
        """Plan the document's write: nothing new when its text and chunking are stored, else its chunks."""
        version = live or stored.of(doc.source).complete_version()
        if version is not None and version.same_as(doc.digest, self.index.version_name):
            # Same text, same chunking: nothing to embed; leftovers of an interrupted write go.
            self._write.finish(doc.source, version, stored.besides(doc.source, version), record=live is None)
            self.report.unchanged.append(doc.source)
            return
        old = stored.of(doc.source)
        chunks = distinct(self.index.chunker(doc))
        self._file_chunks = (0, len(chunks))
        new = Version(doc.digest, self.index.version_name, len(chunks), doc.title)
        (self.report.updated if old.ids else self.report.added).append(doc.source)
        self.report.chunks_written += len(chunks)
        # A long document spans several batches; its version is switched in the batch with its last chunk.
        for at in range(0, len(chunks), BATCH_CHUNKS):
            self._write.add(chunks[at : at + BATCH_CHUNKS], new)
            if at + BATCH_CHUNKS < len(chunks):
                self._flush()
        self._write.finish(doc.source, new, old.ids_except(new) - {c.id for c in chunks}, record=True)
        if len(self._write.chunks) >= BATCH_CHUNKS:
            self._flush()

    def _flush(self) -> None:
        """Start embedding the pending write, wait until the previous one is stored, and hand this one to the
        writer, which stores it once its vectors are in (the embedder works on while the next files are read)."""
        write, self._write = self._write, Write()
        if write.empty:
            return
        texts = [c.text for c in write.chunks]
        vectors = self._embedder.submit(texts) if texts else None
        self._wait()
        self._writing = self._writer.submit(self._store, write, vectors)
        self._embedded += len(write.chunks)
        embedded, total = self._file_chunks
        self._file_chunks = (min(total, embedded + len(write.chunks)), total)
        self._report(write.chunks[-1].source if write.chunks else "")

    def _store(self, write: Write, vectors: Future | None) -> None:
        self.index.write(write, vectors.result() if vectors is not None else [])

    def _next_file(self, number: int) -> None:
        if self.progress and number > 0:
            self._bytes_before += self._sizes[number - 1]
        self._file, self._file_chunks = number, (0, 0)

    def _report(self, name: str) -> None:
        if not self.progress:
            return
        embedded, total = self._file_chunks
        current = self._sizes[self._file] * embedded / total if self._file < len(self._sizes) and total else 0
        done = (self._bytes_before + current) / self._bytes_total
        self.progress(IngestProgress(self._file, len(self._sizes), self._embedded, min(done, 1.0), name))

    def _wait(self) -> None:
        if self._writing is not None:
            with self.index.guard():
                self._writing.result()

    def _prune(self, indexed: set[str], seen: set[str], scanned: list[Path]) -> None:
        """Remove documents indexed from a scanned directory whose files are gone."""
        for source in sorted(indexed):
            if source not in seen and source not in self.report.failed and _under_any(self.index.path_of(source), scanned):
                self.index.remove(source)
                self.report.removed.append(source)


class Embedder:
    """Embeds an ingest's batches one after another on a thread of its own, while the next files are read.

    Each distinct text is embedded once in an ingest (as long as it is among the last `remembered`):
    boilerplate repeats across documents (11% of the pydoc help texts' chunks repeat one in another file).
    """

    def __init__(self, embeddings: Embeddings, remembered: int = REMEMBERED_TEXTS):
        self.embeddings = embeddings
        self.remembered = remembered
        self._known: OrderedDict[str, np.ndarray] = OrderedDict()  # float32: a quarter of a list of floats
        self._thread = ThreadPoolExecutor(1)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.shutdown()

    def submit(self, texts: list[str]) -> Future[list[np.ndarray]]:
        """The texts' vectors, once the batches submitted before are embedded."""
        return self._thread.submit(self._embed, texts)

    def _embed(self, texts: list[str]) -> list[np.ndarray]:
        new = [t for t in dict.fromkeys(texts) if t not in self._known]
        if new:
            for text, vector in zip(new, self.embeddings.embed_documents(new)):
                self._known[text] = np.asarray(vector, dtype=np.float32)
        vectors = [self._known[t] for t in texts]
        for text in texts:
            self._known.move_to_end(text)
        while len(self._known) > self.remembered:
            self._known.popitem(last=False)
        return vectors


def scan(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """The files to read (a directory's own, not hidden ones) and the directories scanned, resolved."""
    files: list[Path] = []
    scanned: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            scanned.append(path.resolve())
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path)))
        elif path.is_file():
            files.append(path)
        else:
            raise CorpusError(f"{path}: no such file or directory")
    return files, scanned


def distinct(chunks: list[Chunk]) -> list[Chunk]:
    """The first chunk of each text in a document: repeats are left out of the index.

    Many identical vectors wreck HNSW search for everything else: with 20,000 copies of one vector
    beside 20 others, Chroma found none of the 20 by their own vectors (recall@10 0.0; 0.7 with
    ef_search 100). Repeated boilerplate, logs or a file of one line repeated do this; a repeat cites
    as well as its first copy.
    """
    seen: set[str] = set()
    return [c for c in chunks if not (c.text in seen or seen.add(c.text))]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # unreadable: read_document says why


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _under_any(path: Path, dirs: list[Path]) -> bool:
    return any(path.resolve().is_relative_to(d) for d in dirs)

"""Documents as plain text (read by qa.store.readers), their source names, and chunks whose spans map back exactly."""

from __future__ import annotations

import hashlib
import os
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

from langchain_text_splitters import RecursiveCharacterTextSplitter

from qa.domain import Chunk
from qa.errors import DocumentError
from qa.store.readers import MAX_FILE_BYTES, READERS, supported_suffixes

# Paragraphs first, then sentences, then words: chunks end on sentence boundaries whenever they fit.
_SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]



@dataclass(frozen=True)
class Document:
    """A source document as plain text: spans of its chunks index `text`."""

    source: str
    title: str
    text: str
    # Where each page begins in `text` (PDF pages, in order); empty for formats without pages.
    page_starts: tuple[int, ...] = ()

    @cached_property
    def digest(self) -> str:
        # Cached: every chunk's id includes it, and hashing a 50 MB text per chunk made ingest quadratic.
        return hashlib.sha256(self.text.encode()).hexdigest()

    def page_at(self, offset: int) -> int | None:
        """The page (from 1) that `text[offset]` is on; None for formats without pages."""
        return bisect_right(self.page_starts, offset) if self.page_starts else None

    def sections(self) -> list[tuple[int, int]]:
        """Spans no chunk crosses: each page, or the whole text."""
        starts = list(self.page_starts) or [0]
        return list(zip(starts, [*starts[1:], len(self.text)], strict=True))


def source_name(path: Path, root: Path | None = None) -> str:
    """How a file is named in the index: relative to the corpus folder `root` when inside it, else absolute.

    Never relative to the working directory, so every process names the same file the same way.
    """
    resolved = Path(path).resolve()
    if root is not None:
        # Lexically first: a file linked into the corpus folder (the packaged seed article) is named there.
        for inside, folder in ((Path(os.path.abspath(path)), Path(os.path.abspath(root))), (resolved, root.resolve())):
            if inside.is_relative_to(folder):
                return inside.relative_to(folder).as_posix()
    return resolved.as_posix()


def source_path(source: str, root: Path) -> Path:
    """The file a source name stands for (the inverse of `source_name`)."""
    return Path(source) if Path(source).is_absolute() else root / source


def read_document(path: Path, root: Path | None = None) -> Document:
    """Read a file of a supported type; raise DocumentError with a reason when it cannot be used.

    `root` is the corpus folder that the document's source name is relative to.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise DocumentError(f"{path}: unsupported file type {suffix or '(none)'}; use {', '.join(supported_suffixes())}")
    if not path.is_file():
        raise DocumentError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DocumentError(f"{path}: {size} bytes is over the {MAX_FILE_BYTES} byte limit")
    try:
        read = READERS[suffix].read(path)
    except DocumentError:
        raise
    except Exception as e:  # noqa: BLE001 - parsers of damaged files raise anything (lxml, zlib, recursion)
        detail = " ".join(str(e).split())[:200]
        raise DocumentError(f"{path}: unreadable {READERS[suffix].kind} ({type(e).__name__}: {detail})") from None
    if not read.text.strip():
        raise DocumentError(f"{path}: has no text" + (" (a scanned PDF needs OCR first)" if suffix == ".pdf" else ""))
    return Document(source_name(path, root), read.title or _title_from_name(path), read.text, read.page_starts)


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize()


class Chunker(Protocol):
    """Splits a document into chunks; `name` identifies the splitting, so a new one re-indexes."""

    name: str

    def __call__(self, doc: Document) -> list[Chunk]: ...


@dataclass(frozen=True)
class SentenceChunker:
    """Paragraphs, then sentences, packed up to `chunk_size` characters."""

    chunk_size: int

    @property
    def name(self) -> str:
        return f"sentences-{self.chunk_size}"

    def __call__(self, doc: Document) -> list[Chunk]:
        return chunk_document(doc, self.chunk_size)


@dataclass(frozen=True)
class ParagraphChunker:
    """One chunk per paragraph (blank-line separated): the naive baseline's splitting."""

    name: str = "paragraphs"

    def __call__(self, doc: Document) -> list[Chunk]:
        spans = [(m.start(), m.end()) for m in re.finditer(r"\S(?:.*?\S)?(?=\s*\n\s*\n|\s*$)", doc.text, re.S)]
        return [_chunk(doc, start, end) for start, end in spans]


def _chunk(doc: Document, start: int, end: int) -> Chunk:
    text = doc.text[start:end]
    # The digest keeps two versions of a document apart, so a new one is written beside the old one.
    chunk_id = hashlib.sha256(f"{doc.source}\0{doc.digest}\0{start}\0{text}".encode()).hexdigest()[:32]
    return Chunk(chunk_id, text, doc.source, doc.title, start, end, page=doc.page_at(start))


def chunk_document(doc: Document, chunk_size: int) -> list[Chunk]:
    """Split on paragraphs, then sentences, never across a page; every chunk satisfies `doc.text[start:end] == chunk.text`."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=0, separators=_SEPARATORS, keep_separator="end", strip_whitespace=True
    )
    chunks: list[Chunk] = []
    for first, last in doc.sections():
        spans: list[tuple[int, int]] = []
        cursor = first
        for piece in splitter.split_text(doc.text[first:last]):
            start = doc.text.find(piece, cursor, last)
            if start < 0:  # the splitter only strips and joins its own pieces, so this means a splitter change
                raise AssertionError(f"chunk not found in {doc.source} after offset {cursor}")
            cursor = start + len(piece)
            spans.append((start, cursor))
        chunks += [_chunk(doc, start, end) for start, end in _merge_short(spans, chunk_size // 4)]
    return chunks


def _merge_short(spans: list[tuple[int, int]], min_len: int) -> list[tuple[int, int]]:
    """Join spans shorter than `min_len` (headings, tag lines) to the span after them, or before if last.

    A heading alone is a poor passage: it wins retrieval on topic words and says nothing.
    """
    merged: list[tuple[int, int]] = []
    carry: int | None = None
    for start, end in spans:
        start = start if carry is None else carry
        if end - start < min_len:
            carry = start
            continue
        carry = None
        merged.append((start, end))
    if carry is not None:
        if merged:
            merged[-1] = (merged[-1][0], spans[-1][1])
        else:
            merged.append((carry, spans[-1][1]))
    return merged

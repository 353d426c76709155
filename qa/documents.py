"""Reading documents into plain text and splitting them into chunks whose spans map back exactly."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from langchain_text_splitters import RecursiveCharacterTextSplitter

from qa.domain import Chunk
from qa.errors import DocumentError

SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf", ".html", ".htm")
MAX_FILE_BYTES = 50 * 1024 * 1024
# Paragraphs first, then sentences, then words: chunks end on sentence boundaries whenever they fit.
_SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]



@dataclass(frozen=True)
class Document:
    """A source document as plain text: spans of its chunks index `text`."""

    source: str
    title: str
    text: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def source_name(path: Path, root: Path | None = None) -> str:
    """How a file is named in the index: relative to the corpus folder `root` when inside it, else absolute.

    Never relative to the working directory, so every process names the same file the same way.
    """
    resolved = Path(path).resolve()
    if root is not None and resolved.is_relative_to(root.resolve()):
        return resolved.relative_to(root.resolve()).as_posix()
    return resolved.as_posix()


def source_path(source: str, root: Path) -> Path:
    """The file a source name stands for (the inverse of `source_name`)."""
    return Path(source) if Path(source).is_absolute() else root / source


def read_document(path: Path, root: Path | None = None) -> Document:
    """Read a .txt, .md, .pdf or .html file; raise DocumentError with a reason when it cannot be used.

    `root` is the corpus folder that the document's source name is relative to.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"{path}: unsupported file type {suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}")
    if not path.is_file():
        raise DocumentError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DocumentError(f"{path}: {size} bytes is over the {MAX_FILE_BYTES} byte limit")
    data = path.read_bytes()
    if suffix == ".pdf":
        title, text = _read_pdf(path)
    else:
        if b"\x00" in data:
            raise DocumentError(f"{path}: looks binary (contains NUL bytes)")
        try:
            raw = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise DocumentError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        title, text = _read_html(raw) if suffix in (".html", ".htm") else (_markdown_title(raw), raw)
    if not text.strip():
        raise DocumentError(f"{path}: has no text")
    return Document(source=source_name(path, root), title=title or _title_from_name(path), text=text)


def _markdown_title(text: str) -> str | None:
    match = re.match(r"\s*#\s+(.+)", text)
    return match.group(1).strip() if match else None


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize()


def _read_html(raw: str) -> tuple[str | None, str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    if soup.title:
        soup.title.decompose()
    lines = [line.strip() for line in soup.get_text("\n").splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return title, text


def _read_pdf(path: Path) -> tuple[str | None, str]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except (PyPdfError, ValueError, OSError) as e:
        raise DocumentError(f"{path}: unreadable PDF ({e})") from None
    return title, "\n\n".join(p.strip() for p in pages if p.strip())


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
    return Chunk(chunk_id, text, doc.source, doc.title, start, end)


def chunk_document(doc: Document, chunk_size: int) -> list[Chunk]:
    """Split on paragraphs, then sentences; every chunk satisfies `doc.text[start:end] == chunk.text`."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=0, separators=_SEPARATORS, keep_separator="end", strip_whitespace=True
    )
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in splitter.split_text(doc.text):
        start = doc.text.find(piece, cursor)
        if start < 0:  # the splitter only strips and joins its own pieces, so this means a splitter change
            raise AssertionError(f"chunk not found in {doc.source} after offset {cursor}")
        cursor = start + len(piece)
        spans.append((start, cursor))
    return [_chunk(doc, start, end) for start, end in _merge_short(spans, chunk_size // 4)]


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

"""Reading documents into plain text and splitting them into chunks whose spans map back exactly."""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

from langchain_text_splitters import RecursiveCharacterTextSplitter

from qa.domain import Chunk
from qa.errors import DocumentError

MAX_FILE_BYTES = 50 * 1024 * 1024
# A .docx is a zip: its parts are read whole, so their unpacked size is bounded too (zip bombs).
MAX_UNPACKED_BYTES = 8 * MAX_FILE_BYTES
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


@dataclass(frozen=True)
class _Read:
    """What a reader gets out of a file: its title, if it names one, its text and its page starts."""

    title: str | None
    text: str
    page_starts: tuple[int, ...] = ()


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
        raise DocumentError(f"{path}: unsupported file type {suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}")
    if not path.is_file():
        raise DocumentError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DocumentError(f"{path}: {size} bytes is over the {MAX_FILE_BYTES} byte limit")
    try:
        read = READERS[suffix](path)
    except DocumentError:
        raise
    except Exception as e:  # noqa: BLE001 - parsers of damaged files raise anything (lxml, zlib, recursion)
        detail = " ".join(str(e).split())[:200]
        raise DocumentError(f"{path}: unreadable {_KINDS.get(suffix, suffix)} ({type(e).__name__}: {detail})") from None
    if not read.text.strip():
        raise DocumentError(f"{path}: has no text" + (" (a scanned PDF needs OCR first)" if suffix == ".pdf" else ""))
    return Document(source_name(path, root), read.title or _title_from_name(path), read.text, read.page_starts)


def _decoded(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data:
        raise DocumentError(f"{path}: looks binary (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DocumentError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def _read_text(path: Path) -> _Read:
    raw = _decoded(path)
    return _Read(_markdown_title(raw), raw)


def _markdown_title(text: str) -> str | None:
    match = re.match(r"\s*#\s+(.+)", text)
    return match.group(1).strip() if match else None


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize()


# Inline styles that hide an element: not displayed, invisible, zero-sized or transparent text, or far off-screen.
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|(?:font-size|opacity|max-height|height)\s*:\s*0(?:\.0*)?(?:px|em|rem|%)?\s*(?:;|$|!)"
    r"|(?:left|top|right|text-indent|margin-left)\s*:\s*-\d{4,}",
    re.I,
)


def _read_html(path: Path) -> _Read:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decoded(path), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    # Text a browser never shows is where instructions to an assistant get hidden: it is not the document.
    for tag in soup.find_all(lambda t: t.has_attr("hidden") or _HIDDEN_STYLE.search(t.get("style") or "")):
        if not tag.decomposed:
            tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    if soup.title:
        soup.title.decompose()
    lines = [line.strip() for line in soup.get_text("\n").splitlines()]
    return _Read(title, re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip())


def pdf_page_text(page) -> str:  # noqa: ANN001 - a pypdfium2 PdfPage
    """A PDF page's text, one character per PDFium character, so offsets are character indices on the page.

    PDFium ends lines with "\r\n" and marks hyphens with control characters; each becomes a space (the
    "\n" stays), so the text reads cleanly and keeps its length.
    """
    textpage = page.get_textpage()
    text = textpage.get_text_range()
    hidden = _hidden_characters(page, textpage, len(text))
    return "".join(c if c == "\n" or (c.isprintable() and i not in hidden) else " " for i, c in enumerate(text))


def _hidden_characters(page, textpage, count: int) -> set[int]:  # noqa: ANN001 - pypdfium2 page and text page
    """Characters drawn white, transparent or off the page: there, unseen, is where a PDF hides instructions.

    They become spaces (offsets stay put). White text on a dark box is lost too; invisible OCR text
    layers are kept (they are drawn in any colour with an invisible rendering mode, which is not read).
    """
    import ctypes

    import pypdfium2.raw as pdfium_c

    left, bottom, right, top = page.get_bbox()
    rgba = [ctypes.c_uint() for _ in range(4)]
    refs = [ctypes.byref(v) for v in rgba]

    def unseen(found: bool) -> bool:
        red, green, blue, alpha = (v.value for v in rgba)
        return found and (alpha == 0 or min(red, green, blue) >= 245)

    def off_page(x0: float, y0: float, x1: float, y1: float) -> bool:
        return x1 < left or x0 > right or y1 < bottom or y0 > top

    # Most pages hide nothing: one look per text object; characters are looked at only when one hides.
    objects = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT], max_depth=1)
    if not any(unseen(pdfium_c.FPDFPageObj_GetFillColor(o.raw, *refs)) or off_page(*o.get_bounds()) for o in objects):
        return set()
    box = [ctypes.c_double() for _ in range(4)]
    hidden = set()
    for i in range(count):
        if unseen(pdfium_c.FPDFText_GetFillColor(textpage.raw, i, *refs)):
            hidden.add(i)
        elif pdfium_c.FPDFText_GetCharBox(textpage.raw, i, *map(ctypes.byref, box)):
            x0, x1, y0, y1 = (v.value for v in box)  # PDFium gives left, right, bottom, top
            if off_page(x0, y0, x1, y1):
                hidden.add(i)
    return hidden


def _read_pdf(path: Path) -> _Read:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as e:
        if getattr(e, "err_code", None) == pdfium.raw.FPDF_ERR_PASSWORD:
            raise DocumentError(f"{path}: the PDF is password-protected; save an unprotected copy") from None
        raise DocumentError(f"{path}: unreadable PDF ({e})") from None
    try:
        pages = [pdf_page_text(page) for page in pdf]
        title = (pdf.get_metadata_dict().get("Title") or "").strip() or None
    except pdfium.PdfiumError as e:
        raise DocumentError(f"{path}: unreadable PDF ({e})") from None
    finally:
        pdf.close()
    starts, offset = [], 0
    for text in pages:
        starts.append(offset)
        offset += len(text) + 2
    return _Read(title, "\n\n".join(pages), tuple(starts))


def _visible(paragraph) -> str:  # noqa: ANN001 - a python-docx Paragraph
    """A Word paragraph's text without its hidden runs (Word's "hidden" font never shows or prints)."""
    runs = (run for item in paragraph.iter_inner_content() for run in getattr(item, "runs", [item]))
    return "".join(run.text for run in runs if not run.font.hidden)


def _read_docx(path: Path) -> _Read:
    """Paragraphs (and table cells) in order, blank-line separated; the title from the properties or a heading."""
    import docx
    from docx.table import Table

    with path.open("rb") as file:
        magic = file.read(4)
    if magic == b"\xd0\xcf\x11\xe0":  # an OLE container: Word keeps encrypted files in one
        raise DocumentError(f"{path}: the Word file is password-protected (or an old .doc); save an unprotected .docx")
    with zipfile.ZipFile(path) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > MAX_UNPACKED_BYTES:
        raise DocumentError(f"{path}: unpacks to {unpacked} bytes, over the {MAX_UNPACKED_BYTES} byte limit")
    document = docx.Document(str(path))
    paragraphs, title = [], (document.core_properties.title or "").strip() or None
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            cells = ["\n".join(_visible(p) for p in cell.paragraphs) for row in block.rows for cell in row.cells]
        else:
            cells = [_visible(block)]
        paragraphs += [text.strip() for text in cells if text.strip()]
        style = "" if isinstance(block, Table) else (block.style.name if block.style is not None else "")
        if title is None and (style == "Title" or style.startswith("Heading")) and block.text.strip():
            title = block.text.strip()
    return _Read(title, "\n\n".join(paragraphs))


# What an unreadable file is called in its one-line error.
_KINDS = {".pdf": "PDF", ".docx": "Word file", ".html": "HTML file", ".htm": "HTML file"}

# The registry of document readers: a file's suffix picks its reader.
READERS: dict[str, Callable[[Path], _Read]] = {
    ".txt": _read_text,
    ".md": _read_text,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}
SUPPORTED_SUFFIXES = tuple(READERS)


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

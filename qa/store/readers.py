"""Document readers, one per file type, in a registry keyed by suffix: each turns a file into plain text.

Text a reader never sees is not read: hidden HTML elements, hidden runs in Word files, PDF text drawn
white or off the page.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa.errors import DocumentError

MAX_FILE_BYTES = 50 * 1024 * 1024
# A .docx is a zip: its parts are read whole, so their unpacked size is bounded too (zip bombs).
MAX_UNPACKED_BYTES = 8 * MAX_FILE_BYTES

@dataclass(frozen=True)
class Extracted:
    """What a reader gets out of a file: its title, if it names one, its text and its page starts (PDFs)."""

    title: str | None
    text: str
    page_starts: tuple[int, ...] = ()


def _decoded(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data:
        raise DocumentError(f"{path}: looks binary (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DocumentError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def _read_text(path: Path) -> Extracted:
    raw = _decoded(path)
    return Extracted(_markdown_title(raw), raw)


def _markdown_title(text: str) -> str | None:
    match = re.match(r"\s*#\s+(.+)", text)
    return match.group(1).strip() if match else None


# Inline styles that hide an element: not displayed, invisible, zero-sized or transparent text, or far off-screen.
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|(?:font-size|opacity|max-height|height)\s*:\s*0(?:\.0*)?(?:px|em|rem|%)?\s*(?:;|$|!)"
    r"|(?:left|top|right|text-indent|margin-left)\s*:\s*-\d{4,}",
    re.I,
)


def _read_html(path: Path) -> Extracted:
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
    return Extracted(title, re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip())


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


def _read_pdf(path: Path) -> Extracted:
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
    return Extracted(title, "\n\n".join(pages), tuple(starts))


def _visible(paragraph) -> str:  # noqa: ANN001 - a python-docx Paragraph
    """A Word paragraph's text without its hidden runs (Word's "hidden" font never shows or prints)."""
    runs = (run for item in paragraph.iter_inner_content() for run in getattr(item, "runs", [item]))
    return "".join(run.text for run in runs if not run.font.hidden)


def _read_docx(path: Path) -> Extracted:
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
    return Extracted(title, "\n\n".join(paragraphs))


@dataclass(frozen=True)
class Reader:
    """How to read one kind of file, and what to call it in an error ("PDF", "Word file")."""

    read: Callable[[Path], Extracted]
    kind: str


# The registry of document readers: a file's suffix picks its reader. Adding a format is one entry.
READERS: dict[str, Reader] = {}


def register_reader(suffixes: tuple[str, ...], read: Callable[[Path], Extracted], kind: str) -> None:
    for suffix in suffixes:
        READERS[suffix.lower()] = Reader(read, kind)


def supported_suffixes() -> tuple[str, ...]:
    """The file suffixes some reader takes, e.g. ".pdf"."""
    return tuple(READERS)


register_reader((".txt", ".md"), _read_text, "text file")
register_reader((".html", ".htm"), _read_html, "HTML file")
register_reader((".pdf",), _read_pdf, "PDF")
register_reader((".docx",), _read_docx, "Word file")

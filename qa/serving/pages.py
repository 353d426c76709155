"""A cited PDF page as the reader sees it: the page rendered, the cited sentence's region highlighted."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

SCALE = 1.5  # 108 dpi: the page reads at the Sources panel's width and stays ~150 KB as PNG
HIGHLIGHT = (253, 224, 71, 120)  # the text view's <mark> colour, translucent over the page


def page_image(path: Path, page: int, start: int, end: int) -> bytes | None:
    """PNG of `page` (from 1) of the PDF at `path`, characters `start:end` of that page's text highlighted.

    Offsets are those of `qa.store.readers.pdf_page_text`, one per PDFium character. None when the file
    is gone or unreadable. Cached per file version, so a source card shown again costs nothing.
    """
    try:
        return _page_image(path, path.stat().st_mtime_ns, page, start, end)
    except OSError:
        return None


@lru_cache(maxsize=32)
def _page_image(path: Path, mtime_ns: int, page: int, start: int, end: int) -> bytes | None:
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError:
        return None
    try:
        if not 1 <= page <= len(pdf):
            return None
        sheet = pdf[page - 1]
        text = sheet.get_textpage()
        boxes = [text.get_rect(i) for i in range(text.count_rects(start, max(0, end - start)))]
        image = sheet.render(scale=SCALE).to_pil().convert("RGBA")
        height = sheet.get_height()
    finally:
        pdf.close()
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for left, bottom, right, top in boxes:  # PDF points, origin at the bottom left
        draw.rectangle([left * SCALE, (height - top) * SCALE, right * SCALE, (height - bottom) * SCALE], fill=HIGHLIGHT)
    out = io.BytesIO()
    Image.alpha_composite(image, overlay).convert("RGB").save(out, "PNG", optimize=True)
    return out.getvalue()

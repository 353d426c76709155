"""PDFs written by hand (Helvetica text, no PDF library): for the bench's PDF ingest and the tests."""

from __future__ import annotations


def make_pdf(pages: list[list[str | tuple[str, str, str]]], title: str | None = None) -> bytes:
    """A PDF with these lines on these pages (Helvetica 11 pt; characters outside Latin-1 become "?").

    A line given as (text, before, after) is drawn between those PDF operators: ("x", "1 1 1 rg", "0 0 0 rg")
    draws it white, ("x", "900 0 Td", "-900 0 Td") off the page (the tests hide text the ways documents do).
    """
    def literal(text: str) -> str:
        return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    n = len(pages)
    page_ids = [4 + 2 * i for i in range(n)]  # 1 catalog, 2 pages, 3 font, then a page and its content each
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join(f"{i} 0 R" for i in page_ids).encode(), n),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        step = min(16, 700 // max(1, len(lines)))  # every line on the page: text below it is hidden text
        ops = " ".join(_drawn(line, literal, step) for line in lines)
        stream = f"BT /F1 11 Tf 72 740 Td {ops} ET".encode("latin-1", "replace")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R /Resources << /Font << /F1 3 0 R >> >> >>"
            % (page_ids[i] + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info = b""
    if title:
        objects.append(b"<< /Title %s >>" % literal(title).encode("latin-1", "replace"))
        info = b" /Info %d 0 R" % len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


def _drawn(line: str | tuple[str, str, str], literal, step: int) -> str:  # noqa: ANN001 - the string escaper
    text, before, after = (line, "", "") if isinstance(line, str) else line
    return f"{before} {literal(text)} Tj {after} 0 -{step} Td"

"""Reading documents and chunking them: every chunk's span maps back to the exact source text."""

from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from qa.documents import MAX_FILE_BYTES, Document, chunk_document, read_document
from qa.errors import DocumentError

from conftest import ARTICLE


def test_article_chunks_map_back_to_the_source_exactly():
    doc = read_document(ARTICLE)
    chunks = chunk_document(doc, 320)
    assert len(chunks) >= 5
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
    assert any("continue until 2030" in c.text for c in chunks)


def test_markdown_title_comes_from_its_heading():
    assert read_document(ARTICLE).title == "Microsoft and OpenAI rework their partnership"


def test_chunks_end_on_sentence_boundaries_when_they_can():
    doc = read_document(ARTICLE)
    for chunk in chunk_document(doc, 320):
        assert chunk.text.rstrip()[-1] in ".!?" or chunk.end == len(doc.text.rstrip()), chunk.text


def test_chunk_ids_are_stable_and_depend_on_content():
    doc = Document("a.txt", "A", "One sentence here. Another one there.")
    first = [c.id for c in chunk_document(doc, 60)]
    assert first == [c.id for c in chunk_document(doc, 60)]
    changed = Document("a.txt", "A", "One sentence here. Another one changed.")
    assert first != [c.id for c in chunk_document(changed, 60)]


def test_html_gives_its_title_and_visible_text(tmp_path: Path):
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Quarterly note</title><script>var x = 1;</script></head>"
        "<body><h1>Results</h1><p>Revenue grew by 12 percent.</p></body></html>"
    )
    doc = read_document(page)
    assert doc.title == "Quarterly note"
    assert "Revenue grew by 12 percent." in doc.text
    assert "var x" not in doc.text


def test_pdf_text_is_extracted(tmp_path: Path):
    pdf = tmp_path / "note.pdf"
    pdf.write_bytes(_tiny_pdf("The warehouse opened in 1998."))
    assert "The warehouse opened in 1998." in read_document(pdf).text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "has no text"),
        ("blank.md", b"  \n\t\n", "has no text"),
        ("binary.txt", b"\x00\x01\x02abc", "binary"),
        ("latin1.txt", "caf\u00e9".encode("latin-1"), "not UTF-8"),
        ("image.png", b"\x89PNG", "unsupported file type"),
    ],
)
def test_unusable_files_raise_a_clear_error(tmp_path: Path, name: str, content: bytes, reason: str):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=reason):
        read_document(path)


_text = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=80),
        st.sampled_from([". ", "\n\n", "\n", "? ", "  ", "# Title\n"]),
    ),
    min_size=1,
    max_size=40,
).map("".join)


@hsettings(max_examples=200, deadline=None)
@given(text=_text, size=st.integers(min_value=50, max_value=400))
def test_any_text_chunks_map_back_and_cover_every_word(text: str, size: int):
    doc = Document("x.txt", "X", text)
    chunks = chunk_document(doc, size)
    covered = [False] * len(text)
    previous_end = 0
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.start >= previous_end
        previous_end = chunk.end
        for i in range(chunk.start, chunk.end):
            covered[i] = True
    # Only whitespace may fall between chunks.
    assert all(covered[i] or text[i].isspace() for i in range(len(text)))


def _tiny_pdf(line: str) -> bytes:
    """A one-page PDF with one line of text, built by hand so the test needs no PDF writer."""
    stream = f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path):
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no 50 MB written to disk
    with pytest.raises(DocumentError, match="byte limit"):
        read_document(huge)

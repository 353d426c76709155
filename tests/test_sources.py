"""The Sources panel and the chat bubble: a PDF citation shows its page highlighted; each [n] links to its card."""

import base64
import io

from conftest import make_pdf
from PIL import Image

from qa.domain import Answer, Citation, Sentence
from qa.serving.sources import answer_markdown, render_sources
from qa.store.documents import read_document

PAGES = [["Cover page."], ["The bridge opened in 1932. It has eight lanes."]]


def _answer(corpus) -> Answer:
    (corpus / "report.pdf").write_bytes(make_pdf(PAGES, "Bridge report"))
    text = "The bridge opened in 1932. It has eight lanes."
    start = read_document(corpus / "report.pdf").text.index(text)
    citation = Citation(1, "id1", text, "report.pdf", "Bridge report", start, start + len(text), page=2)
    sentence = Sentence("It opened in 1932 [1].", (1,), 0.97)
    return Answer("When did the bridge open?", sentence.text, [citation], [], False, {}, [sentence], [], 0.8)


def test_a_pdf_citation_shows_its_page_with_the_cited_sentence_highlighted(tmp_path):
    html = render_sources(_answer(tmp_path), tmp_path)
    assert "p. 2, characters" in html and "Cited for:<ul><li>It opened in 1932.</li>" in html
    assert "<mark class='qa-cited'>The bridge opened in 1932.</mark>" in html
    data = html.split("data:image/png;base64,")[1].split("'")[0]
    page = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    pixels = page.tobytes()
    highlighted = sum(1 for i in range(0, len(pixels), 3) if pixels[i] - pixels[i + 2] > 60)  # yellow, not grey
    assert highlighted > 500, highlighted
    assert "qa-page-toggle" in html  # the control that shows the page larger


def test_the_text_view_comes_first_and_the_page_only_when_asked(tmp_path):
    assert "data:image/png" not in render_sources(_answer(tmp_path), tmp_path, pages=False)


def test_a_page_that_cannot_be_read_leaves_the_text_view(tmp_path):
    answer = _answer(tmp_path)
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4 damaged")
    html = render_sources(answer, tmp_path)
    assert "data:image/png" not in html and "<mark class='qa-cited'>" in html


def test_each_marker_in_the_bubble_links_to_its_card_and_shows_the_cited_sentence(tmp_path):
    text = answer_markdown(_answer(tmp_path), threshold=0.5)
    assert "<a class='qa-ref' href='#qa-src-1' title='The bridge opened in 1932.'>[1]</a>" in text
    assert text.endswith("*confidence 0.80*")

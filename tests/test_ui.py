"""The Gradio UI against a live server started here: a real client, a real browser (a crowd of users: test_crowd.py)."""

from __future__ import annotations

import json
import socket
import time

import gradio as gr
import pytest
from conftest import HARBOUR_PAGES, ROOT, make_docx, make_pdf
from gradio_client import Client
from live_server import last_text, running_server

from qa.errors import IndexStoreError
from qa.serving.corpus import safe_filename
from qa.serving.ui import _corpus_errors_shown

pytestmark = pytest.mark.slow  # headless Chromium against the Gradio app on the real models

ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`qa serve` on a scratch corpus and index; yields its URL and folders."""
    with running_server(tmp_path_factory.mktemp("ui")) as live:
        yield {"url": live.url, "home": live.home, "corpus": live.corpus}


def test_the_server_listens_on_loopback_only(server):
    port = int(server["url"].rsplit(":", 1)[1].strip("/"))
    outward = socket.gethostbyname(socket.gethostname())
    if outward.startswith("127."):
        pytest.skip("this machine has no non-loopback address to try")
    with pytest.raises(OSError):
        socket.create_connection((outward, port), timeout=2)


def test_a_client_gets_the_cited_answer_and_its_source(server):
    client = Client(server["url"], verbose=False)
    history, sources, _ = client.predict("Until when will the core partnership continue?", [], 4, "drop", api_name="/ask")
    assert "2030" in last_text(history) and "[1]" in last_text(history)
    assert "qa-cited" in sources and "continue until 2030" in sources
    assert "microsoft-openai-partnership.md" in sources


def test_a_client_sees_refusals_as_refusals(server):
    client = Client(server["url"], verbose=False)
    history, sources, _ = client.predict("Who is the CEO of Nvidia?", [], 4, "drop", api_name="/ask")
    assert "cannot answer" in last_text(history)
    assert "Refused" in sources


def test_uploaded_file_names_cannot_escape_the_corpus():
    assert safe_filename("../../etc/passwd.txt") == "passwd.txt"
    assert safe_filename("..\\..\\evil.md") == "evil.md"
    assert safe_filename(".hidden.txt") == "hidden.txt"
    assert safe_filename("a b/c;rm -rf.html") == "c_rm_-rf.html"


def test_a_failing_corpus_action_shows_why_and_leaves_the_tables_alone():
    def reindex():
        raise IndexStoreError("the index at .qa/index cannot be used (disk I/O error): writing to the disk failed")

    status, table, choices = _corpus_errors_shown(reindex)()
    assert status.startswith("❌ the index at .qa/index cannot be used")
    assert isinstance(table, type(gr.skip())) and isinstance(choices, type(gr.skip()))


def ask_in_browser(page, question: str, expect: str) -> None:
    page.locator("#qa-question textarea").fill(question)
    page.locator("#qa-ask").click()
    # The final answer carries the judge's mark; wait for it, not for the draft that streams first.
    page.locator("#qa-chat .message.bot").last.filter(has_text=expect).filter(has_text="✓").wait_for(timeout=180_000)


def test_browser_chat_stream_sources_followup_and_upload(server, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server["url"], wait_until="domcontentloaded")
    page.locator("#qa-question textarea").wait_for(timeout=60_000)

    # Ask; text appears while the model is still generating (streaming), then the final answer. The page
    # records every text its answer shows: polling from here could miss them while the model holds both cores.
    page.evaluate(
        """() => { window.qaSeen = [];
        new MutationObserver(() => {
          const bots = document.querySelectorAll('#qa-chat .message.bot');
          const text = bots.length ? bots[bots.length - 1].innerText : '';
          if (text && window.qaSeen[window.qaSeen.length - 1] !== text) window.qaSeen.push(text);
        }).observe(document.querySelector('#qa-chat'), {subtree: true, childList: true, characterData: true}); }"""
    )
    page.locator("#qa-question textarea").fill("Until when will the core partnership continue?")
    page.locator("#qa-ask").click()
    page.locator("#qa-chat .message.bot").last.filter(has_text="✓").wait_for(timeout=180_000)
    seen = page.evaluate("window.qaSeen")
    page.screenshot(path=str(ARTIFACTS / "ui-answer.png"), full_page=True)
    assert "2030" in seen[-1] and "✓" in seen[-1]
    drafts = {text for text in seen if text.strip() and "✓" not in text}
    assert len(drafts) >= 2, f"the answer did not stream: {seen[:5]}"

    # Open the source: the cited sentence is highlighted inside its surrounding text.
    source = page.locator("#qa-sources #qa-src-1")
    source.locator("summary").click()
    assert source.get_attribute("open") is None
    source.locator("summary").click()
    assert source.get_attribute("open") is not None
    highlighted = source.locator("mark.qa-cited")
    assert "continue until 2030" in highlighted.inner_text()
    assert source.locator(".qa-around").first.inner_text().strip() != ""
    page.screenshot(path=str(ARTIFACTS / "ui-source.png"), full_page=True)

    # A follow-up that only makes sense with the conversation.
    ask_in_browser(page, "And what does it include?", "intellectual property")
    page.screenshot(path=str(ARTIFACTS / "ui-followup.png"), full_page=True)

    # Like the answer: the feedback file gets the question as rewritten, the answer and its citations.
    page.get_by_label("Like").last.click()
    feedback = server["home"] / "feedback.jsonl"
    deadline = time.time() + 30
    while not (feedback.is_file() and feedback.read_text().endswith("\n")) and time.time() < deadline:
        time.sleep(0.2)  # the file appears a moment before its line is written
    record = json.loads(feedback.read_text().splitlines()[-1])
    assert record["liked"] is True and "intellectual property" in record["answer"] and record["citations"]

    # A broad question: the main points as a list, each point a quote with its own citation and mark.
    page.locator("#qa-clear").click()
    ask_in_browser(page, "What are the main points of the article?", "2030")
    points = page.locator("#qa-chat .message.bot").last.locator("li")
    assert points.count() == 5
    for i in range(5):
        assert "✓" in points.nth(i).inner_text() and points.nth(i).locator("a.qa-ref").count() == 1
    assert page.locator("#qa-sources details.qa-source").count() == 5
    page.screenshot(path=str(ARTIFACTS / "ui-overview.png"), full_page=True)

    # Upload a small document, then ask about it.
    note = server["home"] / "lisbon-office.txt"
    note.write_text("Northwind Logistics will move its headquarters to Lisbon in March 2027. The move was approved by the board.")
    page.get_by_role("tab", name="Corpus").click()
    page.locator("#qa-upload input[type=file]").set_input_files(str(note))
    page.locator("#qa-add").click()
    page.locator("#qa-corpus-status").filter(has_text="added").wait_for(timeout=120_000)
    assert (server["corpus"] / "lisbon-office.txt").is_file()
    page.locator("#qa-docs").filter(has_text="lisbon-office.txt").wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "ui-corpus.png"), full_page=True)
    page.get_by_role("tab", name="Chat").click()
    page.locator("#qa-clear").click()
    ask_in_browser(page, "Where will Northwind Logistics move its headquarters?", "Lisbon")
    assert "lisbon-office.txt" in page.locator("#qa-sources").inner_text()
    assert "Lisbon" in page.locator("#qa-sources mark.qa-cited").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "ui-upload-answer.png"), full_page=True)

    # Bad input is shown on the page as a message, never as a traceback, and the page keeps working.
    page.locator("#qa-question textarea").fill("why " * 600)
    page.locator("#qa-ask").click()
    page.locator("#qa-chat .message.bot", has_text="the limit is 2000").wait_for(timeout=60_000)
    binary = server["home"] / "scan.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    page.get_by_role("tab", name="Corpus").click()
    page.locator("#qa-upload input[type=file]").set_input_files(str(binary))
    page.locator("#qa-add").click()
    status = page.locator("#qa-corpus-status", has_text="❌")
    status.wait_for(timeout=60_000)
    assert "scan.txt" in status.inner_text() and "Traceback" not in page.content()
    page.screenshot(path=str(ARTIFACTS / "ui-errors.png"), full_page=True)
    assert "scan.txt" not in page.locator("#qa-docs").inner_text()


def test_browser_pdf_page_highlight_clickable_citation_docx_and_damaged_pdf(server, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    home = server["home"]
    pdf = home / "harbour-report.pdf"
    pdf.write_bytes(make_pdf(HARBOUR_PAGES, "Harbour Works report"))
    word = make_docx(home / "ferry.docx", None, ["The ferry terminal was designed by Ada Morland.", "It opened in 1961."], "Ferry terminal")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server["url"], wait_until="domcontentloaded")
    page.locator("#qa-question textarea").wait_for(timeout=60_000)

    page.get_by_role("tab", name="Corpus").click()
    page.locator("#qa-upload input[type=file]").set_input_files([str(pdf), str(word)])
    page.locator("#qa-add").click()
    page.locator("#qa-docs").filter(has_text="harbour-report.pdf").filter(has_text="ferry.docx").wait_for(timeout=120_000)

    # A PDF answer: the Sources card shows page 2 as an image with the cited sentence highlighted.
    page.get_by_role("tab", name="Chat").click()
    ask_in_browser(page, "When did the Harbour Bridge open to traffic?", "1932")
    card = page.locator("#qa-sources .qa-source", has_text="harbour-report.pdf").first
    image = card.locator("img.qa-page-image")
    image.wait_for(timeout=60_000)
    heading = card.locator(":scope > summary")
    assert "p. 2" in heading.inner_text()
    assert page.evaluate("(img) => img.naturalWidth", image.element_handle()) > 500
    narrow = image.bounding_box()["width"]
    card.locator(".qa-page-toggle summary").click()  # "open larger"
    assert image.bounding_box()["width"] > narrow
    page.screenshot(path=str(ARTIFACTS / "ui-pdf-page.png"), full_page=True)

    # [n] in the bubble opens and scrolls to its card; hovering it shows the cited sentence.
    number = card.get_attribute("id").removeprefix("qa-src-")
    heading.click()
    assert card.get_attribute("open") is None
    link = page.locator(f"#qa-chat .message.bot a.qa-ref[href='#qa-src-{number}']").last
    assert "1932" in link.get_attribute("title")
    link.click()
    page.wait_for_function(f"document.getElementById('qa-src-{number}').open === true", timeout=10_000)
    assert len(page.context.pages) == 1  # no new tab
    page.screenshot(path=str(ARTIFACTS / "ui-citation-click.png"), full_page=True)

    # A Word file answers with a citation.
    ask_in_browser(page, "Who designed the ferry terminal?", "Ada Morland")
    assert "ferry.docx" in page.locator("#qa-sources").inner_text()

    # A damaged PDF: one line on the page, nothing else lost.
    broken = home / "broken.pdf"
    broken.write_bytes(make_pdf([["cut short"]])[:80])
    page.get_by_role("tab", name="Corpus").click()
    page.locator("#qa-upload input[type=file]").set_input_files(str(broken))
    page.locator("#qa-add").click()
    status = page.locator("#qa-corpus-status", has_text="❌")
    status.wait_for(timeout=60_000)
    assert "broken.pdf" in status.inner_text() and "unreadable PDF" in status.inner_text()
    assert "Traceback" not in page.content() and "harbour-report.pdf" in page.locator("#qa-docs").inner_text()
    page.screenshot(path=str(ARTIFACTS / "ui-damaged-pdf.png"), full_page=True)

"""Showing a citation in context: the cited passage inside its document, the cited sentence highlighted."""

from __future__ import annotations

import base64
import html
import re
from functools import lru_cache
from pathlib import Path

from qa.answering.citations import cited_numbers
from qa.domain import Answer, Citation
from qa.errors import DocumentError
from qa.serving.pages import page_image
from qa.store.documents import Document, read_document, source_path
from qa.text import MARKER, SENTENCE, terms, without_markers

CONTEXT_CHARS = 280


@lru_cache(maxsize=64)
def _document(path: Path, mtime_ns: int) -> Document:
    return read_document(path)


def document(path: Path) -> Document | None:
    """The document as indexed (the text spans index into, its pages), or None when gone or unreadable."""
    try:
        return _document(path, path.stat().st_mtime_ns)
    except (OSError, DocumentError):
        return None


def cited_sentence(citation: Citation, claims: list[str]) -> tuple[int, int]:
    """Offsets, within the passage, of its sentence that shares most words with the claims citing it."""
    words = set(terms(" ".join(claims)))
    best, best_overlap = (0, len(citation.text)), -1
    for match in SENTENCE.finditer(citation.text):
        overlap = len(words & set(terms(match.group(0))))
        if overlap > best_overlap and match.group(0).strip():
            best, best_overlap = (match.start(), match.end()), overlap
    return best


def render_sources(answer: Answer, corpus_dir: Path, pages: bool = True) -> str:
    """HTML for the sources panel: one openable card per citation, a PDF's cited page shown when `pages`."""
    if answer.refused:
        note = "<p class='qa-refused'>Refused: no passage in the documents answers this.</p>"
        if answer.dropped and answer.confidence is not None:
            note += (
                f"<p class='qa-confidence'>The drafted answer was held back at confidence {answer.confidence:.2f}: "
                + "".join(f"<br><s>{html.escape(s.text)}</s>" for s in answer.dropped) + "</p>"
            )
        return note + _passages_list(answer)
    return "".join(_card(answer, c, corpus_dir, pages) for c in answer.citations) + _dropped_list(answer)


def _claims(answer: Answer, citation: Citation) -> list[str]:
    return [s.text for s in answer.sentences if citation.number in s.cited] or [answer.text]


def _card(answer: Answer, c: Citation, corpus_dir: Path, pages: bool) -> str:
    claims = _claims(answer, c)
    a, b = cited_sentence(c, claims)
    passage = html.escape(c.text[:a]) + f"<mark class='qa-cited'>{html.escape(c.text[a:b])}</mark>" + html.escape(c.text[b:])
    path = source_path(c.source, corpus_dir)
    doc = document(path)
    before = after = page = ""
    if doc is not None and doc.text[c.start : c.end] == c.text:
        before = html.escape(doc.text[max(0, c.start - CONTEXT_CHARS) : c.start])
        after = html.escape(doc.text[c.end : c.end + CONTEXT_CHARS])
        if pages and c.page is not None:
            page = _page_view(path, doc, c, c.start + a, c.start + b)
    cited_for = "".join(f"<li>{html.escape(without_markers(claim))}</li>" for claim in claims)
    where = f"p. {c.page}, characters {c.start}–{c.end}" if c.page is not None else f"characters {c.start}–{c.end}"
    return (
        f"<details class='qa-source' id='qa-src-{c.number}' open><summary>[{c.number}] <b>{html.escape(c.title)}</b> "
        f"<small>{html.escape(c.source)}, {where}</small></summary>"
        f"<div class='qa-cited-for'>Cited for:<ul>{cited_for}</ul></div>{page}"
        f"<div class='qa-context'><span class='qa-around'>…{before}</span>"
        f"<span class='qa-passage'>{passage}</span><span class='qa-around'>{after}…</span></div></details>"
    )


def _page_view(path: Path, doc: Document, c: Citation, start: int, end: int) -> str:
    """The cited page as an image with the cited sentence highlighted; a toggle shows it at full width."""
    first = doc.page_starts[c.page - 1]
    png = page_image(path, c.page, start - first, end - first)
    if png is None:
        return ""
    data = base64.b64encode(png).decode()
    return (
        f"<div class='qa-page'><details class='qa-page-toggle'><summary>Page {c.page}: open larger</summary></details>"
        f"<img class='qa-page-image' src='data:image/png;base64,{data}' "
        f"alt='Page {c.page} of {html.escape(c.title)}, the cited sentence highlighted'></div>"
    )


def _dropped_list(answer: Answer) -> str:
    dropped = "".join(f"<li>{html.escape(s.text)}</li>" for s in answer.dropped)
    return f"<p>Removed as unsupported by its passage:</p><ul class='qa-dropped'>{dropped}</ul>" if dropped else ""


def _passages_list(answer: Answer) -> str:
    if not answer.passages:
        return "<p>No passage was close enough to the question.</p>"
    items = "".join(f"<li>{html.escape(p.text[:200])} <small>({p.score:.2f})</small></li>" for p in answer.passages)
    return f"<details><summary>Passages retrieved</summary><ul>{items}</ul></details>"


def answer_markdown(answer: Answer, threshold: float) -> str:
    """The answer for the chat window: a support mark after each sentence the judge scored, then the confidence.

    Each `[n]` links to its source card (the page script opens and scrolls to it) and shows, on hover,
    the sentence of the passage it cites.
    """
    if answer.refused:
        return f"⚠ {answer.text}"
    if not answer.sentences or any(s.support is None for s in answer.sentences):
        text = answer.text
    else:
        text = _marked(answer, threshold)
    text = _linked_markers(answer, text)
    return text if answer.confidence is None else f"{text}\n\n*confidence {answer.confidence:.2f}*"


def _marked(answer: Answer, threshold: float) -> str:
    """The answer's text with each sentence's mark after it, keeping its layout (an overview's bullets)."""
    marks = [f"{s.text} {'✓' if s.support >= threshold else '⚠ unsupported'}" for s in answer.sentences]
    text, at = answer.text, 0
    for sentence, marked in zip(answer.sentences, marks):
        found = text.find(sentence.text, at)
        if found < 0:  # the text was re-spelt after checking: the sentences, marked, are the answer
            return " ".join(marks)
        text = text[:found] + marked + text[found + len(sentence.text) :]
        at = found + len(marked)
    return text


def _linked_markers(answer: Answer, text: str) -> str:
    hover = {}
    for c in answer.citations:
        a, b = cited_sentence(c, _claims(answer, c))
        hover[c.number] = html.escape(" ".join(c.text[a:b].split()), quote=True)

    def link(match: re.Match) -> str:
        return "".join(
            f"<a class='qa-ref' href='#qa-src-{n}' title='{hover[n]}'>[{n}]</a>" if n in hover else f"[{n}]"
            for n in cited_numbers(match.group(0))
        )

    return MARKER.sub(link, text)

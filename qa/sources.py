"""Showing a citation in context: the cited passage inside its document, the cited sentence highlighted."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path

from qa.documents import read_document, source_path
from qa.domain import Answer, Citation
from qa.errors import DocumentError
from qa.text import terms

CONTEXT_CHARS = 280
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")


@lru_cache(maxsize=64)
def _document_text(path: Path, mtime_ns: int) -> str:
    return read_document(path).text


def document_text(path: Path) -> str | None:
    """The text that spans index into, or None when the file is gone or unreadable."""
    try:
        return _document_text(path, path.stat().st_mtime_ns)
    except (OSError, DocumentError):
        return None


def cited_sentence(citation: Citation, claims: list[str]) -> tuple[int, int]:
    """Offsets, within the passage, of its sentence that shares most words with the claims citing it."""
    words = set(terms(" ".join(claims)))
    best, best_overlap = (0, len(citation.text)), -1
    for match in _SENTENCE.finditer(citation.text):
        overlap = len(words & set(terms(match.group(0))))
        if overlap > best_overlap and match.group(0).strip():
            best, best_overlap = (match.start(), match.end()), overlap
    return best


def render_sources(answer: Answer, corpus_dir: Path) -> str:
    """HTML for the sources panel: one openable card per citation."""
    if answer.refused:
        note = "<p class='qa-refused'>Refused: no passage in the documents answers this.</p>"
        if answer.dropped and answer.confidence is not None:
            note += (
                f"<p class='qa-confidence'>The drafted answer was held back at confidence {answer.confidence:.2f}: "
                + "".join(f"<br><s>{html.escape(s.text)}</s>" for s in answer.dropped) + "</p>"
            )
        return note + _passages_list(answer)
    cards = []
    for c in answer.citations:
        claims = [s.text for s in answer.sentences if c.number in s.cited] or [answer.text]
        a, b = cited_sentence(c, claims)
        passage = (
            html.escape(c.text[:a]) + f"<mark class='qa-cited'>{html.escape(c.text[a:b])}</mark>" + html.escape(c.text[b:])
        )
        text = document_text(source_path(c.source, corpus_dir))
        before = after = ""
        if text is not None and text[c.start : c.end] == c.text:
            before = html.escape(text[max(0, c.start - CONTEXT_CHARS) : c.start])
            after = html.escape(text[c.end : c.end + CONTEXT_CHARS])
        cards.append(
            f"<details class='qa-source' id='qa-src-{c.number}' open><summary>[{c.number}] <b>{html.escape(c.title)}</b> "
            f"<small>{html.escape(c.source)}, characters {c.start}–{c.end}</small></summary>"
            f"<div class='qa-context'><span class='qa-around'>…{before}</span>"
            f"<span class='qa-passage'>{passage}</span><span class='qa-around'>{after}…</span></div></details>"
        )
    dropped = "".join(f"<li>{html.escape(s.text)}</li>" for s in answer.dropped)
    if dropped:
        cards.append(f"<p>Removed as unsupported by its passage:</p><ul class='qa-dropped'>{dropped}</ul>")
    return "".join(cards)


def _passages_list(answer: Answer) -> str:
    if not answer.passages:
        return "<p>No passage was close enough to the question.</p>"
    items = "".join(f"<li>{html.escape(p.text[:200])} <small>({p.score:.2f})</small></li>" for p in answer.passages)
    return f"<details><summary>Passages retrieved</summary><ul>{items}</ul></details>"


def answer_markdown(answer: Answer, threshold: float) -> str:
    """The answer for the chat window: a support mark after each sentence the judge scored, then the confidence."""
    if answer.refused:
        return f"⚠ {answer.text}"
    if not answer.sentences or any(s.support is None for s in answer.sentences):
        return answer.text
    text = " ".join(f"{s.text} {'✓' if s.support >= threshold else '⚠ unsupported'}" for s in answer.sentences)
    return text if answer.confidence is None else f"{text}\n\n*confidence {answer.confidence:.2f}*"

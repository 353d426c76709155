"""Answers and passages as other programs read them (the HTTP API, the MCP tools): a checked answer's text, whether
it is a refusal, its confidence and each citation with its document, span, page, passage and support; a passage
found by search with its span and score."""

from __future__ import annotations

from qa.domain import Answer, Passage


def cited(answer: Answer) -> dict:
    """What the checks found; a citation's support is the lowest of the sentences that cite it."""
    support = answer.support_by_citation()
    return {
        "text": answer.text,
        "refused": answer.refused,
        "confidence": answer.confidence,
        "citations": [
            {
                "number": c.number, "document": c.source, "title": c.title, "start": c.start, "end": c.end,
                "page": c.page, "text": c.text, "support": support.get(c.number),
            }
            for c in answer.citations
        ],
        "dropped": [s.text for s in answer.dropped],
    }


def found(passage: Passage) -> dict:
    """A passage retrieval returned: its text, document, span, page and retrieval score."""
    return {
        "id": passage.id, "text": passage.text, "document": passage.source, "title": passage.title,
        "start": passage.start, "end": passage.end, "page": passage.page, "score": passage.score,
    }

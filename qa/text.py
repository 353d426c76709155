"""Words as every part reads them: terms, words, citation markers, sentences, and the "why" question that
both retrieval and the checks treat apart.

The rules of one check live beside it: facts (names, numbers, times) in qa.answering.facts, what a question
asks for in qa.answering.asked, broad questions in qa.answering.overview, instructions hidden in documents in
qa.answering.injection, copies in qa.answering.judge, refusals in qa.answering.citations. Each has a table of
cases in tests/test_text.py.
"""

from __future__ import annotations

import re

STOP_WORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was were will with "
    "which who what when where why how does do did can could would should not no yes".split()
)
# A citation marker: [1], [1, 2], [1; 3].
MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")


def without_markers(text: str) -> str:
    """The text with its `[n]` markers taken out: "It opened in 1932 [1]." reads "It opened in 1932."."""
    return re.sub(r"\s+(?=[.,;:!?]|$)", "", MARKER.sub("", text)).strip()


def terms(text: str) -> list[str]:
    """Lower-cased words minus stop words and `[n]` markers, cut to five letters so "invest" meets "investor"."""
    return [w[:5] for w in re.findall(r"[a-z0-9$]+", MARKER.sub("", text).lower()) if w not in STOP_WORDS]


def normalized(text: str) -> str:
    """Lower case, straight apostrophes, single spaces: the form texts are compared in."""
    return re.sub(r"\s+", " ", text.replace("\u2019", "'")).lower()


def words(text: str) -> list[str]:
    """Lower-cased words and numbers, in order."""
    return re.findall(r"[^\W_]+", normalized(text))


# A document's sentence: a stretch up to an end mark (with its closing quotes) that a space or the end
# follows, or up to a line break: "3.5" or "qa.example.com" inside a sentence does not end it, an abbreviation
# before a space does ("U.S. share"). Leading spaces included.
SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?]+(?![\"'”’)\]]*(?:\s|$)))+(?:[.!?]+[\"'”’)\]]*)?")

# A question asking for a reason: its answer is rarely in the passage that restates it.
ASKS_WHY = re.compile(r"^\s*why\b|\bwhat\s+(?:is|was|are|were)\s+the\s+(?:\w+\s+)?(?:reasons?|causes?)\b|\bfor what reason\b", re.I)

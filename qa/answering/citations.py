"""Turning `[n]` markers in generated text into citations, and spotting refusals."""

from __future__ import annotations

import re

from qa.answering.prompts import REFUSAL
from qa.domain import Citation, Passage
from qa.text import MARKER as _MARKER
from qa.text import terms

# [1], [1, 2], [1][2], and the "passage 1" / "Passage [1]" forms small models drift into.
_VERBOSE_REFERENCE = re.compile(r",?\s*\(?\b(?:as )?(?:stated|mentioned|according to|see|from) (?:in )?passages?\s*", re.I)
_LEADING_MARKERS = re.compile(r"(?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(\[])")
# A full stop that ends an abbreviation or an initial, not a sentence: "the U.S. National Science Foundation",
# "John F. Kennedy", "Dr. Smith". Split there, a sentence loses its subject and gets a citation of its own. A
# sentence that does end on one ("… in the U.S.", "plan B.") is judged joined to the next: nothing is dropped.
# Documents are split by qa.text.SENTENCE, which still ends a sentence there (the overview quotes such pieces).
_ABBREVIATION_END = re.compile(
    r"(?:\b(?:[A-Za-z]\.){2,}|\b[A-Z]\.|\b(?:Mr|Mrs|Ms|Dr|Prof|St|Mt|Ft|Jr|Sr|Gen|Gov|Sen|Rep|Inc|Ltd|Corp|Co|vs)\.)$"
)


# A reply that says the documents do not answer. "The deal does not provide exclusivity [2]" is an
# answer: "does not state/say/mention/contain/provide" refuses only when its subject is the passages.
_REFUSAL_PHRASES = re.compile(
    r"cannot answer|can't answer|unable to answer|no information|"
    r"\b(?:passages?|documents?|texts?|article|context|sources?|information)\b[^.]{0,40}?\bdo(?:es)? not (?:state|say|mention|contain|provide|specify|answer)|"
    r"not (?:stated|mentioned|provided|specified|given) in the (?:passages?|documents?|texts?|article|context)",
    re.I,
)


def says_cannot_answer(text: str) -> bool:
    return bool(_REFUSAL_PHRASES.search(_MARKER.sub("", text)))

def split_sentences(text: str) -> list[str]:
    """Sentences of an answer, each keeping the markers that follow its full stop."""
    sentences: list[str] = []
    for part in _SENTENCE_END.split(text.strip()):
        if sentences and _ABBREVIATION_END.search(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {part.strip()}"
            continue
        leading = _LEADING_MARKERS.match(part)
        if leading and sentences:  # markers after a full stop belong to the sentence before
            sentences[-1] = f"{sentences[-1]} {leading.group(0).strip()}"
            part = part[leading.end() :]
        if part.strip():
            sentences.append(part.strip())
    return sentences


def cited_numbers(text: str) -> list[int]:
    """Every number cited in `text`, in order of first appearance."""
    seen: list[int] = []
    for match in _MARKER.finditer(text):
        for n in re.split(r"\s*[,;]\s*", match.group(1)):
            if int(n) not in seen:
                seen.append(int(n))
    return seen


def resolve(text: str, passages: list[Passage]) -> tuple[str, list[Citation]]:
    """Normalise markers to `[n]`, drop those that point at no passage, and list the citations.

    Returns the cleaned text and one Citation per distinct valid number, in order of appearance.
    """

    def rewrite(match: re.Match) -> str:
        numbers = [int(n) for n in re.split(r"\s*[,;]\s*", match.group(1))]
        valid = [n for n in dict.fromkeys(numbers) if 1 <= n <= len(passages)]
        return "".join(f"[{n}]" for n in valid)

    text = _VERBOSE_REFERENCE.sub(" ", text)
    text = _MARKER.sub(rewrite, text)
    text = re.sub(r"[ \t]+([.,;!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
    text = re.sub(r"\](?=[A-Za-z])", "] ", text)
    return text, cite(text, passages)


def cite(text: str, passages: list[Passage]) -> list[Citation]:
    """One Citation per distinct `[n]` in `text` that points at a passage, in order of appearance."""
    return [Citation.from_passage(n, passages[n - 1]) for n in cited_numbers(text) if 1 <= n <= len(passages)]


def best_matching_passage(sentence: str, passages: list[Passage]) -> int | None:
    """Number of the passage holding most of the sentence's content words (None if it shares none)."""
    words = set(terms(sentence))
    if not words or not passages:
        return None
    overlaps = [len(words & set(terms(p.text))) for p in passages]
    best = max(range(len(passages)), key=lambda i: overlaps[i])
    return best + 1 if overlaps[best] else None


def recite(sentence: str, *numbers: int) -> str:
    """The sentence with its markers replaced by `[n]` for each of `numbers`."""
    bare = _MARKER.sub("", sentence).rstrip()
    end = bare[-1] if bare and bare[-1] in ".!?" else ""
    return f"{(bare[:-1] if end else bare).rstrip()} {''.join(f'[{n}]' for n in numbers)}{end}"


def is_refusal(text: str) -> bool:
    """True when the generator said it cannot answer (in our words or close to them)."""
    stripped = _MARKER.sub("", text).strip()
    return stripped.startswith(REFUSAL[:-1]) or says_cannot_answer(stripped)

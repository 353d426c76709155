"""Does an answer give what was asked? The question's own constraints, checked against the cited passages.

A sentence can be supported by its passage and still answer another question: asked who married X,
it says whom Y married; asked what happened in the 10th century, it gives an event of 1072. The
judge asks whether the passage states the sentence; these checks ask whether the passage is about
what the question names, at the time the question names.
"""

from __future__ import annotations

from qa.text import (
    AMOUNT_WORDS,
    ASKS_AMOUNT,
    ASKS_WHEN,
    ASKS_WHY,
    ASKS_YES_NO,
    GIVES_REASON,
    MARKER,
    TIME_WORDS,
    mentions,
    months,
    names,
    numbers,
    overlaps_time,
    terms,
    time_spans,
    words,
)


def gives_what_was_asked(question: str, answer: str) -> bool:
    """False when an answer only restates its question, a "when" answer names no time, a "how many/much" none,
    or a "why" answer no reason.

    "When did OpenAI achieve AGI? -- OpenAI achieved AGI [1]." restates a premise the passage only
    raises as a condition; the judge may accept the sentence, but it answers nothing. A yes/no
    question is answered by restating it ("Does the deal give exclusivity? -- The deal gives exclusivity.").
    """
    answer = MARKER.sub("", answer)
    if not ASKS_YES_NO.match(question) and set(terms(answer)) <= set(terms(question)):
        return False
    said = set(words(answer))
    has_number = bool(numbers(answer))
    if ASKS_WHEN.match(question):
        return has_number or bool(said & TIME_WORDS)
    if ASKS_AMOUNT.match(question):
        return has_number or bool(said & AMOUNT_WORDS)
    if ASKS_WHY.search(question):
        return bool(GIVES_REASON.search(answer))
    return True


def unmet_constraints(question: str, evidence: str, title: str = "") -> list[str]:
    """What the question names that the evidence does not: its times (years, decades, centuries, months) and names.

    Names may also be met by the document's `title` (a passage of an article about a game rarely
    repeats the game's name). Times must be in the evidence itself.
    """
    unmet = [f"{low}-{high}" if low != high else str(low) for low, high in time_spans(question) if not overlaps_time((low, high), evidence)]
    unmet += sorted(months(question) - set(words(evidence)))
    unmet += [name for name in names(question) if not mentions(f"{title}\n{evidence}", name)]
    return list(dict.fromkeys(unmet))

"""The facts a text states that can be looked for in another: numbers, names, months and times.

A fact a sentence states that its evidence never mentions proves the sentence unsupported (the judge); a name
or time a question names that the cited passages do not proves them about something else (the question check).
"""

from __future__ import annotations

import re

from qa.text import MARKER, normalized, words

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def numbers(text: str) -> set[str]:
    """The numbers written in digits, thousands separators removed: "1,500" and "1500" are one number."""
    return {n.replace(",", "") for n in _NUMBER.findall(MARKER.sub("", text))}


# A word that does not open a sentence (names() keeps the capitalised ones); hyphenated parts stay together here.
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[^\W\d_][^\W_]*(?:-[^\W_]+)*")
# Capitalised words that are not names (sentence openers, answer words, pronouns, question words).
_NOT_NAMES = {
    "yes", "no", "the", "a", "an", "it", "its", "they", "this", "that", "i", "in", "on", "under", "if",
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how",
}


def names(text: str) -> list[str]:
    """Proper names, as the lower-cased words a text about them must contain.

    A hyphenated name counts as its parts: "Microsoft-OpenAI" is named by a passage that names
    Microsoft and OpenAI. A possessive 's is dropped.
    """
    found: list[str] = []
    for name in _NAME.findall(MARKER.sub("", text)):
        for part in re.sub(r"'s$", "", name).split("-"):
            if part and part.lower() not in _NOT_NAMES and part[0].isupper():
                found.append(part.lower())
    return list(dict.fromkeys(found))


def mentions(text: str, word: str) -> bool:
    """Whether `text` contains `word` (lower case) as a whole word or the start of one ("Chopin" in "Chopin's")."""
    return re.search(rf"\b{re.escape(word)}", normalized(text)) is not None


MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TIME_WORDS = frozenset({
    *MONTHS, *_WEEKDAYS, *(f"{d}s" for d in _WEEKDAYS), "today", "yesterday", "tomorrow", "tonight",
    "day", "days", "daily", "week", "weeks", "weekly", "weekend", "weekends", "month", "months", "monthly",
    "year", "years", "yearly", "annually", "decade", "century", "ago", "hour", "hours", "hourly",
    "morning", "mornings", "afternoon", "evening", "evenings", "night", "nights", "noon", "midnight", "dawn", "dusk",
    "spring", "summer", "autumn", "winter", "season", "seasons", "recently", "soon", "now",
})
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "twenty-first": 21,
}
_CENTURY = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)[ -]century\b|\b(" + "|".join(_ORDINALS) + r")[ -]century\b", re.I)
_DECADE = re.compile(r"\b(1\d|20)(\d)0'?s\b")
_YEAR = re.compile(r"(?<![\d.,$])\b(1\d{3}|20\d{2})\b(?![\d.,]\d)")


def months(text: str) -> set[str]:
    """Month names, capitalised only: "may" is a verb, "May" a month."""
    return {m.lower() for m in re.findall(r"\b[A-Z][a-z]+", text) if m.lower() in MONTHS}


def time_spans(text: str) -> list[tuple[int, int]]:
    """The years a text names, as inclusive ranges: a year, a decade or a century.

    "1072" is (1072, 1072); "the 1070s" (1070, 1079); "the 1000s" and "the 1900s" a century,
    (1000, 1099) and (1900, 1999); "the 11th century" (1000, 1100), tolerant of both counting conventions.
    """
    spans: list[tuple[int, int]] = []
    rest = text
    for m in _CENTURY.finditer(text):
        n = int(m.group(1)) if m.group(1) else _ORDINALS[m.group(2).lower()]
        spans.append(((n - 1) * 100, n * 100))
    rest = _CENTURY.sub(" ", rest)
    for m in _DECADE.finditer(rest):
        start = int(f"{m.group(1)}{m.group(2)}0")
        spans.append((start, start + 99) if m.group(2) == "0" else (start, start + 9))
    rest = _DECADE.sub(" ", rest)
    spans += [(int(y), int(y)) for y in _YEAR.findall(rest)]
    return spans


def overlaps_time(span: tuple[int, int], text: str) -> bool:
    """Whether `text` names a time inside `span` (a year in it, or a decade or century that overlaps it)."""
    low, high = span
    return any(a <= high and low <= b for a, b in time_spans(text))


def missing_facts(text: str, evidence: str, title: str = "", *, times: bool = False) -> list[str]:
    """What `text` names that `evidence` does not mention: its numbers (with `times`, only its years, decades and
    centuries, each met by a time the evidence names inside it), its months, and its names, which the
    evidence's `title` meets too (a passage of an article about a game rarely repeats the game's name)."""
    if times:
        missing = [f"{low}-{high}" if low != high else str(low) for low, high in time_spans(text) if not overlaps_time((low, high), evidence)]
    else:
        missing = sorted(numbers(text) - numbers(evidence))
    missing += sorted(months(text) - set(words(evidence)))
    missing += [name for name in names(text) if not mentions(f"{title}\n{evidence}", name)]
    return list(dict.fromkeys(missing))

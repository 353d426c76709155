"""Broad questions about whole documents: what one is about, its main points, a summary, what each says.

Such a question is close to no single passage, so similarity retrieval finds little above its floor and
the answer prompt asks for one short fact: they were refused. They are answered from each document's
structure instead: its lead sentence, then, from each stretch of the document in turn, the opening
sentence of the paragraph closest to the whole document's meaning (the mean of its chunk vectors), so
the points cover it from start to end. Every point is a sentence of the document, quoted with its exact
span: asked to summarise the article's ten passages, the 1.5B generator wrote fluent prose and cited none
of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.answering.checker import Checked, Checker, Mode
from qa.answering.citations import recite
from qa.domain import Chunk, Passage, Sentence
from qa.answering.injection import instruction_spans
from qa.text import SENTENCE, terms

_DOCUMENT_WORDS = r"(?:documents?|articles?|texts?|files?|papers?|reports?|stor(?:y|ies)|books?|sources?|corpus|pages?)"
# A question about a whole document (or all of them) rather than a fact in one: what it is about, its
# main points, a summary, what each says. "What is the Stargate protocol about?" matches too; the
# overview then asks its topic words to name a document (qa.answering.overview).
ASKS_OVERVIEW = re.compile(
    r"\bwhat(?:'s|\s+is|\s+are|\s+was|\s+were)\s+(?:[\w'-]+\s+){0,5}?about\s*[?.!]*\s*$"
    r"|\bsummar(?:y|ies|i[sz]e[sd]?|i[sz]ing)\b|\boverview\b|\bgist\b|\btl;?\s?dr\b"
    r"|\b(?:main|key|important|central|major)\s+(?:points?|ideas?|facts?|takeaways?|findings?|themes?|messages?|topics?)\b"
    rf"|\b(?:compare|contrast)\b.*\b{_DOCUMENT_WORDS}\b"
    rf"|\bwhat\s+(?:does|do)\s+(?:(?:the|this|these|each|both|all)\s+)?(?:\w+\s+)?{_DOCUMENT_WORDS}\s+(?:each\s+)?(?:say|cover|discuss|describe)\b",
    re.I,
)
# A list of points rather than what a document is about: it gets more of them.
ASKS_POINTS = re.compile(r"\b(?:points?|facts?|takeaways?|findings?|ideas?|themes?|messages?|topics?)\b", re.I)
# Every document gets its own points: "what is each about", "compare the two articles".
ASKS_EACH = re.compile(rf"\beach\b|\bboth\b|\bcompare\b|\bcontrast\b|\b(?:two|three|four|five|all)\s+{_DOCUMENT_WORDS}\b", re.I)
# Words of an overview question that name no topic: what is left may name a document ("the Zelda article").
_OVERVIEW_WORDS = frozenset(terms(
    "article articles document documents text texts file files paper papers report reports story stories book books "
    "source sources corpus page pages summary summarize summarise summarizing summarising summaries overview gist tl dr "
    "main key important central major point points idea ideas fact facts takeaway takeaways finding findings "
    "theme themes message messages topic topics about each both all compare contrast say says cover covers "
    "discuss discusses describe describes sentence sentences bullet bullets briefly brief short shortly please "
    "give me tell us list mainly mostly these those they them their one two three four five six seven eight "
    "whole entire generally general there here"
))
_COUNTS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_COUNT = re.compile(
    r"\b(" + "|".join(_COUNTS) + r"|[1-8])\s+(?:\w+\s+)?(?:sentences?|points?|bullets?|facts?|ideas?|takeaways?|things?|lines?)\b",
    re.I,
)


def overview_topic(question: str) -> list[str]:
    """The terms of an overview question that are not overview words: what may name the document meant."""
    return [t for t in terms(question) if t not in _OVERVIEW_WORDS and t not in "12345678"]


def requested_count(question: str) -> int | None:
    """How many sentences or points the question asks for ("in two sentences", "5 key points"), if it says."""
    match = _COUNT.search(question)
    if not match:
        return None
    word = match.group(1).lower()
    return _COUNTS.get(word) or int(word)


MAX_DOCUMENTS = 5  # a corpus-wide question covers this many documents, by name
MAX_POINTS = 8
SAMPLED_CHUNKS = 400  # a long document's stretches are ranked on this many evenly spaced chunks
_MIN_WORDS = 6
_OPENS = re.compile(r"[A-Z0-9\"'“‘(]")


@dataclass(frozen=True)
class Overview:
    """A broad question, understood: which documents it covers and how many points each gets."""

    sources: list[str]
    points: int  # per document
    documents: int  # how many the corpus holds; more than MAX_DOCUMENTS are not all covered


def overview_of(question: str, documents: Callable[[], dict[str, dict]]) -> Overview | None:
    """The overview a question asks for, or None when it asks for a fact.

    `documents` lists the index (source -> {title, chunks}); it is called only for broad questions.
    Topic words left in a broad question must all name a document, by its title or file name ("What is
    the Zelda article about?"); otherwise ("What is the Stargate protocol about?", "When was the main
    theme of Spectre released?") the question is an ordinary one.
    """
    if not ASKS_OVERVIEW.search(question):
        return None
    listed = documents()
    topic = set(overview_topic(question))
    if topic:
        sources = [s for s, d in listed.items() if topic <= set(terms(f"{d['title']} {_name_words(s)}"))]
        if not sources:
            return None
    else:
        sources = sorted(listed)
    sources = sources[:MAX_DOCUMENTS]
    asked = requested_count(question)
    if ASKS_EACH.search(question) and len(sources) > 1:
        per_document = asked or 2
    else:
        total = asked or (5 if ASKS_POINTS.search(question) else 3)
        per_document = max(1, math.ceil(total / max(1, len(sources))))
    return Overview(sources, min(per_document, MAX_POINTS), len(listed))


def _name_words(source: str) -> str:
    return re.sub(r"[_\-.]+", " ", Path(source).stem)


# A line break inside a paragraph: after a long line that does not end a sentence, before more text. Texts
# whose lines mostly break so (a PDF's, a hard-wrapped text file's) are read with those breaks as spaces;
# in the others a line is a block (an HTML paragraph, a tag line, a heading) and ends its sentence.
_WRAP = re.compile(r"(?<=[^\s.!?:])[ \t]*\n(?=[ \t]*\S)")
_BREAK = re.compile(r"\n(?=[ \t]*\S)")
_WRAPPED_LINE = 40
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)\]]*\s*$")


def _wraps(text: str) -> list[int]:
    """Where `text` breaks a line inside a paragraph (the index of each such line break)."""
    return [m.end() - 1 for m in _WRAP.finditer(text) if m.start() - (text.rfind("\n", 0, m.start()) + 1) >= _WRAPPED_LINE]


def hard_wrapped(texts: list[str]) -> bool:
    """Whether most line breaks in these texts fall inside paragraphs."""
    breaks = sum(len(_BREAK.findall(t)) for t in texts)
    return breaks > 0 and sum(len(_wraps(t)) for t in texts) * 2 > breaks


def sentence_spans(text: str, wrapped: bool = False) -> list[tuple[int, int]]:
    """Spans of `text` that are whole sentences a point can quote: at least six words, not a heading,
    not a line without an end mark (tags, captions), not instruction-like (qa.answering.injection).
    In a `wrapped` text a sentence runs over the line breaks inside its paragraph."""
    hidden = instruction_spans(text)
    flat = _unwrapped(text) if wrapped else text
    spans = []
    for match in SENTENCE.finditer(flat):
        start = match.start() + len(match.group()) - len(match.group().lstrip())
        end = match.end()
        line_start = flat.rfind("\n", 0, start) + 1
        if (
            not _OPENS.match(flat, start)
            or not _ENDS_SENTENCE.search(flat[start:end])
            or flat[line_start:start].lstrip().startswith("#")
            or len(flat[start:end].split()) < _MIN_WORDS
            or any(a < end and start < b for a, b in hidden)
        ):
            continue
        spans.append((start, end))
    return spans


def _unwrapped(text: str) -> str:
    """The text with its line breaks inside paragraphs made spaces (the same length: spans stay exact)."""
    out = list(text)
    for at in _wraps(text):
        out[at] = " "
    return "".join(out)


@dataclass(frozen=True)
class _Candidate:
    chunk: int  # index into the sampled chunks
    start: int  # span in the chunk's text
    end: int
    opens_paragraph: bool


def _candidates(chunks: list[Chunk]) -> tuple[list[Chunk], list[_Candidate]]:
    """The chunks read (every chunk, or evenly spaced ones of a long document) and every quotable sentence
    in them, marked when it opens a paragraph: after a line break inside its chunk, or first in a chunk
    that starts one. A chunk starts a sentence when the one before it ends one, and a paragraph when,
    besides, a paragraph break lies between them (two or more characters, where a space between sentences
    is one; a wrapped text's breaks say nothing, nor does a sample's, whose chunks each start a stretch)."""
    wrapped = hard_wrapped([c.text for c in chunks[:SAMPLED_CHUNKS]])
    step = max(1, math.ceil(len(chunks) / SAMPLED_CHUNKS))
    read = range(0, len(chunks), step)
    found = []
    for n, i in enumerate(read):
        chunk = chunks[i]
        starts_sentence = i == 0 or bool(_ENDS_SENTENCE.search(chunks[i - 1].text))
        starts_paragraph = starts_sentence and (i == 0 or step > 1 or (not wrapped and chunk.start - chunks[i - 1].end >= 2))
        flat = _unwrapped(chunk.text) if wrapped else chunk.text
        before = 0
        for a, b in sentence_spans(chunk.text, wrapped):
            first = not chunk.text[:a].strip()
            if starts_sentence or not first:
                found.append(_Candidate(n, a, b, "\n" in flat[before:a] or (first and starts_paragraph)))
            before = b
    return [chunks[i] for i in read], found


def key_sentences(
    chunks: list[Chunk],
    vectors: Callable[[list[str]], dict[str, list[float]]],
    points: int,
) -> list[Passage]:
    """Up to `points` sentences of one document (its chunks in order), in document order, each a Passage
    spanning exactly that sentence.

    Paragraphs open with their topic sentence, so the points are the lead, then the opening sentence
    of one paragraph from each stretch of the document: the paragraph whose chunk is closest to the
    document's mean vector. A document with fewer paragraphs than points (a PDF, one long line) gets
    its sentences instead, chosen the same way.
    """
    sample, found = _candidates(chunks)
    if not found:
        return []
    by_id = vectors(sorted({sample[c.chunk].id for c in found}))
    found = [c for c in found if sample[c.chunk].id in by_id]
    if not found:
        return []
    ids = sorted(by_id)
    matrix = np.array([by_id[i] for i in ids], dtype=np.float32)
    centre = matrix.mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    closeness = dict(zip(ids, (matrix @ centre).tolist()))
    openers = [c for c in found if c.opens_paragraph]
    pool = openers if len(openers) >= points else found
    rest = pool[1:]
    chosen = [pool[0]]  # the lead: where most documents say what they are about
    for i in range(points - 1):
        stretch = rest[i * len(rest) // (points - 1) : (i + 1) * len(rest) // (points - 1)]
        if stretch:
            # the most central chunk of the stretch; within it, its first candidate (a paragraph's opening)
            chosen.append(max(stretch, key=lambda c: (closeness[sample[c.chunk].id], -c.chunk, -c.start)))
    return [_passage(sample[c.chunk], c.start, c.end, closeness[sample[c.chunk].id]) for c in chosen]


def _passage(chunk: Chunk, start: int, end: int, score: float) -> Passage:
    return Passage(
        f"{chunk.id}:{start}-{end}", chunk.text[start:end], chunk.source, chunk.title,
        chunk.start + start, chunk.start + end, page=chunk.page, score=score,
    )


@dataclass(frozen=True)
class Quoted:
    """An overview written out: bulleted quotes (under each document's title when several), the passages
    quoted (one per point, numbered in order) and the checked quotes."""

    text: str
    passages: list[Passage]
    checked: Checked


class _Index(Protocol):
    def chunks(self, source: str | None = None) -> list[Chunk]: ...
    def vectors(self, ids: list[str]) -> dict[str, list[float]]: ...


def quote(overview: Overview, index: _Index, checker: Checker, mode: Mode) -> Quoted | None:
    """The overview's points, each quoted and checked like any answer sentence; None with nothing to quote. Every
    point is a quote, so the overview's confidence is its weakest point's support."""
    groups = [key_sentences(index.chunks(s), index.vectors, overview.points) for s in overview.sources]
    passages = [p for group in groups for p in group]
    if not passages:
        return None
    kept: list[Sentence] = []
    dropped: list[Sentence] = []
    lines: list[str] = []
    for group in groups:
        points = []
        for passage in group:
            number = len(kept) + len(dropped) + 1
            text = recite(" ".join(passage.text.split()), number)  # a PDF's line breaks read as spaces
            sentence = checker.quote(text, number, passage, mode)
            if mode.drops and sentence.support < checker.threshold:
                dropped.append(sentence)
            else:
                kept.append(sentence)
                points.append(f"- {text}")
        if points and len(groups) > 1:
            lines.append(f"**{group[0].title}** ({group[0].source})")
        lines += points
    left = overview.documents - len(overview.sources)
    if left > 0 and len(overview.sources) > 1:
        lines.append(f"({left} more documents not covered: ask about one by its title.)")
    if not mode.judges:
        score = None
    else:
        score = min(s.support for s in kept) if kept else 0.0
    return Quoted("\n".join(lines), passages, Checked(kept, dropped, None, score))

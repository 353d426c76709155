"""Broad questions about whole documents: what one is about, its main points, a summary, what each says.

Such a question is close to no single passage, so similarity retrieval finds little above its floor and
the answer prompt asks for one short fact: they were refused. They are answered from each document's
structure instead: its lead sentence, then, from each stretch of the document in turn, the sentence
closest to the whole document's meaning (the mean of its chunk vectors), so the points cover it from
start to end. Every point is a sentence of the document, quoted with its exact span: asked to summarise
the article's ten passages, the 1.5B generator wrote fluent prose and cited none of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.domain import Chunk, Passage
from qa.text import ASKS_EACH, ASKS_OVERVIEW, instruction_spans, overview_topic, requested_count, terms

MAX_DOCUMENTS = 5  # a corpus-wide question covers this many documents, by name
MAX_POINTS = 8
SAMPLED_CHUNKS = 400  # a long document's stretches are ranked on this many evenly spaced chunks
_MIN_WORDS = 6
# A sentence: from a capital letter, digit or quote to its end mark (and closing quotes), within one line.
_SENTENCE = re.compile(r"[A-Z0-9\"'“‘(][^\n]*?[.!?](?:[\"'”’)]+)?(?=\s|$)")
_POINTS_WORDS = re.compile(r"\b(?:points?|facts?|takeaways?|findings?|ideas?|themes?|messages?|topics?)\b", re.I)


@dataclass(frozen=True)
class Overview:
    """A broad question, understood: which documents it covers and how many points each gets."""

    sources: list[str]
    points: int  # per document
    documents: int  # how many the corpus holds; more than MAX_DOCUMENTS are not all covered


def overview_of(question: str, documents: Callable[[], dict[str, dict]]) -> Overview | None:
    """The overview a question asks for, or None when it asks for a fact.

    `documents` lists the index (source -> {title, chunks}); it is called only for broad questions.
    Topic words left in a broad question must name a document by its title or file name ("What is the
    Zelda article about?"); when they name none ("What is the Stargate protocol about?") the question
    is an ordinary one.
    """
    if not ASKS_OVERVIEW.search(question):
        return None
    listed = documents()
    topic = set(overview_topic(question))
    if topic:
        sources = [s for s, d in listed.items() if topic & set(terms(f"{d['title']} {_name_words(s)}"))]
        if not sources:
            return None
    else:
        sources = sorted(listed)
    sources = sources[:MAX_DOCUMENTS]
    asked = requested_count(question)
    if ASKS_EACH.search(question) and len(sources) > 1:
        per_document = asked or 2
    else:
        total = asked or (5 if _POINTS_WORDS.search(question) else 3)
        per_document = max(1, math.ceil(total / max(1, len(sources))))
    return Overview(sources, min(per_document, MAX_POINTS), len(listed))


def _name_words(source: str) -> str:
    return re.sub(r"[_\-.]+", " ", Path(source).stem)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Spans of `text` that are whole sentences a point can quote: at least six words, not a heading,
    not a line without an end mark (tags, captions), not instruction-like (qa.text.instruction_spans)."""
    hidden = instruction_spans(text)
    spans = []
    for match in _SENTENCE.finditer(text):
        start, end = match.span()
        line_start = text.rfind("\n", 0, start) + 1
        if text[line_start:start].lstrip().startswith("#") or len(match.group().split()) < _MIN_WORDS:
            continue
        if any(a < end and start < b for a, b in hidden):
            continue
        spans.append((start, end))
    return spans


@dataclass(frozen=True)
class _Candidate:
    chunk: int  # index into the sampled chunks
    start: int  # span in the chunk's text
    end: int
    opens_paragraph: bool


def _candidates(chunks: list[Chunk], gaps: list[int]) -> list[_Candidate]:
    """Every quotable sentence, marked when it opens a paragraph: after a line break inside its chunk, or
    first in a chunk that starts a paragraph (`gaps`: characters between each chunk and the one before it;
    a paragraph break leaves two or more, a space between sentences one)."""
    found = []
    for i, chunk in enumerate(chunks):
        before = 0
        for a, b in sentence_spans(chunk.text):
            opens = "\n" in chunk.text[before:a] or (before == 0 and gaps[i] != 1)
            found.append(_Candidate(i, a, b, opens))
            before = b
    return found


def key_sentences(
    chunks: list[Chunk],
    vectors: Callable[[list[str]], dict[str, list[float]]],
    embed: Callable[[str], list[float]],
    points: int,
) -> list[Passage]:
    """Up to `points` sentences of one document (its chunks in order), in document order, each a Passage
    spanning exactly that sentence.

    Paragraphs open with their topic sentence, so the points are the lead, then the opening sentence
    of one paragraph from each stretch of the document: the paragraph whose chunk is closest to the
    document's mean vector. A document with fewer paragraphs than points (or one long line) gets its
    sentences instead, chosen the same way.
    """
    gaps = [2] + [b.start - a.end for a, b in zip(chunks, chunks[1:])]
    step = max(1, math.ceil(len(chunks) / SAMPLED_CHUNKS))
    sample, gaps = chunks[::step], gaps[::step] if step == 1 else [2] * len(chunks[::step])
    found = _candidates(sample, gaps)
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

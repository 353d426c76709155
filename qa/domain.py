"""The typed objects that flow through the project: what was retrieved, what was cited, what was answered."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Chunk:
    """A piece of a source document, with its exact character span in that document's text.

    `page` is the PDF page (from 1) the chunk is on (chunks never cross pages); None for formats without pages.
    """

    id: str
    text: str
    source: str
    title: str
    start: int
    end: int
    page: int | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Passage(Chunk):
    """A chunk returned by retrieval, with its relevance score (cosine similarity, higher is closer) and, once
    assessed, `answers`: P(it states the answer to the question), from the answerability model."""

    score: float
    answers: float | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Citation:
    """A `[n]` marker in an answer, resolved to the passage it points at.

    `start`/`end` index the source document's text, so `document[start:end] == text`; `page` is the
    PDF page the passage is on, None for formats without pages.
    """

    number: int
    passage_id: str
    text: str
    source: str
    title: str
    start: int
    end: int
    page: int | None = None

    @classmethod
    def from_passage(cls, number: int, passage: Passage) -> Citation:
        return cls(
            number, passage.id, passage.text, passage.source, passage.title, passage.start, passage.end, passage.page
        )

    @property
    def where(self) -> str:
        """The passage's place in its document for people: "p. 3, chars 10-90" or "chars 10-90"."""
        chars = f"chars {self.start}-{self.end}"
        return chars if self.page is None else f"p. {self.page}, {chars}"


@dataclass(frozen=True)
class Sentence:
    """One sentence of an answer, the passage numbers it cites, and the judge's support score.

    `support` is P(the cited passages state the sentence), or None when verification was off.
    """

    text: str
    cited: tuple[int, ...]
    support: float | None = None

    @classmethod
    def from_dict(cls, data: dict) -> Sentence:
        return cls(data["text"], tuple(data["cited"]), data["support"])


@dataclass
class Answer:
    """An answer grounded in the documents.

    `text` carries `[n]` markers; each `n` appears in `citations`. `passages` is everything that
    was shown to the generator, numbered from 1 in that order. `refused` is true when the
    documents do not hold the answer; `text` then says so in one sentence.
    """

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    refused: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    sentences: list[Sentence] = field(default_factory=list)
    dropped: list[Sentence] = field(default_factory=list)
    confidence: float | None = None
    signals: Signals | None = None  # what the confidence was computed from

    def to_dict(self) -> dict:
        return asdict(self) | {"signals": self.signals.to_dict() if self.signals else None}

    def support_by_citation(self) -> dict[int, float]:
        """Each cited number's support: the lowest judge score among the sentences that cite it (none when
        verification was off)."""
        support: dict[int, float] = {}
        for s in self.sentences:
            for n in s.cited:
                if s.support is not None:
                    support[n] = min(support.get(n, 1.0), s.support)
        return support

    @classmethod
    def from_dict(cls, data: dict) -> Answer:
        """The Answer `to_dict` gave (after a JSON round trip: lists for tuples)."""
        return cls(
            question=data["question"],
            text=data["text"],
            citations=[Citation(**c) for c in data["citations"]],
            passages=[Passage(**p) for p in data["passages"]],
            refused=data["refused"],
            timings=data["timings"],
            sentences=[Sentence.from_dict(d) for d in data["sentences"]],
            dropped=[Sentence.from_dict(d) for d in data["dropped"]],
            confidence=data["confidence"],
            signals=None if data["signals"] is None else Signals(dict(data["signals"])),
        )

    def __str__(self) -> str:
        lines = [self.text if self.confidence is None else f"{self.text} (confidence {self.confidence:.2f})"]
        if self.citations:
            lines.append("")
            lines.append("Sources:")
            for c in self.citations:
                lines.append(f"[{c.number}] {c.title} ({c.source}, {c.where}): {c.text}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Signals:
    """What the checks found for one drafted answer: each check's feature by its name (the checks are declared in
    qa.answering.checker, and the confidence's weights name the same features)."""

    features: dict[str, float]

    def __getitem__(self, name: str) -> float:
        return self.features[name]

    def to_dict(self) -> dict[str, float]:
        return dict(self.features)

"""SQuAD 2.0 as a corpus nobody here wrote: one document per article, a seeded sample of its questions.

Unanswerable SQuAD 2.0 questions are written to look answerable from a real paragraph (another
person, a changed year, a negation), so refusing them measures whether an answer checks the
question asked, not only its passage. Any file in the official format works.
"""

from __future__ import annotations

import json
import math
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa.domain import Answer, Citation
from qa.errors import QAError
from qa.evaluation.confidence_metrics import calibration, confidence_auc, grouped_auc, right_confidence_p50
from qa.evaluation.metrics import percentile


@dataclass(frozen=True)
class SquadQuestion:
    """A question, its gold answers (empty when unanswerable) and its paragraph's span in the article document."""

    id: str
    article: str
    question: str
    answers: tuple[str, ...]
    source: str
    start: int
    end: int
    # How an answer to an answerable question is right: it holds a gold answer ("span"); it is given at all
    # ("answered": CLAP NQ's gold answers are long free text); it opens with the gold "yes" or "no" ("yes/no").
    right_when: str = "span"
    # Documents besides its own that answer it: BoolQ-3L's unanswerable question is its answerable twin asked over
    # another passage of the same article. A corpus that asks it leaves them out (`SquadSet.asking`), or the
    # refusal it is scored on would be wrong.
    answered_in: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.answers)

    def supported_by(self, citation: Citation) -> bool:
        if self.right_when == "span":
            return holds_answer(citation.text, self.answers)
        return citation.source == self.source and citation.start < self.end and self.start < citation.end

    def is_right(self, text: str) -> bool:
        """Whether `text`, an answer given, answers this question rightly (never, when it is unanswerable)."""
        if not self.answerable:
            return False
        if self.right_when == "answered":
            return True
        if self.right_when == "yes/no":
            opening = normalize(text).split()[:1]
            return opening == [self.answers[0]]
        return holds_answer(text, self.answers)


@dataclass(frozen=True)
class SquadSet:
    """The article documents (source name → text) and every question of the file."""

    documents: dict[str, str]
    questions: list[SquadQuestion]

    @property
    def articles(self) -> list[str]:
        return list(dict.fromkeys(q.article for q in self.questions))

    def sample(
        self, n: int, articles: list[str] | None = None, seed: int = 13, keep: Callable[[SquadQuestion], bool] | None = None
    ) -> list[SquadQuestion]:
        """Up to `n` answerable and `n` unanswerable questions from `articles` (default: all) that `keep`
        accepts (default: all), seeded."""
        unknown = sorted(set(articles or ()) - set(self.articles))
        if unknown:
            raise QAError(f"no article {', '.join(map(repr, unknown))} in the SQuAD file; it has {', '.join(self.articles)}")
        pool = [q for q in self.questions if (not articles or q.article in articles) and (keep is None or keep(q))]
        rng = random.Random(seed)
        picked = []
        for answerable in (True, False):
            group = [q for q in pool if q.answerable == answerable]
            picked += rng.sample(group, min(n, len(group)))
        # An answerable question whose passage a drawn unanswerable one is asked without (`answered_in`) is drawn
        # again from the rest (none of SQuAD's or CLAP NQ's is).
        left_out = _answered_elsewhere(picked)
        clashing = {q.id for q in picked if q.answerable and q.source in left_out}
        if not clashing:
            return picked
        drawn = {q.id for q in picked}
        spare = [q for q in pool if q.answerable and q.id not in drawn and q.source not in left_out]
        redrawn = rng.sample(spare, min(len(clashing), len(spare)))
        kept = [q for q in picked if q.id not in clashing]
        return [q for q in kept if q.answerable] + redrawn + [q for q in kept if not q.answerable]

    def asking(self, questions: list[SquadQuestion]) -> tuple[SquadSet, list[SquadQuestion]]:
        """The corpus to ask `questions` over — every document but those answering one of them elsewhere
        (`answered_in`) — and the questions it can ask: not an answerable one whose own document it leaves out."""
        left_out = _answered_elsewhere(questions)
        kept = [q for q in questions if not (q.answerable and q.source in left_out)]
        return SquadSet({k: v for k, v in self.documents.items() if k not in left_out}, self.questions), kept


def _answered_elsewhere(questions: list[SquadQuestion]) -> set[str]:
    """The documents a corpus asking `questions` must leave out: those answering one of them elsewhere."""
    return {source for q in questions for source in q.answered_in}


def load_squad(path: Path) -> SquadSet:
    """Read a SQuAD 2.0 JSON file; each article becomes one document (title, then paragraphs in order)."""
    try:
        data = json.loads(Path(path).read_text())["data"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise QAError(f"{path}: not a SQuAD 2.0 file ({type(e).__name__}: {e})") from None
    documents: dict[str, str] = {}
    questions: list[SquadQuestion] = []
    for article in data:
        title = article["title"].replace("_", " ")
        source = f"{_slug(article['title'])}.md"
        text = f"# {title}\n\n"
        for paragraph in article["paragraphs"]:
            context = paragraph["context"].strip()
            start = len(text)
            text += context + "\n\n"
            for qa in paragraph["qas"]:
                answers = () if qa.get("is_impossible") else tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                questions.append(SquadQuestion(qa["id"], article["title"], qa["question"].strip(), answers, source, start, start + len(context)))
        documents[source] = text.rstrip() + "\n"
    return SquadSet(documents, questions)


def write_corpus(squad: SquadSet, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for source, text in squad.documents.items():
        (folder / source).write_text(text)


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower() or "article"


def normalize(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def holds_answer(text: str, answers: tuple[str, ...]) -> bool:
    norm = f" {normalize(text)} "
    return any(f" {normalize(a)} " in norm for a in answers if normalize(a))


@dataclass
class SquadResult:
    """One question's outcome for one pipeline."""

    id: str
    article: str
    question: str
    answerable: bool
    answer: str
    draft: str
    refused: bool
    correct: bool
    draft_correct: bool
    cited_support: bool
    retrieval_hit: bool
    confidence: float | None
    signals: dict | None
    latency_s: float


def score(q: SquadQuestion, answer: Answer) -> SquadResult:
    """Correct: an answerable question answered rightly (`SquadQuestion.is_right`), an unanswerable one refused.
    Cited support: a citation holds a gold answer, or, where the gold answer is no span, lies in the question's
    own passage."""
    draft = answer.text if not answer.refused else " ".join(s.text for s in answer.dropped)
    answered_gold = not answer.refused and q.is_right(answer.text)
    return SquadResult(
        q.id,
        q.article,
        q.question,
        q.answerable,
        answer.text,
        draft,
        answer.refused,
        answered_gold if q.answerable else answer.refused,
        q.answerable and bool(draft) and q.is_right(draft),
        q.answerable and not answer.refused and any(q.supported_by(c) for c in answer.citations),
        any(p.source == q.source and p.start < q.end and q.start < p.end for p in answer.passages),
        answer.confidence,
        answer.signals.to_dict() if answer.signals else None,
        answer.timings.get("total_s", 0.0),
    )


def summarize(results: list[SquadResult]) -> dict:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    latencies = [r.latency_s for r in results]
    summary = {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answerable_correct": _mean([r.correct for r in answerable]),
        "answerable_answered": _mean([not r.refused for r in answerable]),
        "cited_support": _mean([r.cited_support for r in answerable]),
        "unanswerable_refused": _mean([r.correct for r in unanswerable]),
        "overall_accuracy": _mean([r.correct for r in results]),
        "retrieval_hit_at_k": _mean([r.retrieval_hit for r in answerable]),
        "latency_p50_s": percentile(latencies, 0.5),
        "latency_p95_s": percentile(latencies, 0.95),
    }
    if any(r.confidence is not None for r in results):
        summary["ece"] = calibration(results)["ece"]
        summary["confidence_auc"] = confidence_auc(results)
        summary["right_confidence_p50"] = right_confidence_p50(results)
        within = answerable_auc_within_article(results)
        if not math.isnan(within):
            summary["answerable_auc_within_article"] = within
    return summary


def answerable_auc_within_article(results: list[SquadResult]) -> float:
    """How well the confidence tells a question the documents answer from a near miss on the same article: the
    mean over articles holding both of the AUC of confidence (0 for a refusal before any draft) against
    answerability (an article: a SQuAD article, a CLAP NQ or BoolQ-3L passage's title). NaN where none holds both."""
    scored = [r for r in results if r.confidence is not None]
    labels = [float(r.answerable) for r in scored]
    return grouped_auc([r.confidence for r in scored], labels, [r.article for r in scored])


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0

"""Answer-time checking: each drafted sentence judged against the passages, then whether the answer stands.

The judge decides which citation a sentence keeps (small models copy a passage faithfully and cite the
wrong number); the answer as a whole must give what was asked, be confident enough, and, for a "why"
question, be about the question's own event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from qa.answering.asked import ASKS_YES_NO, gives_what_was_asked, premise_restated, unmet_constraints, what_is_asked
from qa.answering.citations import best_matching_passage, cited_numbers, recite
from qa.answering.confidence import confidence
from qa.answering.judge import Judge, opens_with_answer_word
from qa.domain import Passage, Sentence, Signals
from qa.settings import Verify
from qa.text import ASKS_WHY


@dataclass(frozen=True)
class Mode:
    """What `verify` asks of the checks, decided once per answer: "off" judges nothing, "mark" judges every
    sentence and keeps it, "drop" also removes the unsupported ones and refuses an answer that does not stand."""

    judges: bool
    drops: bool

    @classmethod
    def of(cls, verify: Verify) -> Mode:
        return cls(judges=verify != "off", drops=verify == "drop")


@dataclass(frozen=True)
class Checked:
    """An answer's sentences after checking: those that stand, those dropped, what the checks found, and the
    answer's confidence (None when nothing was checked)."""

    kept: list[Sentence]
    dropped: list[Sentence]
    signals: Signals | None = None
    confidence: float | None = None


def unchecked(sentences: list[Sentence], mode: Mode) -> Checked:
    """Sentences no judge read: a draft with verify off (no confidence), or a refusal (confidence 0 when checking)."""
    return Checked(sentences, [], None, 0.0 if mode.judges else None)


# (question, passage texts) -> P(each passage states the answer to the question)
Answerability = Callable[[str, list[str]], list[float]]


def shipped_answerability(question: str, passages: list[str]) -> list[float]:
    """The packaged answerability model (loaded on first use)."""
    from qa.models.answerability import shipped_model

    return shipped_model().scores(question, passages)


# A sentence its own citation supports this surely keeps it: judging another passage would read another
# passage's tokens (seconds on 2 cores) to gain at most the last tenth of support.
SURE = 0.9


class Checker:
    """Judges sentences with a Judge and refuses answers below `min_confidence` (with verify="drop").

    `answerability` scores whether a passage answers the question; each passage is scored once, when the
    passages are assessed before the draft, and the answer's confidence reads those scores.
    """

    def __init__(self, judge: Judge, min_confidence: float, answerability: Answerability = shipped_answerability):
        self.judge = judge
        self.min_confidence = min_confidence
        self.answerability = answerability

    @property
    def threshold(self) -> float:
        """A sentence scoring below this is unsupported."""
        return self.judge.threshold

    def assess(self, question: str, passages: list[Passage]) -> list[Passage]:
        """The passages, each with `answers` (P it states the answer to the question) set."""
        todo = [p for p in passages if p.answers is None]
        scores = dict(zip((p.id for p in todo), self.answerability(question, [p.text for p in todo]))) if todo else {}
        return [p if p.answers is not None else replace(p, answers=scores[p.id]) for p in passages]

    def check(
        self, question: str, sentences: list[str], passages: list[Passage], mode: Mode, state: dict[str, float] | None = None
    ) -> Checked:
        """Judge every sentence; when `mode` drops, keep the supported ones, or none when the answer does not stand.
        `state`: the STATE_FEATURES read from the generator's state at the end of the answer prompt, when it was read."""
        passages = self.assess(question, passages)
        asked = what_is_asked(question)
        checked = [self.sentence(s, passages) for s in sentences]
        if checked and ASKS_YES_NO.match(asked):
            checked[0] = self._settled(asked, checked[0], passages)
        kept = [s for s in checked if not mode.drops or s.support >= self.threshold]
        # Nothing supported is refused whatever else holds: its confidence is 0, with no more model calls.
        signals = self._signals(asked, kept, passages, state or {}) if kept else None
        score = confidence(signals) if signals else 0.0
        if mode.drops and not self._stands(asked, kept, passages, signals, score):
            kept = []
        return Checked(kept, [s for s in checked if s not in kept], signals, score)

    def quote(self, text: str, number: int, passage: Passage, mode: Mode) -> Sentence:
        """A sentence quoted from `passage` as passage `number`: its own words (the judge says so without the
        model), checked all the same."""
        return Sentence(text, (number,), self.judge.score(text, [passage.text]) if mode.judges else None)

    def sentence(self, sentence: str, passages: list[Passage]) -> Sentence:
        """Judge a sentence against its cited passages, against the passage sharing most of its words (unless
        the citation surely supports it), and, failing both, together with the passage running into its
        citation. One passage is cited where one backs it."""
        cited = [n for n in cited_numbers(sentence) if 1 <= n <= len(passages)]
        context = [p.text for p in passages]

        def judged(numbers: list[int]) -> float:
            return self.judge.score(sentence, [passages[n - 1].text for n in numbers], context)

        checked = Sentence(sentence, tuple(cited), judged(cited) if cited else 0.0)
        best = best_matching_passage(sentence, passages)
        if best is not None and best not in cited and checked.support < SURE:
            alternative = judged([best])
            if alternative > checked.support:
                checked = Sentence(recite(sentence, best), (best,), alternative)
        before = preceding(passages, list(checked.cited))
        if before and checked.support < self.threshold:
            # "removing this clause" is the AGI clause of the passage just before: judged with it, cited with it.
            joined = [*before, *checked.cited]
            together = judged(joined)
            if together > checked.support:
                checked = Sentence(recite(sentence, *joined), tuple(joined), together)
        return checked

    def _settled(self, question: str, sentence: Sentence, passages: list[Passage]) -> Sentence:
        """A yes/no question's "Yes, …" or "No, …" stands on cited passages that settle the question (the judge's
        `answers_question`): the generator wraps its answer word in the question restated, which a passage settling
        it need not state ("Yes, you can send out mail without a return address" over a passage on how such mail
        is handled). Which answer word is right stays the generator's call."""
        if sentence.support >= self.threshold or not sentence.cited or not opens_with_answer_word(sentence.text):
            return sentence
        settles = self.judge.answers_question(question, [passages[n - 1].text for n in sentence.cited])
        return replace(sentence, support=max(sentence.support, settles))

    def _stands(self, asked: str, kept: list[Sentence], passages: list[Passage], signals: Signals | None, score: float) -> bool:
        return (
            gives_what_was_asked(asked, " ".join(s.text for s in kept))
            and (signals is None or score >= self.min_confidence)
            and not reason_for_another_event(asked, kept, passages)
            and not self._premise_unstated(asked, kept, passages)
        )

    def _premise_unstated(self, question: str, kept: list[Sentence], passages: list[Passage]) -> bool:
        """A "why" answer that restates the question's premise stands only if the passages state that premise: the
        reason may be stated while the premise is contradicted ("Why is Microsoft still the exclusive provider?
        -- Microsoft is still the exclusive provider because the API runs only on Azure [2]", where a passage says
        it no longer is). The premise is judged as its sentence is, on its citations and the passage sharing most
        of its words."""
        premise = premise_restated(question, kept[0].text) if kept else None
        if premise is None:
            return False
        return self.sentence(recite(f"{premise}.", *kept[0].cited), passages).support < self.threshold

    def _signals(self, question: str, sentences: list[Sentence], passages: list[Passage], state: dict[str, float]) -> Signals | None:
        """Each of FEATURES measured on the answer, for the part of `question` that asks (those that cannot be
        measured left out); None when nothing is cited."""
        evidence = [passages[n - 1] for n in cited(sentences, passages)]
        if not evidence:
            return None
        found = Found(question, sentences, passages, evidence, self.judge, state)
        measured = {name: measure(found) for name, measure in FEATURES.items()}
        return Signals({name: float(value) for name, value in measured.items() if value is not None})


@dataclass(frozen=True)
class Found:
    """What a feature reads: the asking part of the question, the kept sentences, the passages shown and those cited."""

    question: str
    sentences: list[Sentence]
    passages: list[Passage]
    evidence: list[Passage]
    judge: Judge
    state: dict[str, float]  # read from the generator's state (STATE_FEATURES), when it was read


def _lowest_support(found: Found) -> float:
    return min(s.support for s in found.sentences if s.support is not None)


def _states_what_was_asked(found: Found) -> float:
    return found.judge.answers_question(found.question, [p.text for p in found.evidence])


# The features the confidence weighs (qa.answering.confidence, weights by these names in qa/models/confidence.json),
# each measured on an answer whose kept sentences cite something (None: not measurable here). Adding or retiring
# a signal is one entry here and a refit.
FEATURES: dict[str, Callable[[Found], float | None]] = {
    "support": _lowest_support,  # the lowest judge support among the answer's sentences
    "asked": _states_what_was_asked,  # the judge's P(yes): the cited passages state the answer to exactly the question
    "answers": lambda found: max(p.answers or 0.0 for p in found.evidence),  # answerability of the best cited passage
    "best": lambda found: max(p.answers or 0.0 for p in found.passages),  # the same for the best passage shown
    # The answer probe's P(the passages answer), qa.models.answer_probe, from the generator's state at the end of
    # the answer prompt (None with a generator whose state cannot be read: a remote one).
    "probe": lambda found: found.state.get("probe"),
}
# Features only a generator whose states are read gives: the confidence keeps a fit without them for the others.
STATE_FEATURES = ("probe",)


def reason_for_another_event(question: str, sentences: list[Sentence], passages: list[Passage]) -> bool:
    """A "why" question presupposes its event: when the question's year or name is in neither the cited
    passages nor the passage just before one ("removing this clause": the AGI clause), the reason they
    give is for another event ("Why did Microsoft end the deal in 2024?")."""
    if not ASKS_WHY.search(question):
        return False
    numbers = cited(sentences, passages)
    named = "\n".join(passages[n - 1].text for n in [*preceding(passages, numbers), *numbers])
    return bool(unmet_constraints(question, named, _titles([passages[n - 1] for n in numbers])))


def cited(sentences: list[Sentence], passages: list[Passage]) -> list[int]:
    """The passage numbers the sentences cite, each once, in the order they cite them: the question check then
    reads its evidence as the sentence check last did, and llama.cpp reuses that prompt ("[2][1]" after a
    sentence was judged with the passage running into its citation)."""
    return list(dict.fromkeys(n for s in sentences for n in s.cited if 1 <= n <= len(passages)))


def preceding(passages: list[Passage], cited: list[int]) -> list[int]:
    """Numbers of the shown passages that run straight into a cited one (same document, at most a line break between)."""
    spans = [passages[n - 1] for n in cited]
    return [
        n for n, p in enumerate(passages, 1)
        if n not in cited and any(p.source == c.source and 0 <= c.start - p.end <= 2 for c in spans)
    ]


def _titles(passages: list[Passage]) -> str:
    return "\n".join(dict.fromkeys(p.title for p in passages))

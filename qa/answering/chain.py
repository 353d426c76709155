"""The answer chain: rewrite → retrieve → generate → resolve → check → answer, each step a part handed in."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from qa.answering.checker import Answerability, Checked, Checker, Mode, shipped_answerability, unchecked
from qa.answering.citations import cite, cited_numbers, is_refusal, resolve, split_sentences
from qa.answering.followup import standalone_question
from qa.answering.judge import Judge
from qa.answering.overview import overview_of, quote
from qa.answering.prompts import REFUSAL, answer_messages
from qa.domain import Answer, Passage, Sentence
from qa.errors import BackendError, CorpusError, QAError, QuestionError
from qa.models.answer_probe import AnswerProbe, shipped_probe
from qa.retrieval.hybrid import IndexRetriever, Retriever
from qa.settings import Settings, Verify
from qa.store.index import Index
from qa.store.ingestion import ingest

MAX_QUESTION_CHARS = 2000
History = Sequence[tuple[str, str]]

log = logging.getLogger("qa")


def clean_question(question: str) -> str:
    """The question with control characters and runs of whitespace collapsed; raises QuestionError."""
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in question).split())
    if not cleaned:
        raise QuestionError("the question is empty")
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(cleaned)} characters long; the limit is {MAX_QUESTION_CHARS}")
    return cleaned


class Clock:
    """Seconds since the question arrived, and each step's own duration (`lap`): "<step>_s", and with a
    token counter (the local model's), the tokens the model newly evaluated in it: "<step>_tokens"."""

    def __init__(self, tokens: Callable[[], int] | None = None) -> None:
        self.started = self._last = time.perf_counter()
        self.timings: dict[str, float] = {}
        self._tokens = tokens
        self._counted = tokens() if tokens else 0

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.timings[f"{step}_s"] = now - self._last
        self._last = now
        if self._tokens:
            counted = self._tokens()
            self.timings[f"{step}_tokens"] = counted - self._counted
            self._counted = counted

    def mark(self, event: str) -> None:
        """Time from the start to `event` (once: the first token)."""
        self.timings.setdefault(event, time.perf_counter() - self.started)

    def total(self) -> dict[str, float]:
        self.timings["total_s"] = time.perf_counter() - self.started
        return self.timings


class AnswerStream:
    """The answer's text as the generator writes it (iterate), and the final Answer (`answer()`).

    The streamed text is the draft; the Answer is what stands after checking (or a refusal).
    """

    def __init__(self, steps: Generator[str, None, Answer]):
        self._steps = steps
        self._answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        # Not a generator delegating to the steps: one dropped half-way would close them for `answer()`.
        if self._answer is not None:
            raise StopIteration
        try:
            return next(self._steps)
        except StopIteration as end:
            self._answer = end.value
            raise StopIteration from None

    def close(self) -> None:
        """Stop generating (the reader went away): the model is freed for the next question; there is no Answer."""
        self._steps.close()

    def answer(self) -> Answer:
        """The final Answer, once the rest of the text is generated."""
        for _ in self:
            pass
        assert self._answer is not None
        return self._answer


class Pipeline:
    """Answers questions from an index with a retriever, a chat model and a checker; `ask` is the API.

    Each part can be handed in (a fake in tests, a reranking retriever); by default they are built from
    the settings. Callers use the methods here, not the parts.
    """

    def __init__(
        self,
        settings: Settings,
        embeddings: Embeddings,
        chat_model: BaseChatModel,
        judge: Judge | None = None,
        index: Index | None = None,
        retriever: Retriever | None = None,
        answerability: Answerability = shipped_answerability,
        probe: AnswerProbe | None = None,
    ):
        self.settings = settings
        self.chat_model = chat_model
        self.index = index or Index(settings, embeddings)
        self.checker = Checker(judge or Judge(chat_model, settings.judge_threshold), settings.min_confidence, answerability)
        self.retriever = retriever or IndexRetriever(self.index, settings)
        self.probe = probe  # None: the shipped one, read when a state is first there to read

    @classmethod
    def from_settings(cls, settings: Settings, index: Index) -> Pipeline:
        """The pipeline the settings name: their backend's chat model for answers and for the judge."""
        from qa.models.backends import make_chat_model, yes_probability

        judge = Judge(make_chat_model(settings, role="judge"), settings.judge_threshold, yes_probability(settings))
        return cls(settings, index.embeddings, make_chat_model(settings), judge=judge, index=index)

    @property
    def judge(self) -> Judge:
        """The judge the checker uses (the eval validates it)."""
        return self.checker.judge

    @property
    def threshold(self) -> float:
        """The support below which an answer sentence is unsupported."""
        return self.checker.threshold

    def ensure_index(self) -> None:
        """Build the index from the corpus directory when it is empty (an empty index would refuse every question,
        which hides the real cause from a new user); with nothing to index, say what to do."""
        if self.index.count() > 0:  # every answer passes here: one count, nothing else
            return
        corpus = self.settings.corpus_dir
        if corpus.is_dir():
            if any(corpus.iterdir()):  # a big corpus takes a while: say why the first answer waits
                log.info("indexing %s first: the index is empty (`qa ingest` does this ahead of time)", corpus)
            ingest(self.index, [corpus])
        if self.index.count() == 0:
            state = "has no documents" if corpus.is_dir() else "does not exist"
            raise CorpusError(
                f"nothing to answer from: the index is empty and the corpus folder {corpus} {state}; "
                "add documents with `qa ingest PATH` or point QA_CORPUS_DIR at a folder of them"
            )

    def warm(self) -> None:
        """Load the models and cache their fixed prompt prefixes, so the first real question pays no start-up."""
        passage = Passage("warm-up", "The harbour opened in 1901.", "warm-up", "Warm-up", 0, 27, score=1.0)
        with self._backend_errors():
            self.chat_model.invoke(answer_messages("When did the harbour open?", [passage]))
            self.judge.answers_question("When did the harbour open?", [passage.text])
            self.checker.assess("When did the harbour open?", [passage])

    def retrieve(self, question: str, top_k: int | None = None) -> list[Passage]:
        return self.retriever.retrieve(question, top_k)

    def search(self, query: str, top_k: int | None = None) -> list[Passage]:
        """The passages retrieval returns for a query, as a user asks for them: the query cleaned, `top_k` checked
        like the setting, the index built first when empty. No generator runs."""
        top_k = self.settings.with_(top_k=top_k).top_k
        query = clean_question(query)
        self.ensure_index()
        return self.retrieve(query, top_k)

    def ask(self, question: str, top_k: int | None = None, verify: Verify | None = None, history: History = ()) -> Answer:
        return self.ask_stream(question, top_k=top_k, verify=verify, history=history).answer()

    def ask_stream(
        self, question: str, top_k: int | None = None, verify: Verify | None = None, history: History = ()
    ) -> AnswerStream:
        """The answer as it is generated, then checked. With `history` (earlier question, answer pairs) a
        follow-up is first rewritten to stand alone."""
        verify = self.settings.with_(verify=verify, top_k=top_k).verify  # per-call values are checked like settings
        return AnswerStream(self._answer(clean_question(question), top_k, verify, history))

    def _answer(self, question: str, top_k: int | None, verify: Verify, history: History) -> Generator[str, None, Answer]:
        """The recipe: rewrite → retrieve → generate (yielding the draft's text) → resolve → check → answer."""
        clock = Clock(_token_counter(self.chat_model))
        question = self._standalone(question, history)
        self.ensure_index()
        mode = Mode.of(verify)
        overview = self._overview(question, mode, clock)
        if overview is not None:
            yield overview.text
            return overview
        passages = self.retrieve(question, top_k)
        if mode.judges:
            passages = self.checker.assess(question, passages)
        clock.lap("retrieve")
        if not passages:
            yield REFUSAL
            return _answered(question, passages, REFUSAL, unchecked([], mode), clock)
        with self._backend_errors():
            draft, _ = resolve((yield from self._generate(question, passages, clock)), passages)
            clock.lap("generate")
            if not mode.judges or is_refusal(draft):
                sentences = [Sentence(s, tuple(cited_numbers(s))) for s in split_sentences(draft)]
                return _answered(question, passages, draft, unchecked(sentences, mode), clock)
            checked = self.checker.check(question, split_sentences(draft), passages, mode, _probed(self.answer_state()))
            clock.lap("verify")
        return _answered(question, passages, " ".join(s.text for s in checked.kept), checked, clock)

    def _standalone(self, question: str, history: History) -> str:
        if not history:
            return question
        with self._backend_errors():
            return standalone_question(self.chat_model, question, list(history))

    def _generate(self, question: str, passages: list[Passage], clock: Clock) -> Generator[str, None, str]:
        """Stream the generator's draft; returns it whole."""
        parts: list[str] = []
        for chunk in self.chat_model.stream(answer_messages(question, passages)):
            if chunk.content:
                clock.mark("first_token_s")
                parts.append(chunk.content)
                yield chunk.content
        return "".join(parts)

    def _overview(self, question: str, mode: Mode, clock: Clock) -> Answer | None:
        """For a broad question, the key sentences of each document it covers, quoted and each cited to its
        own span; None for other questions, or when no document has a sentence to quote."""
        overview = overview_of(question, self.index.documents)
        quoted = overview and quote(overview, self.index, self.checker, mode)
        if not quoted:
            return None
        clock.lap("retrieve")
        return _answered(question, quoted.passages, quoted.text if quoted.checked.kept else REFUSAL, quoted.checked, clock)

    def answer_state(self) -> tuple[AnswerProbe, dict[int, np.ndarray]] | None:
        """The last answer prompt's state in the generator, by layer, and the probe reading it (None: none kept)."""
        state = getattr(self.chat_model, "prompt_state", lambda: None)()
        return None if state is None else (self.probe or shipped_probe(), state)

    @contextmanager
    def _backend_errors(self) -> Iterator[None]:
        """Any failure of the generator becomes one BackendError that names the endpoint."""
        try:
            yield
        except QAError:
            raise
        except Exception as e:  # noqa: BLE001 - timeouts, refused connections, HTTP errors, llama.cpp errors
            from qa.models.backends import describe

            raise BackendError(f"the generator ({describe(self.settings)}) failed: {type(e).__name__}: {e}") from e


def _token_counter(chat_model: BaseChatModel) -> Callable[[], int] | None:
    """The count of tokens the chat model has evaluated, when it keeps one (the local model does)."""
    if not hasattr(type(chat_model), "evaluated_tokens"):
        return None
    return lambda: chat_model.evaluated_tokens


def _probed(found: tuple[AnswerProbe, dict[int, np.ndarray]] | None) -> dict[str, float]:
    """What the answer prompt's state says (Pipeline.answer_state): the answer probe's P(the passages answer)."""
    value = found[0].read_state(found[1]) if found else None
    return {} if value is None else {"probe": value}


def _answered(question: str, passages: list[Passage], text: str, checked: Checked, clock: Clock) -> Answer:
    """The Answer: `text` (its markers already resolved) with its citations, or a refusal when nothing in it is cited."""
    citations = cite(text, passages)
    sentences = checked.kept
    refused = is_refusal(text) or not citations
    if refused:
        # An uncited answer is treated as a refusal: nothing is shown that no passage backs.
        text, citations, sentences = REFUSAL, [], []
    return Answer(question, text, citations, passages, refused, clock.total(), sentences, checked.dropped, checked.confidence, checked.signals)

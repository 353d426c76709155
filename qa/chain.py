"""The answer chain: retrieve passages, prompt with them numbered, generate, resolve citations or refuse."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from qa.citations import best_matching_passage, cited_numbers, is_refusal, recite, resolve, split_sentences
from qa.domain import Answer, Passage, Sentence
from qa.errors import BackendError, CorpusError, QAError, QuestionError
from qa.followup import standalone_question
from qa.generators import describe
from qa.index import Index
from qa.asked import gives_what_was_asked, unmet_constraints
from qa.confidence import Signals, confidence
from qa.judge import Judge
from qa.overview import Overview, key_sentences, overview_of
from qa.prompts import REFUSAL, answer_messages
from qa.retrieval import PassageRetriever, to_passage
from qa.settings import Settings, Verify
from qa.text import ASKS_WHY, what_is_asked

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


class Pipeline:
    """Index, retriever and generator for one Settings; `ask` and `ask_stream` are the whole API."""

    def __init__(
        self,
        settings: Settings,
        embeddings: Embeddings,
        chat_model: BaseChatModel,
        judge_model: BaseChatModel | None = None,
        index: Index | None = None,
    ):
        self.settings = settings
        self.chat_model = chat_model
        self.index = index or Index(settings, embeddings)
        self.judge = Judge(judge_model or chat_model, settings.judge_threshold)
        self.retriever = PassageRetriever(
            store=self.index.store,
            keep=self.index.keep_live,
            k=settings.top_k,
            min_score=settings.min_score,
            margin=settings.score_margin,
        )

    def ensure_index(self) -> None:
        """Build the index from the corpus directory when it is empty; with nothing to index, say what to do.

        An empty index would refuse every question, which hides the real cause from a new user.
        """
        if self.index.count() > 0:  # every answer passes here: one count, nothing else
            return
        corpus = self.settings.corpus_dir
        if corpus.is_dir():
            if any(corpus.iterdir()):  # a big corpus takes a while: say why the first answer waits
                log.info("indexing %s first: the index is empty (`qa ingest` does this ahead of time)", corpus)
            self.index.ingest([corpus])
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

    def retrieve(self, question: str, top_k: int | None = None) -> list[Passage]:
        retriever = self.retriever if top_k is None else self.retriever.model_copy(update={"k": top_k})
        with self.index.guard():
            return [to_passage(d) for d in retriever.invoke(question)]

    def ask(
        self, question: str, top_k: int | None = None, verify: Verify | None = None, history: History = ()
    ) -> Answer:
        *_, answer = self.ask_stream(question, top_k=top_k, verify=verify, history=history)
        return answer

    def ask_stream(
        self, question: str, top_k: int | None = None, verify: Verify | None = None, history: History = ()
    ) -> Iterator[str | Answer]:
        """Yield the answer's text as it is generated, then the finished Answer as the last item.

        The streamed text is the generator's draft; the Answer is final (verified, cleaned, or a refusal).
        With `history` (earlier question, answer pairs) a follow-up is first rewritten to stand alone.
        """
        verify = self.settings.with_(verify=verify, top_k=top_k).verify  # per-call values are checked like settings
        started = time.perf_counter()
        question = clean_question(question)
        if history:
            with self._backend_errors():
                question = standalone_question(self.chat_model, question, list(history))
        self.ensure_index()
        overview = overview_of(question, self.index.documents)
        if overview is not None:
            answer = self._overview(question, overview, verify, started)
            if answer is not None:
                yield answer.text
                yield answer
                return
        passages = self.retrieve(question, top_k)
        timings = {"retrieve_s": time.perf_counter() - started}

        def finish(
            text: str, sentences: list[Sentence], dropped: list[Sentence], signals: Signals | None = None
        ) -> Answer:
            text, citations = resolve(text, passages)
            refused = is_refusal(text) or not citations
            if refused:
                # An uncited answer is treated as a refusal: nothing is shown that no passage backs.
                text, citations, sentences = REFUSAL, [], []
            timings["total_s"] = time.perf_counter() - started
            score = None if verify == "off" else (confidence(signals) if signals else 0.0)
            return Answer(question, text, citations, passages, refused, timings, sentences, dropped, score, signals)

        if not passages:
            yield REFUSAL
            yield finish(REFUSAL, [], [])
            return
        with self._backend_errors():
            parts: list[str] = []
            for chunk in self.chat_model.stream(answer_messages(question, passages)):
                if chunk.content:
                    timings.setdefault("first_token_s", time.perf_counter() - started)
                    parts.append(chunk.content)
                    yield chunk.content
            timings["generate_s"] = time.perf_counter() - started - timings["retrieve_s"]
            draft, _ = resolve("".join(parts), passages)
            if verify == "off" or is_refusal(draft):
                yield finish(draft, [Sentence(s, tuple(cited_numbers(s))) for s in split_sentences(draft)], [])
                return
            checked = [self._verify(s, passages) for s in split_sentences(draft)]
            kept = [s for s in checked if verify == "mark" or s.support >= self.judge.threshold]
            # Nothing supported is refused whatever else holds: its confidence is 0, with no more model calls.
            asked = what_is_asked(question)
            signals = self._signals(asked, kept, passages) if kept else None
            timings["verify_s"] = time.perf_counter() - started - timings["retrieve_s"] - timings["generate_s"]
            if verify == "drop" and (
                not gives_what_was_asked(asked, " ".join(s.text for s in kept))
                or (signals is not None and confidence(signals) < self.settings.min_confidence)
                or self._reason_for_another_event(asked, kept, passages)
            ):
                kept = []
            dropped = [s for s in checked if s not in kept]
            yield finish(" ".join(s.text for s in kept), kept, dropped, signals)

    @contextmanager
    def _backend_errors(self) -> Iterator[None]:
        """Any failure of the generator becomes one BackendError that names the endpoint."""
        try:
            yield
        except QAError:
            raise
        except Exception as e:  # noqa: BLE001 - timeouts, refused connections, HTTP errors, llama.cpp errors
            raise BackendError(f"the generator ({describe(self.settings)}) failed: {type(e).__name__}: {e}") from e

    def _overview(self, question: str, overview: Overview, verify: Verify, started: float) -> Answer | None:
        """The key sentences of each document the question covers, quoted and each cited to its own span;
        None when no document has a sentence to quote (the question is then answered as any other)."""
        groups = [key_sentences(self.index.chunks(s), self.index.vectors, overview.points) for s in overview.sources]
        passages = [p for group in groups for p in group]
        if not passages:
            return None
        timings = {"retrieve_s": time.perf_counter() - started}
        kept: list[Sentence] = []
        dropped: list[Sentence] = []
        lines: list[str] = []
        number = 0
        for group in groups:
            points = []
            for passage in group:
                number += 1
                text = recite(" ".join(passage.text.split()), number)  # a PDF's line breaks read as spaces
                # A quote is its passage's own words (the judge says so without the model); checked all the same.
                sentence = Sentence(text, (number,), None if verify == "off" else self.judge.score(text, [passage.text]))
                if verify == "drop" and sentence.support < self.judge.threshold:
                    dropped.append(sentence)
                else:
                    kept.append(sentence)
                    points.append(f"- {text}")
            if points and len(groups) > 1:
                lines.append(f"**{group[0].title}** ({group[0].source})")
            lines += points
        if overview.documents > len(overview.sources) and len(overview.sources) > 1:
            lines.append(f"({overview.documents - len(overview.sources)} more documents not covered: ask about one by its title.)")
        text, citations = resolve("\n".join(lines), passages)
        timings["verify_s"] = time.perf_counter() - started - timings["retrieve_s"]
        timings["total_s"] = time.perf_counter() - started
        if not kept:
            return Answer(question, REFUSAL, [], passages, True, timings, [], dropped, 0.0)
        score = None if verify == "off" else min(s.support for s in kept)
        return Answer(question, text, citations, passages, False, timings, kept, dropped, score)

    def _signals(self, question: str, sentences: list[Sentence], passages: list[Passage]) -> Signals | None:
        """What the confidence is computed from, for the part of `question` that asks; None when nothing is cited."""
        cited = _cited(sentences, passages)
        if not cited:
            return None
        evidence = [passages[n - 1] for n in cited]
        titles = "\n".join(dict.fromkeys(p.title for p in evidence))
        return Signals(
            support=min(s.support for s in sentences if s.support is not None),
            asked=self.judge.answers_question(question, [p.text for p in evidence]),
            unmet=len(unmet_constraints(question, "\n".join(p.text for p in evidence), titles)),
        )

    @staticmethod
    def _reason_for_another_event(question: str, sentences: list[Sentence], passages: list[Passage]) -> bool:
        """A "why" question presupposes its event: when the question's year or name is in neither the cited
        passages nor the passage just before one ("removing this clause": the AGI clause), the reason they
        give is for another event ("Why did Microsoft end the deal in 2024?")."""
        if not ASKS_WHY.search(question):
            return False
        cited = _cited(sentences, passages)
        evidence = [passages[n - 1] for n in cited]
        named = "\n".join(passages[n - 1].text for n in [*_preceding(passages, cited), *cited])
        return bool(unmet_constraints(question, named, "\n".join(dict.fromkeys(p.title for p in evidence))))

    def _verify(self, sentence: str, passages: list[Passage]) -> Sentence:
        """Judge a sentence against its cited passages, against the passage sharing most of its words, and,
        failing both, together with the passage running into its citation.

        Small models often copy a passage faithfully and then cite the wrong number; the judge,
        not the word overlap, decides which citation stands. One passage is cited where one backs it.
        """
        cited = [n for n in cited_numbers(sentence) if 1 <= n <= len(passages)]
        context = [p.text for p in passages]

        def judged(numbers: list[int]) -> float:
            return self.judge.score(sentence, [passages[n - 1].text for n in numbers], context)

        checked = Sentence(sentence, tuple(cited), judged(cited) if cited else 0.0)
        best = best_matching_passage(sentence, passages)
        if best is not None and best not in cited:
            alternative = judged([best])
            if alternative > checked.support:
                checked = Sentence(recite(sentence, best), (best,), alternative)
        before = _preceding(passages, list(checked.cited))
        if before and checked.support < self.judge.threshold:
            # "removing this clause" is the AGI clause of the passage just before: judged with it, cited with it.
            joined = [*before, *checked.cited]
            together = judged(joined)
            if together > checked.support:
                checked = Sentence(recite(sentence, *joined), tuple(joined), together)
        return checked


def _cited(sentences: list[Sentence], passages: list[Passage]) -> list[int]:
    """The passage numbers the sentences cite, each once, in order."""
    return sorted({n for s in sentences for n in s.cited if 1 <= n <= len(passages)})


def _preceding(passages: list[Passage], cited: list[int]) -> list[int]:
    """Numbers of the shown passages that run straight into a cited one (same document, at most a line break between)."""
    spans = [passages[n - 1] for n in cited]
    return [
        n for n, p in enumerate(passages, 1)
        if n not in cited and any(p.source == c.source and 0 <= c.start - p.end <= 2 for c in spans)
    ]

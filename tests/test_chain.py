"""The answer chain with a scripted chat model: citations, refusals and verification, without the real LLM."""

import numpy as np
import pytest
from conftest import ScriptedJudge, says, yes

from qa.answering.chain import Pipeline
from qa.answering.prompts import REFUSAL
from qa.errors import QuestionError
from qa.models.answer_probe import AnswerProbe


def make_pipeline(settings, embeddings, answer: str, states: float = 1.0, asked: float = 1.0, answers: float = 1.0) -> Pipeline:
    """The answer role says `answer`; the judge's model says P(yes) = `states` to claims, `asked` to the question;
    the answerability model gives every passage `answers`."""
    return Pipeline(
        settings, embeddings, says(answer), judge=ScriptedJudge(yes(states), yes(asked)),
        answerability=lambda question, texts: [answers] * len(texts),
    )


def test_a_cited_answer_carries_the_passage_and_its_span(settings, embeddings, corpus):
    p = make_pipeline(settings, embeddings, "The core partnership will continue until 2030 [1].")
    answer = p.ask("Until when will the core partnership continue?")
    assert not answer.refused
    assert answer.text == "The core partnership will continue until 2030 [1]."
    [citation] = answer.citations
    source = (corpus / "microsoft-openai-partnership.md").read_text()
    assert source[citation.start : citation.end] == citation.text
    assert "until 2030" in citation.text
    assert answer.sentences[0].support == 1.0
    assert "Sources:" in str(answer) and "[1]" in str(answer)


def test_the_index_is_built_on_first_use(settings, embeddings):
    p = make_pipeline(settings, embeddings, "It continues until 2030 [1].")
    assert p.index.count() == 0
    p.ask("Until when will the core partnership continue?")
    assert p.index.count() > 0


def test_markers_to_missing_passages_are_dropped(settings, embeddings):
    p = make_pipeline(settings, embeddings, "The partnership continues until 2030 [1][9].")
    answer = p.ask("Until when will the core partnership continue?")
    assert answer.text == "The partnership continues until 2030 [1]."
    assert [c.number for c in answer.citations] == [1]


def test_an_uncited_answer_becomes_a_refusal(settings, embeddings):
    p = make_pipeline(settings, embeddings, "Jensen Huang is the CEO.")
    answer = p.ask("Who is the CEO of Nvidia?", verify="off")
    assert answer.refused and answer.text == REFUSAL and answer.citations == []


def test_the_generators_refusal_is_passed_on(settings, embeddings):
    p = make_pipeline(settings, embeddings, REFUSAL)
    answer = p.ask("How many employees does OpenAI have?")
    assert answer.refused and answer.passages  # passages were retrieved, and still nothing answered


def test_nothing_relevant_retrieved_refuses_without_calling_the_generator(settings, embeddings):
    p = make_pipeline(settings, embeddings, "should not be asked [1].")
    answer = p.ask("What is the capital of France?")
    assert answer.refused and answer.passages == []
    assert p.chat_model.calls == []


def test_unsupported_sentences_are_dropped_and_all_unsupported_refuses(settings, embeddings):
    p = make_pipeline(settings, embeddings, "Microsoft invested $100 billion [1].", states=0.0)
    answer = p.ask("How much did Microsoft invest?")
    assert answer.refused
    assert [s.text for s in answer.dropped] == ["Microsoft invested $100 billion [1]."]


def test_mark_mode_keeps_unsupported_sentences_with_their_score(settings, embeddings):
    p = make_pipeline(settings, embeddings, "The partnership continues until 2030 [1].", states=0.0)
    answer = p.ask("Until when will the core partnership continue?", verify="mark")
    assert not answer.refused and answer.sentences[0].support == 0.0


def test_a_wrong_citation_is_repointed_when_the_judge_confirms_the_right_passage(settings, embeddings):
    judge = ScriptedJudge(states=lambda claim, evidence: float("until 2030" in evidence))
    p = Pipeline(settings, embeddings, says("The core partnership will continue until 2030 [2]."), judge=judge)
    answer = p.ask("Until when will the core partnership continue?")
    assert len(answer.citations) == 1 and "until 2030" in answer.citations[0].text


def test_a_number_missing_from_the_passage_fails_without_asking_the_judge(settings, embeddings):
    p = make_pipeline(settings, embeddings, "The core partnership will continue until 2035 [1].")
    answer = p.ask("Until when will the core partnership continue?")
    assert answer.refused
    assert p.judge.claims == [] and p.judge.questions == []  # refused with confidence 0: no question check either


def test_streaming_yields_text_then_gives_the_answer(settings, embeddings):
    p = make_pipeline(settings, embeddings, "It continues until 2030 [1].")
    stream = p.ask_stream("Until when will the core partnership continue?")
    assert "".join(stream) == "It continues until 2030 [1]."
    assert stream.answer().text == "It continues until 2030 [1]." and not stream.answer().refused


def test_the_answer_can_be_asked_for_before_the_text_is_read(settings, embeddings):
    p = make_pipeline(settings, embeddings, "It continues until 2030 [1].")
    stream = p.ask_stream("Until when will the core partnership continue?")
    assert next(iter(stream))  # part of the text read, then the rest generated by answer()
    assert stream.answer().citations and list(stream) == []


@pytest.mark.parametrize("question", ["", "   \n\t", "\x00\x07", "x" * 2001, None])
def test_bad_questions_raise_question_error(settings, embeddings, question):
    p = make_pipeline(settings, embeddings, "unused")
    with pytest.raises(QuestionError):
        p.ask(question)


def test_control_characters_are_cleaned_from_questions(settings, embeddings):
    p = make_pipeline(settings, embeddings, "It continues until 2030 [1].")
    assert p.ask("Until when\x00 will the\tcore partnership\x1b continue?").question == (
        "Until when will the core partnership continue?"
    )


def test_a_sentence_copied_from_its_passage_is_supported_without_asking_the_judge(settings, embeddings):
    p = make_pipeline(settings, embeddings, "The core partnership will continue until 2030 [1].", states=0.0)
    answer = p.ask("Until when will the core partnership continue?")
    assert not answer.refused and answer.sentences[0].support == 1.0
    assert p.judge.claims == []


def test_a_when_question_answered_without_a_time_is_refused(settings, embeddings):
    p = make_pipeline(settings, embeddings, "OpenAI achieved AGI [1].")
    answer = p.ask("When did OpenAI achieve AGI?")
    assert answer.refused and [s.text for s in answer.dropped] == ["OpenAI achieved AGI [1]."]


def test_a_supported_answer_to_another_question_is_refused_below_the_confidence_threshold(settings, embeddings):
    # The sentence copies its passage (supported), but the judge and the answerability model both say the
    # passage does not answer this question.
    strict = settings.with_(min_confidence=0.4)
    p = make_pipeline(strict, embeddings, "The core partnership will continue until 2030 [1].", asked=0.0, answers=0.0)
    answer = p.ask("Until when will the core partnership continue?")
    assert answer.refused and answer.confidence < p.settings.min_confidence
    assert answer.signals["support"] == 1.0 and answer.signals["asked"] == 0.0
    assert [s.text for s in answer.dropped] == ["The core partnership will continue until 2030 [1]."]

    lenient = make_pipeline(
        settings.with_(min_confidence=0.0), embeddings, "The core partnership will continue until 2030 [1].", asked=0.0, answers=0.0
    )
    assert not lenient.ask("Until when will the core partnership continue?").refused


def test_every_checked_answer_carries_its_confidence(settings, embeddings):
    p = make_pipeline(settings, embeddings, "The core partnership will continue until 2030 [1].")
    answer = p.ask("Until when will the core partnership continue?")
    assert not answer.refused and answer.confidence >= p.settings.min_confidence
    assert f"(confidence {answer.confidence:.2f})" in str(answer)
    assert answer.to_dict()["confidence"] == answer.confidence and answer.to_dict()["signals"]["asked"] == 1.0
    assert p.ask("Until when will the core partnership continue?", verify="off").confidence is None


@pytest.mark.parametrize("support, readings", [(0.95, 1), (0.6, 2)])
def test_another_passage_is_read_only_when_the_citation_is_not_sure(settings, embeddings, support, readings):
    """A paraphrase whose citation surely supports it keeps it; a doubtful one is also judged against the passage
    sharing most of its words (each reading costs the judge a passage of prompt)."""
    judge = ScriptedJudge(states=yes(support))
    p = Pipeline(
        settings, embeddings, says("Microsoft is no longer OpenAI's exclusive data centre provider [2]."), judge=judge,
        answerability=lambda question, texts: [1.0] * len(texts),
    )
    answer = p.ask("Is Microsoft still the exclusive provider of data center infrastructure for OpenAI?")
    assert not answer.refused
    assert len(judge.claims) == readings


class StatefulChat(type(says(""))):
    """A scripted chat model that, like the local one, keeps the state its answer prompt left (one layer's)."""

    state: list[float] = []

    def prompt_state(self) -> dict:
        return {20: np.array(self.state)}


def test_the_answer_probe_reads_the_state_the_answer_prompt_left_and_the_confidence_weighs_it(settings, embeddings):
    # A probe on a two-number "state": P(answerable) high when the first number is.
    probe = AnswerProbe(20, np.zeros(2), np.ones(2), np.array([0.0, 3.0, 0.0]))
    question, draft = "Until when will the core partnership continue?", "The core partnership will continue until 2030 [1]."
    rated = {}
    for first in (1.0, -1.0):
        chat = StatefulChat(reply=lambda _m: draft, state=[first, 5.0])
        p = Pipeline(settings, embeddings, chat, judge=ScriptedJudge(yes(1.0), yes(0.5)), answerability=lambda q, t: [0.5] * len(t), probe=probe)
        answer = p.ask(question)
        assert answer.signals["probe"] == pytest.approx(1 / (1 + np.exp(-3 * first)))
        rated[first] = answer.confidence
    assert rated[1.0] > rated[-1.0]  # the shipped fit weighs the probe: a state that says "unanswerable" lowers it
    plain = Pipeline(settings, embeddings, says(draft), judge=ScriptedJudge(yes(1.0), yes(0.5)), probe=probe).ask(question)
    assert "probe" not in plain.signals.features and plain.confidence is not None  # no state read: the fit without it


def test_an_eval_keeps_the_state_each_answers_probe_read_so_a_later_probe_reads_the_same_drafts(settings, embeddings):
    from qa.evaluation.answer_states import StateKeeper, decoded
    from qa.evaluation.calibrate import signals_of

    probe = AnswerProbe(20, np.zeros(2), np.ones(2), np.array([0.0, 3.0, 0.0]))
    chat = StatefulChat(reply=lambda _m: "The core partnership will continue until 2030 [1].", state=[0.5, 5.0])
    judge = ScriptedJudge(yes(1.0), yes(0.5))
    p = Pipeline(settings, embeddings, chat, judge=judge, answerability=lambda q, t: [0.5] * len(t), probe=probe)
    keeper = StateKeeper(p)
    answer = keeper.ask("Until when will the core partnership continue?")
    kept = keeper.kept[-1]
    assert probe.read_state(decoded(kept)) == pytest.approx(answer.signals["probe"], abs=1e-3)  # float16 kept
    later = AnswerProbe(20, np.zeros(2), np.ones(2), np.array([0.0, 0.0, -2.0]))  # reads the second number
    result = {"signals": answer.signals.to_dict(), "answer_state": kept}
    assert signals_of(result, later)["probe"] == pytest.approx(1 / (1 + np.exp(10.0)), rel=1e-2)
    assert signals_of(result, None)["probe"] == answer.signals["probe"]  # without a probe, as the run read it
    assert "probe" not in signals_of({"signals": answer.signals.to_dict()}, later).features  # no state kept: no reading
    chat.state = [-0.5, 5.0]  # the generator's state moved on without an answer to go with it
    with pytest.raises(RuntimeError, match="not the one"):
        keeper._state_of(answer)
    keeper.ask("What is the capital of Mars?")  # nothing retrieved is relevant: refused, no feature, nothing kept
    assert keeper.kept[-1] is None


@pytest.mark.parametrize(("settles", "stands"), [(0.95, True), (0.1, False)])
def test_a_yes_no_answer_stands_on_a_passage_that_settles_the_question_not_on_its_restatement(
    settings, embeddings, settles, stands
):
    # The judge finds the restatement ("OpenAI can ...") unstated; whether the passage settles the question decides.
    draft = "Yes, OpenAI can seek cloud capacity from other providers [1]."
    judge = ScriptedJudge(states=yes(0.2), asked=yes(settles))
    question = "Can OpenAI get cloud capacity from providers other than Microsoft?"
    answer = Pipeline(settings, embeddings, says(draft), judge=judge).ask(question)
    assert answer.refused is not stands
    if stands:
        assert answer.text.startswith("Yes,") and answer.sentences[0].support == pytest.approx(settles)
    plain = says("OpenAI can seek cloud capacity elsewhere [1].")
    not_yes_no = Pipeline(settings, embeddings, plain, judge=ScriptedJudge(yes(0.2), yes(0.95)))
    assert not_yes_no.ask("Where can OpenAI get cloud capacity?").refused  # not a yes/no answer: the sentence alone


@pytest.mark.parametrize(("premise_stated", "stands"), [(0.9, True), (0.1, False)])
def test_a_why_answer_stands_only_if_the_passages_state_the_premise_it_restates(
    settings, embeddings, premise_stated, stands
):
    # The reason is stated; the premise the answer restates before "because" decides ("still" is no longer so).
    draft = "Microsoft is still OpenAI's exclusive data center provider because the API runs only on Azure [1]."
    judge = ScriptedJudge(states=lambda claim, evidence: premise_stated if "because" not in claim else 0.9)
    question = "Why is Microsoft still OpenAI's exclusive data center provider?"
    answer = Pipeline(settings, embeddings, says(draft), judge=judge).ask(question)
    assert answer.refused is not stands
    assert "Microsoft is still OpenAI's exclusive data center provider." in [claim for claim, _ in judge.claims]

"""The answerability model: its training pairs, the shipped model, and how the checker reads it once."""

import json

import pytest
from conftest import ScriptedJudge, says
from test_squad import TINY

from qa.answering.checker import Checker, Mode
from qa.domain import Passage
from qa.evaluation.pairs import HELD_OUT_SHARE, Pair, gold_spans, held_out, label, load, save
from qa.evaluation.squad import load_squad
from qa.models.answerability import MODEL_PATH, AnswerabilityModel, shipped_model

BRIDGE = "The Old Bridge opened to traffic in 1932. It was paid for by the Harbor Trust."
LANES = "The bridge carries eight lanes of road traffic and two rail lines."


def _passage(text: str, start: int = 0, id_: str = "p") -> Passage:
    return Passage(id_, text, "doc.md", "Doc", start, start + len(text), 0.5)


def test_the_shipped_model_is_small_and_says_which_passage_answers():
    assert MODEL_PATH.is_file() and MODEL_PATH.stat().st_size < 30_000_000
    answering, other = shipped_model().scores("When did the Old Bridge open?", [BRIDGE, LANES])
    assert answering > 0.5 > other
    assert shipped_model().scores("When did the Old Bridge open?", []) == []


def test_a_question_longer_than_the_model_reads_is_cut_not_failed():
    long_question = "When did the Old Bridge open to traffic? " * 80  # ~640 tokens, within the 2,000-character limit
    assert 0.0 <= shipped_model().score(long_question[:2000], BRIDGE) <= 1.0


def test_scores_are_the_same_alone_and_in_a_batch():
    model = AnswerabilityModel()
    together = model.scores("How many lanes does the bridge carry?", [BRIDGE, LANES])
    alone = [model.score("How many lanes does the bridge carry?", p) for p in (BRIDGE, LANES)]
    assert together == alone  # a passage's score must not depend on the others retrieved with it


@pytest.mark.parametrize(
    "start, text, spans, answers, expected",
    [
        (0, "The bridge opened in 1932.", [(21, 25)], ("1932",), 1),  # holds the gold span
        (100, "A plaque says 1932.", [(21, 25)], ("1932",), None),  # the answer's words elsewhere: in doubt, left out
        (100, "It carries eight lanes.", [(21, 25)], ("1932",), 0),  # no answer at all
        (0, "The bridge opened in 1932.", [], (), 0),  # an unanswerable question: nothing answers it
        (10, "The bridge opened in 1932.", [(5, 14)], ("x",), 0),  # the span starts before the passage
    ],
)
def test_a_passage_is_labelled_by_the_gold_span_it_holds(start, text, spans, answers, expected):
    assert label(_passage(text, start), spans, answers) == expected


def test_gold_spans_point_at_the_answers_in_the_article_document(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    squad, spans = load_squad(path), gold_spans(path)
    text = squad.documents["old-bridge.md"]
    assert [text[s:e] for s, e in spans["a1"]] == ["1932"] and [text[s:e] for s, e in spans["a2"]] == ["eight"]
    assert spans["u1"] == []


def test_the_held_out_paragraphs_are_stable_and_about_their_share():
    for article, share in (("Beyoncé", 0.15), ("The_Legend_of_Zelda:_Twilight_Princess", HELD_OUT_SHARE["The_Legend_of_Zelda:_Twilight_Princess"])):
        chosen = [held_out(article, n) for n in range(400)]
        assert chosen == [held_out(article, n) for n in range(400)]
        assert abs(sum(chosen) / 400 - share) < 0.06


def test_pairs_survive_a_round_trip(tmp_path):
    pairs = [Pair("Q?", "P.", 1, "A", 3, 0), Pair("Q?", "R.", 0, "A", 3, -1)]
    save(pairs, tmp_path / "pairs.jsonl")
    assert load(tmp_path / "pairs.jsonl") == pairs


def test_each_passage_is_scored_once_per_question():
    calls = []

    def answerability(question, texts):
        calls.append(texts)
        return [0.9 if "1932" in t else 0.1 for t in texts]

    checker = Checker(ScriptedJudge(), 0.0, answerability)
    passages = checker.assess("When did it open?", [_passage(BRIDGE, id_="a"), _passage(LANES, 200, "b")])
    assert [p.answers for p in passages] == [0.9, 0.1]
    assert checker.assess("When did it open?", passages) == passages and len(calls) == 1
    checked = checker.check("When did it open?", ["It opened to traffic in 1932 [1]."], passages, Mode.of("drop"))
    assert checked.signals["answers"] == 0.9 and checked.signals["best"] == 0.9 and len(calls) == 1


@pytest.mark.slow  # indexes a SQuAD article: ~7 s
def test_the_answer_carries_what_the_answerability_model_said(settings, embeddings):
    from qa.answering.chain import Pipeline

    p = Pipeline(
        settings, embeddings, says("The core partnership will continue until 2030 [1]."), judge=ScriptedJudge(),
        answerability=lambda q, texts: [0.8 if "2030" in t else 0.05 for t in texts],
    )
    answer = p.ask("Until when will the core partnership continue?")
    assert not answer.refused and answer.signals["answers"] == 0.8 and answer.signals["best"] == 0.8
    assert answer.passages[0].answers is not None and answer.to_dict()["passages"][0]["answers"] is not None
    assert p.ask("Until when will the core partnership continue?", verify="off").passages[0].answers is None


@pytest.mark.slow  # retrieval over a fresh index, a fine-tuning step, an ONNX export
def test_the_training_script_makes_a_model_the_package_can_load(tmp_path):
    from qa.evaluation.train_answerability import main

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    out = tmp_path / "model" / "answerability.onnx"
    build, work = tmp_path / "build", tmp_path / "work"
    main([str(path), "--build", str(build), "--work", str(work), "--out", str(out), "--curve", "1"])
    pairs = load(build / "tiny-develop-pairs.jsonl")
    assert {(p.question, p.label) for p in pairs} >= {("When did the Old Bridge open?", 1), ("When did the Old Bridge close?", 0)}
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["training_pairs"] > 0 and card["trained_on"][0]["file"] == "tiny.json"
    assert card["onnx_bytes"] == out.stat().st_size
    assert [point["trained_questions"] for point in card["curve"]] == sorted({1, card["training_questions"]})
    assert (work / "at-1.pt").exists() and (work / "state.pt").exists()
    assert 0.0 <= AnswerabilityModel(out).score("When did the Old Bridge open?", BRIDGE) <= 1.0


def test_the_shipped_weights_are_checked_and_an_altered_or_missing_file_fails_in_one_line(tmp_path):
    from qa.errors import ModelFileError
    from qa.models.answer_probe import PROBE_FILE, PROBE_SHA256
    from qa.models.answerability import MODEL_PATH, MODEL_SHA256
    from qa.models.model_files import verified

    assert verified(MODEL_PATH, MODEL_SHA256, "the answerability model") == MODEL_PATH
    assert verified(PROBE_FILE, PROBE_SHA256, "the answer probe") == PROBE_FILE
    altered = tmp_path / "answerability.onnx"
    altered.write_bytes(MODEL_PATH.read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelFileError, match=r"has sha256 \w+, expected") as failure:
        verified(altered, MODEL_SHA256, "the answerability model")
    assert "\n" not in str(failure.value)
    with pytest.raises(ModelFileError, match="is missing; reinstall"):
        verified(tmp_path / "gone.onnx", MODEL_SHA256, "the answerability model")


def test_the_paragraphs_of_the_questions_the_confidence_is_fitted_on_are_kept_out_of_training():
    from qa.evaluation.calibrate import calibration_ids
    from qa.evaluation.pairs import SQUAD_DEV
    from qa.evaluation.squad import load_squad
    from qa.evaluation.train_answerability import calibration_paragraphs

    ids = calibration_ids()
    q = next(q for q in load_squad(SQUAD_DEV).questions if q.id in ids)
    pairs = [Pair(q.question, "its passage", 0, q.article, 7, 0), Pair("Another question?", "a passage", 1, q.article, 8, 0)]
    assert calibration_paragraphs(pairs) == {(q.article, 7)}


def test_a_batch_holds_whole_questions_and_counts_the_questions_seen():
    from qa.evaluation.train_answerability import BATCH, batches, by_question

    pairs = [Pair(f"Question {n}?", f"passage {k}", int(k == 0), "A", n, k) for n in range(10) for k in range(5)]
    questions = by_question(pairs, seed=0)
    assert questions == by_question(pairs, seed=0) and sorted(len(g) for g in questions) == [5] * 10
    planned = batches(questions)
    assert [len(b) for b, _ in planned] == [20, 20, 10] and BATCH == 16
    assert [seen for _, seen in planned] == [4, 8, 10]
    assert all(len({p.question for p in b}) * 5 == len(b) for b, _ in planned)

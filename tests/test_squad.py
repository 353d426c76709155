"""SQuAD 2.0 mode: the file becomes a corpus, a seeded sample is scored, calibration and coverage are reported."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from qa.domain import Answer, Citation, Passage, Sentence, Signals
from qa.errors import QAError
from qa.evaluation.confidence_metrics import calibration, coverage_curve
from qa.evaluation.report import render
from qa.evaluation.squad import holds_answer, load_squad, normalize, score, summarize

SQUAD2 = ROOT.parent / "shared" / "benchmarks" / "squad2" / "train-v2.0-first10.json"

TINY = {
    "data": [
        {
            "title": "Old_Bridge",
            "paragraphs": [
                {
                    "context": "The Old Bridge opened in 1932. The Harbor Trust paid for its towers.",
                    "qas": [
                        {"id": "a1", "question": "When did the Old Bridge open?", "is_impossible": False,
                         "answers": [{"text": "1932", "answer_start": 25}]},
                        {"id": "u1", "question": "When did the Old Bridge close?", "is_impossible": True, "answers": [],
                         "plausible_answers": [{"text": "1932", "answer_start": 25}]},
                    ],
                },
                {
                    "context": "It carries eight lanes.",
                    "qas": [{"id": "a2", "question": "How many lanes does it carry?", "is_impossible": False,
                             "answers": [{"text": "eight", "answer_start": 11}]}],
                },
            ],
        }
    ]
}


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return load_squad(path)


def test_each_article_becomes_one_document_with_its_paragraphs_spans(tiny):
    [(source, text)] = tiny.documents.items()
    assert source == "old-bridge.md" and text.startswith("# Old Bridge\n\n")
    for q in tiny.questions:
        assert text[q.start : q.end] in (TINY["data"][0]["paragraphs"][0]["context"], "It carries eight lanes.")
    assert [q.answerable for q in tiny.questions] == [True, False, True]


def test_the_sample_is_seeded_and_balanced(tiny):
    assert tiny.sample(1) == tiny.sample(1)
    assert sorted(q.answerable for q in tiny.sample(5)) == [False, True, True]
    with pytest.raises(QAError, match="no article 'Nowhere'"):
        tiny.sample(1, ["Nowhere"])


def test_a_file_that_is_not_squad_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(QAError, match="not a SQuAD 2.0 file"):
        load_squad(bad)


@pytest.mark.parametrize(
    "text, answers, holds",
    [
        ("The bridge opened in 1932 [1].", ("1932",), True),
        ("Paid by the Harbor Trust!", ("harbor trust",), True),  # punctuation and case do not matter
        ("It opened in 19321.", ("1932",), False),  # whole words only
        ("The Beatles", ("Beatles",), True),  # articles are dropped
    ],
)
def test_gold_answers_are_matched_after_squad_normalisation(text, answers, holds):
    assert holds_answer(text, answers) is holds
    assert normalize("The  Harbor, Trust!") == "harbor trust"


def _answer(question: str, text: str, refused: bool, confidence: float, passage: Passage) -> Answer:
    sentences = [] if refused else [Sentence(text, (1,), 1.0)]
    dropped = [Sentence("It opened in 1932 [1].", (1,), 1.0)] if refused else []
    return Answer(
        question, text, [] if refused else [Citation.from_passage(1, passage)], [passage], refused,
        {"total_s": 2.0}, sentences, dropped, confidence, Signals({"support": 1.0, "asked": confidence, "answers": confidence, "best": confidence}),
    )


def test_scores_summary_calibration_and_coverage(tiny):
    a1, u1, a2 = tiny.questions
    text = tiny.documents["old-bridge.md"]
    p1 = Passage("p1", text[a1.start : a1.end], "old-bridge.md", "Old Bridge", a1.start, a1.end, 0.7)
    results = [
        score(a1, _answer(a1.question, "It opened in 1932 [1].", False, 0.9, p1)),  # right
        score(u1, _answer(u1.question, "I cannot answer that from the documents.", True, 0.2, p1)),  # refused: right
        score(a2, _answer(a2.question, "It opened in 1932 [1].", False, 0.6, p1)),  # wrong answer, wrong passage
    ]
    assert [r.correct for r in results] == [True, True, False]
    assert [r.cited_support for r in results] == [True, False, False]
    assert [r.retrieval_hit for r in results] == [True, True, False]
    assert results[1].draft == "It opened in 1932 [1]." and not results[1].draft_correct
    summary = summarize(results)
    assert summary["answerable_correct"] == 0.5 and summary["unanswerable_refused"] == 1.0
    assert summary["overall_accuracy"] == pytest.approx(2 / 3) and summary["cited_support"] == 0.5
    # Confidence 0.9 right, 0.2 and 0.6 wrong: |0.9-1| + |0.2-0| + |0.6-0| over 3.
    assert calibration(results)["ece"] == pytest.approx((0.1 + 0.2 + 0.6) / 3)
    curve = {round(c["threshold"], 2): c for c in coverage_curve(results)}
    assert curve[0.0]["coverage"] == 1.0 and curve[0.7]["coverage"] == pytest.approx(1 / 3) and curve[0.7]["accuracy"] == 1.0
    assert curve[0.0]["risk"] == pytest.approx(2 / 3) and curve[0.7]["risk"] == 0.0 and curve[1.0]["risk"] == 0.0
    assert summary["confidence_auc"] == 1.0 and summary["right_confidence_p50"] == 0.9  # the right answer outranks both wrong ones
    # Within the article, both answerable questions (0.9, 0.6) outrank the near miss (0.2).
    assert summary["answerable_auc_within_article"] == 1.0
    report = {"run": {"timestamp": "t", "mode": "squad2"}, "summary": summary, "calibration": calibration(results),
              "coverage": coverage_curve(results), "results": [r.__dict__ for r in results]}
    page = render(report)
    assert "Calibration" in page and "Risk and coverage" in page and "<td>answerable_correct</td>" in page


@pytest.mark.slow  # SQuAD 2.0 questions asked of the real models
@pytest.mark.skipif(not SQUAD2.is_file(), reason="the shared SQuAD 2.0 file is not on this machine")
def test_the_squad_mode_runs_end_to_end_on_the_real_models(tmp_path):
    """A small sample on the real models, beside the naive baseline, so the mode cannot rot."""
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "unused-index")}
    result = subprocess.run(
        [sys.executable, "-m", "qa", "eval", "--squad2", str(SQUAD2), "--squad2-n", "3", "--compare", "naive",
         "--squad2-articles", "The_Legend_of_Zelda:_Twilight_Princess", "--eval-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [report_path] = (tmp_path / "results").glob("squad2-*.json")
    report = json.loads(report_path.read_text())
    ours, naive = report["summary"], report["baseline"]["summary"]
    assert ours["answerable"] == 3 and ours["unanswerable"] == 3 and report["run"]["corpus_articles"] == 10
    for summary in (ours, naive):
        for name in ("answerable_correct", "cited_support", "unanswerable_refused", "overall_accuracy", "retrieval_hit_at_k"):
            assert 0.0 <= summary[name] <= 1.0, name
    assert naive["cited_support"] == 0.0  # the naive answer cites nothing
    assert all(r["confidence"] is not None for r in report["results"]) and 0.0 <= ours["ece"] <= 1.0
    # Not a threshold check (6 questions are too few; the acceptance run is eval/README.md's): there must be
    # right answers and right refusals both, which neither "answer everything" nor "refuse everything" gives.
    assert ours["answerable_correct"] >= 0.2 and ours["unanswerable_refused"] >= 0.2, json.dumps(ours)
    assert report_path.with_suffix(".html").is_file()

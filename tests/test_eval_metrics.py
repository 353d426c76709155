"""Eval metrics on hand-made answers with a scripted judge: ALCE precision and recall, refusals, no NaN."""

import math

from conftest import ROOT, ScriptedJudge

from qa.answering.judge import Judge
from qa.domain import Answer, Citation, Passage, Sentence
from qa.evaluation.data import EvalQuestion, load_halueval, load_judge_pairs, load_questions
from qa.evaluation.metrics import balanced_accuracy, score_question, summarize
from qa.evaluation.report import render

DOC = "Alpha ships in May. Beta costs five dollars. Gamma is blue."
DOCS = {"doc.md": DOC}
P = [
    Passage("a", "Alpha ships in May.", "doc.md", "Doc", 0, 19, 0.9),
    Passage("b", "Beta costs five dollars.", "doc.md", "Doc", 20, 44, 0.8),
    Passage("c", "Gamma is blue.", "doc.md", "Doc", 45, 59, 0.7),
]


def judge_that_knows() -> Judge:
    """Says yes exactly when the evidence holds the sentence's key word."""

    def states(claim: str, evidence: str) -> float:
        key = next(w for w in ("Alpha", "Beta", "Gamma", "Delta") if w in claim)
        return float(key in evidence)

    return ScriptedJudge(states=states)


def answer(text: str, sentences: list[tuple[str, tuple[int, ...]]], refused: bool = False) -> Answer:
    cited = sorted({n for _, ns in sentences for n in ns})
    return Answer(
        "q?", text, [Citation.from_passage(n, P[n - 1]) for n in cited], P, refused,
        {"total_s": 1.0}, [Sentence(s, ns, 1.0) for s, ns in sentences],
    )


Q = EvalQuestion("q1", "single_fact", "When does Alpha ship?", "May", ["Alpha ships in May."], ["May"])
U = EvalQuestion("u1", "unanswerable", "Who made Delta?", None, [], [])


def test_a_supported_single_citation_scores_full_marks():
    scored = score_question(Q, answer("Alpha ships in May [1].", [("Alpha ships in May [1].", (1,))]), judge_that_knows(), DOCS)
    m = scored.metrics
    assert (m["faithfulness"], m["citation_recall"], m["citation_precision"], m["answer_correctness"]) == (1, 1, 1, 1)
    assert (m["retrieval_hit"], m["retrieval_rr"], m["cites_gold"]) == (1.0, 1.0, 1.0)


def test_alce_precision_flags_the_redundant_citation_and_recall_the_wrong_one():
    a = answer("Alpha ships in May [1][2]. Gamma is blue [2].", [("Alpha ships in May [1][2].", (1, 2)), ("Gamma is blue [2].", (2,))])
    m = score_question(Q, a, judge_that_knows(), DOCS).metrics
    assert m["citation_recall"] == 0.5  # the Gamma sentence is not supported by passage 2
    assert m["citation_precision"] == 1 / 3  # [1] precise; [2] redundant for Alpha; [2] wrong for Gamma


def test_refusals_have_defined_metrics():
    refusal = answer("I cannot answer that from the documents.", [], refused=True)
    on_unanswerable = score_question(U, refusal, judge_that_knows(), DOCS).metrics
    on_answerable = score_question(Q, refusal, judge_that_knows(), DOCS).metrics
    assert on_unanswerable["answer_correctness"] == 1.0 and on_answerable["answer_correctness"] == 0.0
    assert on_unanswerable["faithfulness"] == 1.0 and on_unanswerable["citation_precision"] == 1.0
    summary = summarize(
        [score_question(U, refusal, judge_that_knows(), DOCS), score_question(Q, refusal, judge_that_knows(), DOCS)], [U, Q]
    )
    assert summary["refusal_recall"] == 1.0 and summary["false_refusal_rate"] == 1.0
    assert not any(isinstance(v, float) and math.isnan(v) for v in summary.values())


def test_uncited_sentences_count_against_faithfulness():
    a = Answer("q?", "Alpha ships in May.", [], P, False, {"total_s": 1.0})
    m = score_question(Q, a, judge_that_knows(), DOCS).metrics
    assert m["faithfulness"] == 0.0 and m["citation_precision"] == 0.0 and m["answer_correctness"] == 1.0


def test_balanced_accuracy():
    assert balanced_accuracy([(True, True), (False, False)]) == 1.0
    assert balanced_accuracy([(True, True), (True, False), (True, False), (True, False)]) == 0.5


def test_the_data_files_load_and_hold_what_the_issue_asks():
    questions = load_questions(ROOT / "eval" / "dataset.jsonl")
    assert len(questions) >= 60
    assert sum(q.type in ("unanswerable", "false_premise") for q in questions) >= 15
    corpus = (ROOT / "corpus" / "microsoft-openai-partnership.md").read_text()
    assert all(g in corpus for q in questions for g in q.gold)
    pairs = load_judge_pairs(ROOT / "eval" / "judge_pairs.jsonl")
    assert len(pairs) >= 150 and {p.kind for p in pairs} >= {"number", "date", "company", "negation", "unrelated"}
    halu = load_halueval(ROOT.parent / "shared" / "benchmarks" / "halueval" / "qa_one-turn_data.json", sample=None) if (
        ROOT.parent / "shared" / "benchmarks" / "halueval"
    ).is_dir() else []
    assert not halu or (len(halu) == 1000 and sum(p.supported for p in halu) == 500)


def test_the_report_renders_every_section():
    scored = score_question(Q, answer("Alpha ships in May [1].", [("Alpha ships in May [1].", (1,))]), judge_that_knows(), DOCS)
    report = {
        "run": {"timestamp": "20260101T000000Z"},
        "summary": summarize([scored], [Q]),
        "results": [scored.to_dict()],
        "thresholds": {"faithfulness": {"op": ">=", "value": 0.9}},
        "failed_thresholds": [],
    }
    page = render(report)
    assert "metric bars" in page and "latency histogram" in page and "Alpha ships in May [1]." in page

"""CLAP NQ and BoolQ-3L read as question sets for `qa eval --squad2`, scored by their own kind of right answer, and the
develop and locked parts of every shared file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.domain import Answer, Citation, Passage, Sentence
from qa.errors import QAError
from qa.evaluation.benchmarks import load_benchmark, part
from qa.evaluation.splits import BENCHMARKS, SPLIT
from qa.evaluation.squad import score


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _clap(i: int, question: str, title: str, text: str, answer: str | None) -> dict:
    output = [{"answer": answer, "selected_sentences": []}] if answer else [{"answer": "", "selected_sentences": []}]
    return {"id": str(i), "input": question, "passages": [{"title": title, "text": text, "sentences": []}], "output": output}


def _answer(q, text: str, refused: bool, passage: Passage) -> Answer:
    cited = [] if refused else [Citation.from_passage(1, passage)]
    return Answer(q.question, text, cited, [passage], refused, {"total_s": 1.0}, [] if refused else [Sentence(text, (1,), 1.0)])


def _passage(questions, q) -> Passage:
    text = questions.documents[q.source]
    return Passage("p", text[q.start : q.end], q.source, q.article, q.start, q.end, 0.5)


def test_clapnq_passages_become_documents_and_an_answer_given_is_right(tmp_path):
    folder = tmp_path / "clapnq"
    folder.mkdir()
    _jsonl(folder / "clapnq_dev_answerable.jsonl", [_clap(1, "who built the old bridge", "Old Bridge", "The old bridge was built by Roman engineers.", "Roman engineers built it.")])
    _jsonl(folder / "clapnq_dev_unanswerable.jsonl", [_clap(2, "when was the old bridge painted", "Old Bridge", "The old bridge was built by Roman engineers.", None)])
    questions = load_benchmark(folder)
    answerable, unanswerable = questions.questions
    assert answerable.answerable and not unanswerable.answerable and len(questions.documents) == 1  # one passage, one document
    document = questions.documents[answerable.source]
    assert document.startswith("# Old Bridge\n") and document[answerable.start : answerable.end] == "The old bridge was built by Roman engineers."
    passage = _passage(questions, answerable)
    given = score(answerable, _answer(answerable, "Roman engineers built the old bridge [1].", False, passage))
    assert given.correct and given.draft_correct and given.cited_support  # its own passage cited
    assert not score(answerable, _answer(answerable, "I cannot answer that from the documents.", True, passage)).correct
    assert score(unanswerable, _answer(unanswerable, "I cannot answer that from the documents.", True, passage)).correct


def test_boolq_is_right_when_the_answer_opens_with_its_label(tmp_path):
    rows = [
        {"question": "is the old bridge made of stone", "title": "Old Bridge", "answer": True, "passage": "The old bridge is a stone arch."},
        {"question": "is the old bridge painted red", "title": "Old Bridge", "answer": False, "passage": "The old bridge is a stone arch, never painted."},
        {"question": "was the old bridge expensive", "title": "Old Bridge", "answer": "no-answer", "passage": "The old bridge is a stone arch."},
    ]
    questions = load_benchmark(_jsonl(tmp_path / "dev_full.jsonl", rows))
    stone, red, cost = questions.questions
    assert [q.answers for q in questions.questions] == [("yes",), ("no",), ()] and len(questions.documents) == 2
    passage = _passage(questions, stone)
    assert score(stone, _answer(stone, "Yes, the old bridge is a stone arch [1].", False, passage)).correct
    assert not score(stone, _answer(stone, "No, it is not [1].", False, passage)).correct
    assert not score(stone, _answer(stone, "The old bridge is a stone arch, yes [1].", False, passage)).correct  # opens with no label
    assert score(red, _answer(red, "No. The old bridge was never painted [1].", False, _passage(questions, red))).correct
    assert score(cost, _answer(cost, "I cannot answer that from the documents.", True, passage)).correct
    assert not score(cost, _answer(cost, "No, it was cheap [1].", False, passage)).correct  # no label to open with


def test_a_boolq_unanswerable_question_is_asked_without_the_passage_that_settles_it(tmp_path):
    # BoolQ-3L's no-answer question is its yes/no twin over another passage: asked over both, it is answerable.
    of_stone, for_cars = "is the old bridge made of stone", "is the old bridge open to cars"
    rows = [
        {"question": of_stone, "title": "Old Bridge", "answer": True, "passage": "The old bridge is a stone arch."},
        {"question": of_stone, "title": "Old Bridge", "answer": "no-answer", "passage": "It spans the river."},
        {"question": for_cars, "title": "Old Bridge", "answer": False, "passage": "Cars may not cross the old bridge."},
    ]
    questions = load_benchmark(_jsonl(tmp_path / "dev_full.jsonl", rows))
    settled, unsettled, cars = questions.questions
    assert unsettled.answered_in == (settled.source,) and settled.answered_in == () == cars.answered_in
    corpus, asked = questions.asking([unsettled, cars])
    assert asked == [unsettled, cars] and set(corpus.documents) == {unsettled.source, cars.source}
    corpus, asked = questions.asking([settled, unsettled, cars])  # both twins drawn: the unanswerable one wins
    assert asked == [unsettled, cars] and settled.source not in corpus.documents
    assert questions.asking([settled, cars])[0].documents == questions.documents  # nothing to leave out
    assert questions.sample(2) == [cars, unsettled]  # the twin drawn beside it is not asked (nor redrawn: none is left)


def test_a_file_of_neither_kind_is_one_clear_line(tmp_path):
    with pytest.raises(QAError, match="neither CLAP NQ nor BoolQ-3L") as e:
        load_benchmark(_jsonl(tmp_path / "other.jsonl", [{"text": "hello"}]))
    assert "\n" not in str(e.value)
    with pytest.raises(QAError, match="a folder must hold CLAP NQ"):
        load_benchmark(tmp_path)


@pytest.mark.skipif(not (BENCHMARKS / "squad2").is_dir(), reason="the shared benchmarks are not beside this checkout")
@pytest.mark.parametrize(
    "path, locked",
    [("squad2/dev-v2.0-29-articles.json", 2142), ("clapnq", 200), ("boolq3l/dev_full.jsonl", 400), ("squad2/train-v2.0-first10.json", 1211)],
)
def test_the_parts_of_each_shared_file_are_the_split_and_apart(path, locked):
    questions = load_benchmark(BENCHMARKS / path)
    develop, closed = part(questions, "develop"), part(questions, "locked")
    assert len(closed.questions) == locked and len(develop.questions) + locked == len(questions.questions)
    assert not {q.id for q in develop.questions} & {q.id for q in closed.questions}
    assert all(q.source in closed.documents for q in closed.questions) and len(closed.documents) < len(questions.documents)
    if path.startswith("squad2/dev"):
        assert {q.article for q in closed.questions} == set(json.loads(SPLIT.read_text())["squad2_dev"]["locked"])
    with pytest.raises(QAError, match="develop, locked"):
        part(questions, "test")

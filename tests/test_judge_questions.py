"""The judge pairs' questions: written by the generator for the pairs without one, kept for the others."""

import json

from conftest import scripted

from qa.evaluation.judge_questions import PAIRS, with_questions


def test_pairs_without_a_question_get_the_generators_and_the_others_keep_theirs():
    rows = [
        {"id": "a", "sentence": "The bridge opened in 1932.", "passage": "...", "label": 1},
        {"id": "b", "sentence": "It cost $5.", "passage": "...", "label": 0, "asked": "What did it cost?"},
    ]
    asked = with_questions(rows, scripted(lambda m: '  "When did the  bridge open?" '), log=lambda _: None)
    assert [r["asked"] for r in asked] == ["When did the bridge open?", "What did it cost?"]
    assert "asked" not in rows[0]  # the input is left as it was


def test_every_shipped_pair_has_its_question():
    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    assert rows and all(r.get("asked") for r in rows)

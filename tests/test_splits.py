"""The near-miss data's locked split: made by its seed alone, as large as the issue asks, and disjoint."""

from __future__ import annotations

import json

import pytest

from qa.evaluation.splits import BENCHMARKS, SPLIT, write

HERE = (BENCHMARKS / "squad2" / "dev-v2.0-29-articles.json").is_file()


@pytest.mark.skipif(not HERE, reason="the shared benchmarks are not beside the project")
def test_the_written_split_is_what_its_seed_draws():
    assert json.loads(SPLIT.read_text()) == write()


@pytest.mark.skipif(not HERE, reason="the shared benchmarks are not beside the project")
def test_the_locked_parts_are_as_large_as_asked():
    split = json.loads(SPLIT.read_text())
    squad = json.loads((BENCHMARKS / "squad2" / "dev-v2.0-29-articles.json").read_text())["data"]
    locked = [a for a in squad if a["title"] in split["squad2_dev"]["locked"]]
    assert len(locked) >= 5 and sum(len(p["qas"]) for a in locked for p in a["paragraphs"]) >= 1000
    assert len(split["clapnq"]["locked_answerable"]) == len(split["clapnq"]["locked_unanswerable"]) == 100
    boolq = [json.loads(line) for line in (BENCHMARKS / "boolq3l" / "dev_full.jsonl").read_text().splitlines() if line]
    assert sum(r["title"] in split["boolq3l"]["locked_titles"] for r in boolq) == split["boolq3l"]["locked_records"] >= 400


def test_locked_and_develop_are_disjoint():
    split = json.loads(SPLIT.read_text())
    assert not set(split["squad2_dev"]["locked"]) & set(split["squad2_dev"]["develop"])
    assert not set(split["clapnq"]["locked_answerable"]) & set(split["clapnq"]["locked_unanswerable"])

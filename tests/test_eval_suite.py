"""CI runs a subset of the eval suite on the real models and enforces the versioned thresholds."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

from qa.evaluation.data import QUESTION_TYPES

pytestmark = pytest.mark.slow  # the eval suite end to end on the real models


def test_eval_subset_meets_the_thresholds(tmp_path):
    eval_dir = tmp_path / "eval"
    shutil.copytree(ROOT / "eval", eval_dir, ignore=shutil.ignore_patterns("results", "__pycache__"))
    # Half the labelled pairs, every other one of each label: the judge's threshold on them (all: `qa eval`).
    pairs = (ROOT / "eval" / "judge_pairs.jsonl").read_text().splitlines(keepends=True)
    half = [line for label in (True, False) for line in [p for p in pairs if json.loads(p)["supported"] is label][::2]]
    (eval_dir / "judge_pairs.jsonl").write_text("".join(half))
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "index")}
    result = subprocess.run(
        [sys.executable, "-m", "qa", "eval", "--per-type", "1", "--halueval", "40", "--eval-dir", str(eval_dir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )
    reports = list((eval_dir / "results").glob("*.json"))
    assert len(reports) == 1, result.stderr[-3000:]
    report = json.loads(reports[0].read_text())
    assert report["run"]["questions"] == len(QUESTION_TYPES)  # one of every type (tests/test_answers.py asks most of them)
    assert len(report["judge_own"]) == len(half) and len(report["judge_halueval"]) == 40
    summary = report["summary"]
    for name in ("faithfulness", "citation_precision", "citation_recall", "answer_correctness", "refusal_recall",
                 "false_refusal_rate", "judge_bacc_own", "latency_p50_s", "latency_p95_s"):
        assert isinstance(summary[name], float), name
    assert (eval_dir / "results" / reports[0].with_suffix(".html").name).is_file()
    # The exit status is the threshold check: non-zero exactly when a metric misses its threshold.
    assert (result.returncode != 0) == bool(report["failed_thresholds"])
    assert result.returncode == 0, f"below threshold: {report['failed_thresholds']}\n{json.dumps(summary, indent=1)}"

"""Which questions of the shared near-miss data may be read while developing, and which are locked.

`eval/near_miss_split.json` was written before any model was trained on this data (2026-12-07), by `write` with a
fixed seed, so it can be made again and compared (tests/test_splits.py): nothing chose which questions are locked
but the seed. Locked questions are measured once, at the end; their per-question results are never read while
developing. The training split's own lock stays in `eval/squad_split.json`.

`python -m qa.evaluation.splits` prints the split as `write` makes it.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
SPLIT = ROOT / "eval" / "near_miss_split.json"
TRAINING_SPLIT = ROOT / "eval" / "squad_split.json"  # the SQuAD training file's own lock (2026-12-01)
SEED = 36  # the number: fixed before the data was looked at
LOCKED_DEV_ARTICLES = 6
LOCKED_CLAPNQ_EACH = 100
LOCKED_BOOLQ_AT_LEAST = 400


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write(benchmarks: Path = BENCHMARKS) -> dict:
    """The split, drawn with SEED from the shared files; the same files give the same split."""
    rng = random.Random(SEED)
    articles = sorted(a["title"] for a in json.loads((benchmarks / "squad2" / "dev-v2.0-29-articles.json").read_text())["data"])
    squad_locked = sorted(rng.sample(articles, LOCKED_DEV_ARTICLES))
    clapnq = {}
    for kind in ("answerable", "unanswerable"):
        ids = sorted(str(r["id"]) for r in _jsonl(benchmarks / "clapnq" / f"clapnq_dev_{kind}.jsonl"))
        clapnq[f"locked_{kind}"] = sorted(rng.sample(ids, LOCKED_CLAPNQ_EACH))
    per_title = Counter(r["title"] for r in _jsonl(benchmarks / "boolq3l" / "dev_full.jsonl"))
    titles = sorted(per_title)
    rng.shuffle(titles)
    locked_titles, records = [], 0
    for title in titles:
        if records >= LOCKED_BOOLQ_AT_LEAST:
            break
        locked_titles.append(title)
        records += per_title[title]
    return {
        "about": (
            "Locked parts of ../shared/benchmarks, drawn by qa.evaluation.splits.write (seed 36) before anything was "
            "trained on them (2026-12-07). Locked questions are measured once, at the end; nothing is trained, fitted "
            "or tuned on them and their per-question results are not read while developing."
        ),
        "squad2_dev": {"locked": squad_locked, "develop": sorted(set(articles) - set(squad_locked))},
        "clapnq": clapnq,
        "boolq3l": {"locked_titles": sorted(locked_titles), "locked_records": records},
    }


if __name__ == "__main__":
    print(json.dumps(write(), indent=1, ensure_ascii=False))

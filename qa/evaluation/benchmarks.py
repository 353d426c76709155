"""The shared near-miss benchmarks read as one kind of question set, so that `qa eval --squad2` asks any of them.

- SQuAD 2.0 JSON (`qa.evaluation.squad.load_squad`): one document per article.
- CLAP NQ (a folder with `clapnq_dev_answerable.jsonl` and `clapnq_dev_unanswerable.jsonl`, or either file): one
  document per passage; an answerable question counts as answered when it is not refused (its gold answers are
  long free text, which no short answer holds word for word).
- BoolQ-3L (`dev_full.jsonl`): one document per passage; a question is answered right when the answer opens with
  its label, "yes" or "no"; "no-answer" questions are unanswerable, and each is the same question as an answerable
  one over another passage of its article: a corpus asking it leaves that passage out (`SquadSet.asking`).

A part of a file (`develop` or `locked`, by eval/near_miss_split.json and, for the SQuAD training file,
eval/squad_split.json) keeps that part's questions and makes its
corpus of their documents alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from qa.errors import QAError
from qa.evaluation.splits import SPLIT, TRAINING_SPLIT
from qa.evaluation.squad import SquadQuestion, SquadSet, load_squad

PARTS = ("develop", "locked")
CLAPNQ_FILES = ("clapnq_dev_answerable.jsonl", "clapnq_dev_unanswerable.jsonl")


def load_benchmark(path: Path) -> SquadSet:
    """The questions and documents of a SQuAD 2.0, CLAP NQ or BoolQ-3L file (or CLAP NQ's folder)."""
    path = Path(path)
    if path.is_dir():
        files = [path / name for name in CLAPNQ_FILES if (path / name).is_file()]
        if not files:
            raise QAError(f"{path}: a folder must hold CLAP NQ's {' and '.join(CLAPNQ_FILES)}")
        return _merged([_clapnq(f) for f in files])
    if path.suffix != ".jsonl":
        return load_squad(path)
    rows = _rows(path)
    if rows and {"input", "passages"} <= set(rows[0]):
        return _clapnq(path, rows)
    if rows and {"question", "passage", "answer"} <= set(rows[0]):
        return _boolq(rows)
    raise QAError(f"{path}: neither CLAP NQ nor BoolQ-3L lines (or empty)")


def part(questions: SquadSet, name: str) -> SquadSet:
    """The questions of the `develop` or `locked` part of a shared file, with only their documents."""
    if name not in PARTS:
        raise QAError(f"the part is one of {', '.join(PARTS)}, not {name!r}")
    split = json.loads(SPLIT.read_text())
    squad_locked = set(split["squad2_dev"]["locked"]) | set(json.loads(TRAINING_SPLIT.read_text())["locked"])
    locked_articles = {"span": squad_locked, "yes/no": set(split["boolq3l"]["locked_titles"])}
    # CLAP NQ locks ids, per file.
    locked_ids = {True: set(split["clapnq"]["locked_answerable"]), False: set(split["clapnq"]["locked_unanswerable"])}

    def locked(q: SquadQuestion) -> bool:
        if q.right_when == "answered":
            return q.id in locked_ids[q.answerable]
        return q.article in locked_articles[q.right_when]

    kept = [q for q in questions.questions if locked(q) == (name == "locked")]
    if not kept:
        raise QAError(f"no question of this file is in the {name} part of {SPLIT.name}")
    return SquadSet({q.source: questions.documents[q.source] for q in kept}, kept)


def _rows(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, ValueError) as e:
        raise QAError(f"{path}: not JSON lines ({type(e).__name__}: {e})") from None


def _document(title: str, text: str) -> tuple[str, str, int]:
    """A passage as a document: its source name, its text, and where the passage starts in it."""
    head = f"# {title}\n\n"
    body = text.strip()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:60] or "passage"
    return f"{slug}-{hashlib.sha1(body.encode()).hexdigest()[:8]}.md", f"{head}{body}\n", len(head)


def _clapnq(path: Path, rows: list[dict] | None = None) -> SquadSet:
    documents: dict[str, str] = {}
    questions = []
    for r in rows if rows is not None else _rows(path):
        passage = r["passages"][0]
        source, text, start = _document(passage["title"], passage["text"])
        documents[source] = text
        answers = tuple(a["answer"] for a in r.get("output") or [] if a.get("answer"))
        questions.append(SquadQuestion(str(r["id"]), passage["title"], r["input"].strip(), answers, source, start, len(text) - 1, right_when="answered"))
    return SquadSet(documents, questions)


def _boolq(rows: list[dict]) -> SquadSet:
    documents: dict[str, str] = {}
    placed = [_document(r["title"], r["passage"]) for r in rows]
    settled_in: dict[str, list[str]] = {}  # a question's text → the passages that settle it
    for r, (source, _, _) in zip(rows, placed):
        if str(r["answer"]) in ("True", "False"):
            settled_in.setdefault(r["question"].strip(), []).append(source)
    questions = []
    for i, (r, (source, text, start)) in enumerate(zip(rows, placed)):
        documents[source] = text
        label = {"True": "yes", "False": "no"}.get(str(r["answer"]))
        question = r["question"].strip()
        twins = () if label else tuple(s for s in settled_in.get(question, ()) if s != source)
        questions.append(SquadQuestion(
            f"boolq-{i}", r["title"], question, (label,) if label else (), source, start, len(text) - 1,
            right_when="yes/no", answered_in=twins,
        ))
    return SquadSet(documents, questions)


def _merged(sets: list[SquadSet]) -> SquadSet:
    return SquadSet({k: v for s in sets for k, v in s.documents.items()}, [q for s in sets for q in s.questions])

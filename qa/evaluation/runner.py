"""Running the suite: answer every question, judge, validate the judge, compare, report, enforce thresholds."""

from __future__ import annotations

import json
import platform
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from qa.api import pipeline
from qa.documents import read_document
from qa.evaluation.baseline import NaivePipeline
from qa.evaluation.data import HALUEVAL, load_halueval, load_judge_pairs, load_questions
from qa.evaluation.metrics import judge_balanced_accuracy, score_question, summarize
from qa.evaluation.report import render
from qa.evaluation.squad import calibration, coverage_curve, load_squad, write_corpus
from qa.evaluation.squad import score as squad_score
from qa.evaluation.squad import summarize as squad_summary
from qa.backends import describe
from qa.settings import Settings


@dataclass
class EvalOptions:
    """What to run: the data files, a subset, the baseline, the judge validation sets."""

    eval_dir: Path = Path("eval")
    limit: int | None = None
    types: tuple[str, ...] = ()
    per_type: int | None = None  # the first N questions of each type: a small subset that covers everything
    compare_naive: bool = False
    judge_own: bool = True
    halueval_sample: int | None = 200  # 0 skips; None runs all 1,000 cases
    halueval_path: Path = HALUEVAL


def _documents(settings: Settings) -> dict[str, str]:
    docs = {}
    for path in sorted(settings.corpus_dir.rglob("*")):
        try:
            doc = read_document(path, settings.corpus_dir)
        except Exception:  # noqa: BLE001 - a file the index skips is no gold source either
            continue
        docs[doc.source] = doc.text
    return docs


def run(settings: Settings, options: EvalOptions, console: Console | None = None) -> dict:
    console = console or Console(stderr=True)
    questions = load_questions(options.eval_dir / "dataset.jsonl")
    if options.types:
        questions = [q for q in questions if q.type in options.types]
    if options.per_type:
        taken: Counter[str] = Counter()
        questions = [q for q in questions if taken.update([q.type]) or taken[q.type] <= options.per_type]
    if options.limit:
        questions = questions[: options.limit]
    thresholds = json.loads((options.eval_dir / "thresholds.json").read_text())
    p = pipeline(settings)
    p.index.ingest([settings.corpus_dir])  # evaluate the corpus as it is now; unchanged files cost nothing
    judge = p.judge
    documents = _documents(settings)
    own_pairs = load_judge_pairs(options.eval_dir / "judge_pairs.jsonl") if options.judge_own else []
    halu_pairs, halu_note = [], "skipped"
    if options.halueval_sample != 0:
        if options.halueval_path.is_file():
            halu_pairs = load_halueval(options.halueval_path, options.halueval_sample)
            halu_note = f"{len(halu_pairs)} cases, seed 13"
        else:
            halu_note = f"not found at {options.halueval_path}"
            console.print(f"[yellow]HaluEval {halu_note}: judge_bacc_halueval is not measured[/]")
    naive = NaivePipeline(settings, p.index.embeddings, p.chat_model) if options.compare_naive else None

    started = time.perf_counter()
    report: dict = {
        "run": {
            "timestamp": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
            "generator": describe(settings),
            "top_k": settings.top_k,
            "verify": settings.verify,
            "questions": len(questions),
            "halueval_sample": halu_note,
            "machine": f"{platform.machine()}, {platform.python_version()}",
        },
        "thresholds": thresholds,
    }
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("questions", total=len(questions))
        results = []
        for q in questions:
            results.append(score_question(q, p.ask(q.question), judge, documents))
            bar.advance(task)
        summary = summarize(results, questions)
        if naive:
            task = bar.add_task("naive baseline", total=len(questions))
            naive_results = []
            for q in questions:
                naive_results.append(score_question(q, naive.ask(q.question), judge, documents))
                bar.advance(task)
            report["baseline"] = {
                "name": "naive: paragraph chunks, top-3, plain prompt, no citations",
                "summary": summarize(naive_results, questions),
                "results": [r.to_dict() for r in naive_results],
            }
        for name, pairs in (("own", own_pairs), ("halueval", halu_pairs)):
            if pairs:
                task = bar.add_task(f"judge on {name} pairs", total=len(pairs))
                bacc, verdicts = judge_balanced_accuracy(judge, pairs, progress=lambda t=task: bar.advance(t))
                summary[f"judge_bacc_{name}"] = bacc
                report[f"judge_{name}"] = verdicts
    report["run"]["seconds"] = round(time.perf_counter() - started, 1)
    report["summary"] = summary
    report["results"] = [r.to_dict() for r in results]
    report["failed_thresholds"] = [
        name
        for name, rule in thresholds.items()
        if name in summary and (summary[name] < rule["value"] if rule["op"] == ">=" else summary[name] > rule["value"])
    ]
    return report


def run_squad(
    settings: Settings,
    path: Path,
    n: int,
    articles: list[str] | None = None,
    compare_naive: bool = True,
    seed: int = 13,
    console: Console | None = None,
) -> dict:
    """Ask a seeded sample of a SQuAD 2.0 file over a corpus of all its articles, in a temporary folder."""
    console = console or Console(stderr=True)
    squad = load_squad(path)
    questions = squad.sample(n, articles, seed)
    with tempfile.TemporaryDirectory(prefix="qa-squad2-") as tmp:
        settings = settings.with_(corpus_dir=Path(tmp) / "corpus", index_dir=Path(tmp) / "index", chroma_url=None)
        write_corpus(squad, settings.corpus_dir)
        p = pipeline(settings)
        p.index.ingest([settings.corpus_dir])
        naive = NaivePipeline(settings, p.index.embeddings, p.chat_model) if compare_naive else None
        started = time.perf_counter()
        runs: dict[str, list] = {"ours": [], **({"naive": []} if naive else {})}
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
            for name, ask in (("ours", p.ask), ("naive", naive.ask if naive else None)):
                if ask is None:
                    continue
                task = bar.add_task(name, total=len(questions))
                for q in questions:
                    runs[name].append(squad_score(q, ask(q.question)))
                    bar.advance(task)
    ours = runs["ours"]
    report = {
        "run": {
            "timestamp": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
            "mode": "squad2",
            "file": str(path),
            "articles": articles or squad.articles,
            "corpus_articles": len(squad.documents),
            "sample": f"{n} answerable + {n} unanswerable at most, seed {seed}",
            "generator": describe(settings),
            "min_confidence": settings.min_confidence,
            "machine": f"{platform.machine()}, {platform.python_version()}",
            "seconds": round(time.perf_counter() - started, 1),
        },
        "thresholds": {},
        "summary": squad_summary(ours),
        "calibration": calibration(ours),
        "coverage": coverage_curve(ours),
        "results": [asdict(r) for r in ours],
        "failed_thresholds": [],
    }
    if naive:
        report["baseline"] = {
            "name": "naive: paragraph chunks, top-3, plain prompt, no citations",
            "summary": squad_summary(runs["naive"]),
            "results": [asdict(r) for r in runs["naive"]],
        }
    return report


def write(report: dict, eval_dir: Path) -> tuple[Path, Path]:
    out = eval_dir / "results"
    out.mkdir(parents=True, exist_ok=True)
    # SQuAD runs are told apart by name: squad2-<timestamp>.
    stem = out / "-".join(filter(None, (report["run"].get("mode"), report["run"]["timestamp"])))
    json_path, html_path = stem.with_suffix(".json"), stem.with_suffix(".html")
    json_path.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    html_path.write_text(render(report))
    return json_path, html_path


def print_summary(report: dict, console: Console) -> None:
    table = Table("metric", "ours", *(["naive"] if "baseline" in report else []), "threshold")
    naive = report.get("baseline", {}).get("summary", {})
    for name, value in report["summary"].items():
        rule = report["thresholds"].get(name)
        style = "red" if name in report["failed_thresholds"] else ""
        cells = [f"{value:.3f}" if isinstance(value, float) else str(value)]
        if "baseline" in report:
            cells.append(f"{naive[name]:.3f}" if isinstance(naive.get(name), float) else str(naive.get(name, "")))
        table.add_row(name, *cells, f"{rule['op']} {rule['value']}" if rule else "", style=style)
    console.print(table)

"""Running the suite: answer every question, judge, validate the judge, compare, report, enforce thresholds."""

from __future__ import annotations

import json
import platform
import tempfile
import time
from collections import Counter
from collections.abc import Callable
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
from qa.evaluation.answer_states import StateKeeper
from qa.evaluation.baseline import NaivePipeline
from qa.evaluation.confidence_metrics import calibration, confidence_auc, coverage_curve, right_confidence_p50
from qa.evaluation.data import HALUEVAL, load_halueval, load_judge_pairs, load_questions
from qa.evaluation.metrics import judge_balanced_accuracy, score_question, summarize
from qa.evaluation.report import render
from qa.evaluation.benchmarks import load_benchmark
from qa.evaluation.benchmarks import part as select_part
from qa.evaluation.squad import SquadQuestion, write_corpus
from qa.evaluation.squad import score as squad_score
from qa.evaluation.squad import summarize as squad_summary
from qa.models.backends import describe
from qa.settings import Settings
from qa.store.documents import read_document
from qa.store.ingestion import ingest


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


NAIVE = "naive: paragraph chunks, top-3, plain prompt, no citations"


def run(settings: Settings, options: EvalOptions, console: Console | None = None) -> dict:
    console = console or Console(stderr=True)
    questions = _selected(load_questions(options.eval_dir / "dataset.jsonl"), options)
    thresholds = json.loads((options.eval_dir / "thresholds.json").read_text())
    p = pipeline(settings)
    ingest(p.index, [settings.corpus_dir])  # evaluate the corpus as it is now; unchanged files cost nothing
    documents = _documents(settings)
    own_pairs = load_judge_pairs(options.eval_dir / "judge_pairs.jsonl") if options.judge_own else []
    halu_pairs, halu_note = _halueval(options, console)
    naive = NaivePipeline(settings, p.index.embeddings, p.chat_model) if options.compare_naive else None
    started = time.perf_counter()
    report: dict = {
        "run": _run_info(settings, top_k=settings.top_k, verify=settings.verify, questions=len(questions), halueval_sample=halu_note),
        "thresholds": thresholds,
    }
    keeper = StateKeeper(p)
    with _bar(console) as bar:
        results = _scored(bar, "questions", keeper.ask, questions, p.judge, documents)
        summary = summarize(results, questions)
        if naive:
            naive_results = _scored(bar, "naive baseline", naive.ask, questions, p.judge, documents)
            report["baseline"] = {
                "name": NAIVE, "summary": summarize(naive_results, questions), "results": [r.to_dict() for r in naive_results]
            }
        for name, pairs in (("own", own_pairs), ("halueval", halu_pairs)):
            if pairs:
                task = bar.add_task(f"judge on {name} pairs", total=len(pairs))
                summary[f"judge_bacc_{name}"], report[f"judge_{name}"] = judge_balanced_accuracy(
                    p.judge, pairs, progress=lambda t=task: bar.advance(t)
                )
    report["run"]["seconds"] = round(time.perf_counter() - started, 1)
    report["calibration"], report["coverage"] = calibration(results), coverage_curve(results)
    summary.update(ece=report["calibration"]["ece"], confidence_auc=confidence_auc(results), right_confidence_p50=right_confidence_p50(results))
    report["summary"] = summary
    report["results"] = _with_states([r.to_dict() for r in results], keeper)
    report["failed_thresholds"] = [
        name
        for name, rule in thresholds.items()
        if name in summary and (summary[name] < rule["value"] if rule["op"] == ">=" else summary[name] > rule["value"])
    ]
    return report


def _with_states(results: list[dict], keeper: StateKeeper) -> list[dict]:
    """Each result with the answer prompt's state its probe feature was read from, when it was."""
    return [r | ({"answer_state": state} if state else {}) for r, state in zip(results, keeper.kept)]


def _selected(questions: list, options: EvalOptions) -> list:
    """The questions the options ask for: of some types, the first N of each type, the first N."""
    if options.types:
        questions = [q for q in questions if q.type in options.types]
    if options.per_type:
        taken: Counter[str] = Counter()
        questions = [q for q in questions if taken.update([q.type]) or taken[q.type] <= options.per_type]
    return questions[: options.limit] if options.limit else questions


def _halueval(options: EvalOptions, console: Console) -> tuple[list, str]:
    """HaluEval's judge pairs, sampled, and how the report names the sample."""
    if options.halueval_sample == 0:
        return [], "skipped"
    if not options.halueval_path.is_file():
        note = f"not found at {options.halueval_path}"
        console.print(f"[yellow]HaluEval {note}: judge_bacc_halueval is not measured[/]")
        return [], note
    pairs = load_halueval(options.halueval_path, options.halueval_sample)
    return pairs, f"{len(pairs)} cases, seed 13"


def _run_info(settings: Settings, **details) -> dict:
    return {
        "timestamp": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
        "generator": describe(settings),
        **details,
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }


def _bar(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console)


def _scored(bar: Progress, label: str, ask, questions: list, judge, documents: dict[str, str]) -> list:  # noqa: ANN001
    task = bar.add_task(label, total=len(questions))
    results = []
    for q in questions:
        results.append(score_question(q, ask(q.question), judge, documents))
        bar.advance(task)
    return results


def run_squad(
    settings: Settings,
    path: Path,
    n: int,
    articles: list[str] | None = None,
    compare_naive: bool = True,
    seed: int = 13,
    console: Console | None = None,
    keep: Callable[[SquadQuestion], bool] | None = None,
    part: str | None = None,
) -> dict:
    """Ask a seeded sample of a SQuAD 2.0, CLAP NQ or BoolQ-3L file (of the questions `keep` accepts) over a
    corpus of all its documents, in a temporary folder; with `part`, of that part's questions and documents alone."""
    console = console or Console(stderr=True)
    squad = load_benchmark(path)
    if part is not None:
        squad = select_part(squad, part)
    squad, questions = squad.asking(squad.sample(n, articles, seed, keep))
    runs: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="qa-squad2-") as tmp:
        settings = settings.with_(corpus_dir=Path(tmp) / "corpus", index_dir=Path(tmp) / "index", chroma_url=None)
        write_corpus(squad, settings.corpus_dir)
        p = pipeline(settings)
        ingest(p.index, [settings.corpus_dir])
        keeper = StateKeeper(p)
        asks = {"ours": keeper.ask}
        if compare_naive:
            asks["naive"] = NaivePipeline(settings, p.index.embeddings, p.chat_model).ask
        started = time.perf_counter()
        with _bar(console) as bar:
            for name, ask in asks.items():
                task = bar.add_task(name, total=len(questions))
                runs[name] = []
                for q in questions:
                    runs[name].append(squad_score(q, ask(q.question)))
                    bar.advance(task)
    ours = runs["ours"]
    report = {
        "run": _run_info(
            settings, mode="squad2", file=str(path), part=part, articles=articles or squad.articles, corpus_articles=len(squad.documents),
            sample=f"{n} answerable + {n} unanswerable at most, seed {seed}", min_confidence=settings.min_confidence,
            seconds=round(time.perf_counter() - started, 1),
        ),
        "thresholds": {},
        "summary": squad_summary(ours),
        "calibration": calibration(ours),
        "coverage": coverage_curve(ours),
        "results": _with_states([asdict(r) for r in ours], keeper),
        "failed_thresholds": [],
    }
    if "naive" in runs:
        report["baseline"] = {"name": NAIVE, "summary": squad_summary(runs["naive"]), "results": [asdict(r) for r in runs["naive"]]}
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

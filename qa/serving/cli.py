"""The `qa` command line: a thin layer over the Python API (`ask`, `ingest`, `info`)."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

import qa
from qa.domain import Answer
from qa.errors import QAError, SettingsError
from qa.settings import Settings, flag_help

if TYPE_CHECKING:
    from qa.serving.server import Listening
    from qa.store.ingestion import IngestProgress  # the index's libraries load only when a command needs them

app = typer.Typer(help="Answers from your documents, each claim tied to the passage that supports it.", no_args_is_help=True)
out = Console()
err = Console(stderr=True, soft_wrap=True)  # an error stays on one line, however long


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj["settings"]


@app.callback()
def main(
    ctx: typer.Context,
    corpus_dir: Annotated[Optional[Path], typer.Option(help=flag_help("corpus_dir"))] = None,
    index_dir: Annotated[Optional[Path], typer.Option(help=flag_help("index_dir"))] = None,
    chroma_url: Annotated[Optional[str], typer.Option(help=flag_help("chroma_url"))] = None,
    backend: Annotated[Optional[str], typer.Option(help=flag_help("backend"))] = None,
) -> None:
    from qa.models.backends import backend as chosen_backend

    try:
        settings = Settings.from_env(corpus_dir=corpus_dir, index_dir=index_dir, chroma_url=chroma_url, backend=backend)
        chosen_backend(settings)  # an unknown backend or a missing option of its own: said before anything runs
    except QAError as e:
        _fail(e)
    ctx.obj = {"settings": settings}
    log = logging.getLogger("qa")
    if not any(isinstance(h, _Notes) for h in log.handlers):
        log.addHandler(_Notes())
        log.setLevel(logging.INFO)


class _Notes(logging.Handler):
    """What qa does on its own before a first answer (assembling the model, building an empty index), said on
    stderr, dimmed, when it is a terminal: a script reading the output gets the answer alone. Warnings always."""

    def emit(self, record: logging.LogRecord) -> None:
        if err.is_terminal or record.levelno >= logging.WARNING:
            err.print(escape(record.getMessage()), style="dim", highlight=False)


def _fail(error: Exception) -> None:
    err.print(f"[bold red]error:[/] {escape(str(error))}")
    raise typer.Exit(2 if isinstance(error, ValueError) else 1)


def _print_answer(answer: Answer, judge_threshold: float) -> None:
    style = "yellow" if answer.refused else "bold"
    out.print(escape(answer.text), style=style)
    if answer.confidence is not None and (answer.citations or answer.dropped):
        out.print(f"[dim]confidence {answer.confidence:.2f}[/]")
    if answer.citations:
        out.print()
        support = answer.support_by_citation()
        for c in answer.citations:
            score = f" [dim](support {support[c.number]:.2f})[/]" if c.number in support else ""
            page = "" if c.page is None else f", p. {c.page}"
            out.print(f"[cyan][{c.number}][/] [bold]{escape(c.title)}[/] [dim]{escape(c.source)}:{c.start}-{c.end}{page}[/]{score}")
            out.print(f"    {escape(' '.join(c.text.split()))}", style="dim", highlight=False)
    for s in answer.dropped:
        reason = f"unsupported ({s.support:.2f})" if s.support < judge_threshold else "not confident enough"
        out.print(f"[red]dropped, {reason}:[/] {escape(s.text)}")


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question to answer from the documents.")],
    top_k: Annotated[Optional[int], typer.Option(help=flag_help("top_k"))] = None,
    verify: Annotated[Optional[str], typer.Option(help=flag_help("verify"))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
    server: Annotated[
        bool, typer.Option(help="Hand the question to a running `qa serve` with the same settings, if there is one.")
    ] = True,
) -> None:
    """Answer a question with cited passages, or refuse when the documents do not say."""
    try:
        settings = _settings(ctx).with_(verify=verify)
        answer = _ask_server(_settings(ctx), question, top_k, verify) if server else None
        if answer is None:
            answer = qa.ask(question, top_k=top_k, settings=settings)
            if server and settings.keep_warm:
                _keep_warm(_settings(ctx))
    except QAError as e:
        _fail(e)
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_answer(answer, settings.judge_threshold)


def _ask_server(settings: Settings, question: str, top_k: int | None, verify: str | None) -> Answer | None:
    from qa.serving.handoff import ServerUnavailable, ask_server

    try:
        return ask_server(settings, question, top_k=top_k, verify=verify)
    except ServerUnavailable as e:
        err.print(f"[dim]{escape(str(e))}; answering here[/]")
        return None


def _keep_warm(settings: Settings) -> None:
    from qa.serving.warm import start_in_background

    try:
        started = start_in_background(settings)
    except OSError as e:  # the answer is printed already; only the next one loses its head start
        err.print(f"[dim]no warm server this time ({escape(str(e))})[/]")
        return
    if started:
        err.print(
            f"[dim]a qa server keeps the model warm for the next questions until {settings.keep_warm:g} minutes "
            "after the last one (QA_KEEP_WARM); `qa stop` stops it[/]"
        )


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Files or folders (default: the corpus folder).")] = None,
    rebuild: Annotated[bool, typer.Option(help="Move the local index aside (kept) and build a new one.")] = False,
) -> None:
    """Add, update and remove documents in the index; unchanged files cost nothing."""
    try:
        with _ingest_progress() as progress:
            report = qa.ingest(paths, rebuild=rebuild, settings=_settings(ctx), progress=progress)
    except QAError as e:
        _fail(e)
    if report.set_aside:
        out.print(f"previous index moved to {escape(str(report.set_aside))}")
    for label, names in (("added", report.added), ("updated", report.updated), ("removed", report.removed)):
        for name in names:
            out.print(f"[green]{label}[/] {escape(name)}")
    if report.unchanged:
        out.print(f"[dim]{len(report.unchanged)} unchanged[/]")
    for name, reason in report.failed.items():
        err.print(f"[red]skipped[/] {escape(reason)}")
    out.print(f"{report.chunks_written} chunks written")
    if report.failed:
        raise typer.Exit(1)


@contextlib.contextmanager
def _ingest_progress() -> Iterator[Callable[[IngestProgress], None] | None]:
    """A progress bar on stderr (files, chunks, rate, time left) when it is a terminal; nothing otherwise."""
    if not err.is_terminal:
        yield None
        return
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[files]} · {task.fields[chunks]} chunks · {task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("indexing", total=1.0, files="", chunks=0, rate="")
        started = time.monotonic()

        def show(step: IngestProgress) -> None:
            rate = step.chunks / max(time.monotonic() - started, 1e-3)
            bar.update(
                task, completed=step.done, description=escape(step.file or "indexing")[-40:],
                files=f"{step.files}/{step.files_total} files", chunks=step.chunks, rate=f"{rate:.0f} chunks/s",
            )

        yield show


@app.command()
def info(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the corpus, the index, the models and the backend in use."""
    try:
        details = qa.info(settings=_settings(ctx))
    except QAError as e:
        _fail(e)
    if as_json:
        typer.echo(json.dumps(details, indent=2))
        return
    table = Table(show_header=False, box=None)
    for key, value in details.items():
        if key != "documents":
            table.add_row(f"[bold]{key}[/]", escape(str(value)))
    out.print(table)
    docs = Table("document", "title", "chunks")
    for source, entry in details["documents"].items():
        docs.add_row(escape(source), escape(entry["title"]), str(entry["chunks"]))
    out.print(docs)


@app.command("eval")
def eval_(
    ctx: typer.Context,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N questions.")] = None,
    type_: Annotated[Optional[list[str]], typer.Option("--type", help="Only questions of this type (repeatable).")] = None,
    per_type: Annotated[Optional[int], typer.Option(help="Only the first N questions of each type.")] = None,
    compare: Annotated[Optional[str], typer.Option(help="Also run a baseline: naive.")] = None,
    halueval: Annotated[int, typer.Option(help="HaluEval cases for the judge (0 skips, -1 all 1,000).")] = 200,
    judge_pairs: Annotated[bool, typer.Option(help="Validate the judge on eval/judge_pairs.jsonl.")] = True,
    eval_dir: Annotated[Path, typer.Option(help="Folder with dataset.jsonl, judge_pairs.jsonl, thresholds.json.")] = Path("eval"),
    squad2: Annotated[Optional[Path], typer.Option(help="Instead, ask a sample of this SQuAD 2.0 file over its articles (or of a CLAP NQ folder or file, or a BoolQ-3L file, over its passages).")] = None,
    squad2_n: Annotated[int, typer.Option(help="SQuAD 2.0: answerable and unanswerable questions to ask, each.")] = 50,
    squad2_articles: Annotated[Optional[str], typer.Option(help="SQuAD 2.0: ask only these articles' questions (comma-separated titles); the corpus is every article.")] = None,
    squad2_seed: Annotated[int, typer.Option(help="SQuAD 2.0: sampling seed.")] = 13,
    squad2_part: Annotated[Optional[str], typer.Option(help="SQuAD 2.0: only the develop or the locked part of a shared file (eval/near_miss_split.json), over that part's documents.")] = None,
) -> None:
    """Run the eval suite; exit non-zero when a metric falls below eval/thresholds.json."""
    from qa.evaluation.runner import EvalOptions, print_summary, run, run_squad, write

    if compare not in (None, "naive"):
        _fail(QAError(f"--compare knows only 'naive', not {compare!r}"))
    if squad2 is not None:
        articles = [a.strip() for a in squad2_articles.split(",") if a.strip()] if squad2_articles else None
        try:
            report = run_squad(_settings(ctx), squad2, squad2_n, articles, compare == "naive", squad2_seed, console=err, part=squad2_part)
        except QAError as e:
            _fail(e)
        json_path, html_path = write(report, eval_dir)
        print_summary(report, out)
        out.print(f"wrote {json_path} and {html_path}")
        return
    options = EvalOptions(
        eval_dir=eval_dir,
        limit=limit,
        types=tuple(type_ or ()),
        per_type=per_type,
        compare_naive=compare == "naive",
        judge_own=judge_pairs,
        halueval_sample=None if halueval < 0 else halueval,
    )
    try:
        report = run(_settings(ctx), options, console=err)
    except QAError as e:
        _fail(e)
    json_path, html_path = write(report, eval_dir)
    print_summary(report, out)
    out.print(f"wrote {json_path} and {html_path}")
    if report["failed_thresholds"]:
        err.print(f"[red]below threshold:[/] {', '.join(report['failed_thresholds'])}")
        raise typer.Exit(1)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes the UI and the API to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free one).", min=0, max=65535)] = 7860,
    allow_anonymous: Annotated[
        bool, typer.Option(help="Serve the UI beyond this machine without a login (QA_UI_AUTH): anyone reaching the port may use it.")
    ] = False,
    ui: Annotated[bool, typer.Option(help="Serve the chat UI at /; --no-ui: no Gradio, less memory.")] = True,
    api: Annotated[bool, typer.Option(help="Serve the HTTP API under /v1 (OpenAI-compatible chat, docs/api.md).")] = True,
    idle: Annotated[
        Optional[float], typer.Option(help="With --no-ui: stop after this many minutes without a question.", min=0)
    ] = None,
) -> None:
    """Serve the chat UI and the HTTP API on http://HOST:PORT; `qa ask` in a shell then answers through it, warm."""
    from qa.serving.server import serve as serve_all

    try:
        if idle is not None and ui:
            raise SettingsError("--idle stops a server without the UI: add --no-ui")
        if not (ui or api) and (host, port) != ("127.0.0.1", 7860):
            raise SettingsError("--host and --port are the UI's and the API's: --no-ui --no-api answers `qa ask` on this machine only")
        serve_all(_settings(ctx), host, port, ui=ui, api=api, allow_anonymous=allow_anonymous, idle_minutes=idle,
                  on_ready=lambda where: _ready(where, idle))
    except QAError as e:
        _fail(e)


def _ready(where: Listening, idle: float | None) -> None:
    if where.ui:
        err.print(f"the chat UI at {where.http}/")
    if where.api:
        err.print(f"the HTTP API at {where.http}/v1 (docs/api.md; its schema at {where.http}/v1/docs)")
    until = f"{idle:g} minutes without a question or " if idle else ""
    err.print(f"answering `qa ask` warm at {where.handoff} until {until}`qa stop`")


@app.command()
def mcp(ctx: typer.Context) -> None:
    """Serve `ask` and `search` to an agent over MCP on stdin/stdout (a desktop assistant or editor starts it)."""
    from qa.serving.mcp_server import serve as serve_mcp

    serve_mcp(_settings(ctx))


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the `qa serve` running with these settings."""
    from qa.serving.handoff import stop_server

    record = stop_server(_settings(ctx))
    if record is None:
        err.print("no qa serve is running with these settings")
        raise typer.Exit(1)
    out.print(f"stopped qa serve (process {record.pid})")

"""`python -m bench [--quick]`: one run, a table, and bench/results/<timestamp>.json."""

import argparse

from rich.console import Console
from rich.table import Table

from bench import hits, measure
from qa.models.embeddings import default_embeddings
from qa.settings import Settings

TARGETS = {
    "cli_help_p50_s": ("<=", 0.5),
    "cli_info_p50_s": ("<=", 2),
    "cli_ask_cold_peak_mb": ("<=", 1500),
    "cli_ask_warm_vs_naive": ("<=", 1.1),
    "cli_ask_cold_vs_warm": ("<=", 2.0),
    "ingest_chunks_per_s": (">=", 300),
    "ingest_vs_embedding": ("<=", 1.15),
    "ingest_vs_float32": (">=", 1.8),
    "retrieval_50000_p95_ms": ("<=", 15),
    "retrieval_1000000_p95_ms": ("<=", 40),
    "answer_p50_vs_naive": ("<=", 1.0),
    "answer_p95_vs_naive": ("<=", 1.2),
    "why_how_p50_vs_naive": ("<=", 1.2),
    "first_token_p50_vs_naive": ("<=", 0.5),
    "answer_tokens_vs_naive": ("<=", 1.0),
    "api_first_chunk_vs_in_process": ("<=", 1.1),
    "api_answer_vs_ask": ("<=", 1.05),
    "peak_memory_mb": ("<=", 3000),
}


SECTIONS = ["cli", "ingest", "hits", "pdf", "scale", "answers", "api"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and 10 questions: a smoke run")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=SECTIONS, metavar="PART",
                        help=f"measure only these parts: {', '.join(SECTIONS)}")
    args = parser.parse_args()
    console = Console()
    results: dict = {}
    embeddings = default_embeddings(Settings().cache_dir, int8=Settings().embedding_precision == "int8")
    if "cli" in args.only:
        with console.status("the command line, cold and warm"):
            results |= measure.command_line(warm_questions=5 if args.quick else 10)
    if "ingest" in args.only:
        with console.status("ingest"):
            results |= measure.ingest_throughput(embeddings)
            results |= measure.ingest_throughput(default_embeddings(), "ingest_float32")
            results["ingest_vs_float32"] = results["ingest_chunks_per_s"] / results["ingest_float32_chunks_per_s"]
    if "hits" in args.only:
        with console.status("retrieval quality"):
            results |= hits.article_hits(embeddings) | hits.squad_hits(embeddings)
    if "pdf" in args.only:
        with console.status("PDF ingest"):
            results |= measure.pdf_ingest_throughput(embeddings, pages=60 if args.quick else 300)
    if "scale" in args.only:
        with console.status("retrieval at scale"):
            sizes = (1_000, 50_000) if args.quick else (1_000, 50_000, 1_000_000)
            results |= measure.retrieval_at_scale(embeddings, sizes=sizes)
    if "answers" in args.only:
        with console.status("answers"):
            results |= measure.answers(limit=10 if args.quick else None)
    if "api" in args.only:
        with console.status("the HTTP API against the Python API"):
            results |= measure.api(limit=10 if args.quick else None)
    if {"cli", "answers"} <= set(args.only):
        results["cli_ask_warm_vs_naive"] = results["cli_ask_warm_p50_s"] / results["naive_answer_p50_s"]
        results["cli_ask_cold_vs_warm"] = results["cli_ask_cold_p50_s"] / results["cli_ask_warm_p50_s"]
    results["peak_memory_mb"] = measure.peak_memory_mb()
    table = Table("measure", "value", "target")
    for name, value in results.items():
        op, target = TARGETS.get(name, ("", ""))
        met = "" if not op else ("✓" if (value <= target if op == "<=" else value >= target) else "✗")
        table.add_row(name, f"{value:.3f}" if isinstance(value, float) else str(value), f"{op} {target} {met}".strip())
    console.print(table)
    console.print(f"saved {measure.save(results, measure.ROOT / 'bench' / 'results')}")


main()

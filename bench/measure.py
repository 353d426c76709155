"""Each function measures one thing and returns plain numbers; __main__ prints and saves them."""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qa.evaluation.metrics import percentile

ROOT = Path(__file__).resolve().parents[1]


# A fresh interpreter times each step of a first answer, with the peak resident memory after it.
_STEPS = """
import json, time
t = time.perf_counter(); steps = {}
def step(name):
    global t
    hwm = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
    steps[name] = {"s": time.perf_counter() - t, "peak_mb": hwm}; t = time.perf_counter()
import qa.api, qa.answering.chain; step("imports")
p = qa.api.pipeline(); p.index.count(); step("open_index")
p.retrieve("Until when will the core partnership continue?"); step("load_embeddings")
p.chat_model.load(); step("load_model")  # one model and context for the answer and the judge
p.ask("Until when will the core partnership continue?"); step("first_answer")
print(json.dumps(steps))
"""


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one process (its own accounting, from wait4)."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {proc.returncode}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def command_line(runs: int = 3, warm_questions: int = 10) -> dict:
    """`qa` as a shell user meets it: --help, info, and ask in fresh processes, without and with a warm
    `qa serve --no-ui` (the server QA_KEEP_WARM starts)."""
    from qa.evaluation.data import load_questions

    questions = [q.question for q in load_questions(ROOT / "eval" / "dataset.jsonl")]
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "QA_INDEX_DIR": f"{tmp}/index", "QA_CORPUS_DIR": str(ROOT / "corpus")}
        qa = [sys.executable, "-m", "qa"]
        _run([*qa, "ingest"], env)
        steps = subprocess.run([sys.executable, "-c", _STEPS], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        for name, step in json.loads(steps.stdout.strip().splitlines()[-1]).items():
            results[f"cold_{name}_s"] = step["s"]
            results[f"cold_{name}_peak_mb"] = step["peak_mb"]
        for name, args in (("help", ["--help"]), ("info", ["info"])):
            runs_ = [_run([*qa, *args], env) for _ in range(runs)]
            results[f"cli_{name}_p50_s"] = statistics.median(w for w, _ in runs_)
        cold = [_run([*qa, "ask", "--no-server", q], env) for q in questions[1 : runs + 1]]
        results["cli_ask_cold_p50_s"] = statistics.median(w for w, _ in cold)
        results["cli_ask_cold_peak_mb"] = max(m for _, m in cold)

        server = subprocess.Popen([*qa, "serve", "--no-ui"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            from qa.serving.handoff import read_record
            from qa.settings import Settings

            settings = Settings.from_env(env)
            deadline = time.time() + 300
            while read_record(settings) is None and time.time() < deadline:
                time.sleep(0.5)
            _run([*qa, "ask", questions[0]], env)  # waits for the server's warm-up
            warm = [_run([*qa, "ask", q], env) for q in questions[runs + 1 : runs + 1 + warm_questions]]
        finally:
            server.terminate()
            _, _, usage = os.wait4(server.pid, 0)
        results["cli_ask_warm_p50_s"] = statistics.median(w for w, _ in warm)
        results["cli_ask_warm_peak_mb"] = max(m for _, m in warm)
        results["warm_server_peak_mb"] = usage.ru_maxrss / 1024
    return results


def pydoc_corpus(folder: Path) -> int:
    """The standard library's help topics, one document per paragraph group: thousands of small files."""
    import pydoc_data.topics

    n = 0
    for name, text in pydoc_data.topics.topics.items():
        blocks = [b for b in text.split("\n\n") if b.strip()]
        for i in range(0, len(blocks), 3):
            (folder / f"{name}-{i // 3:03d}.txt").write_text("\n\n".join(blocks[i : i + 3]))
            n += 1
    return n


def ingest_throughput(embeddings, name: str = "ingest") -> dict:
    """Chunks per second of an ingest of the help texts, and its time against the embedding model's own
    time for the same chunks (what reading, chunking, the store and the words cost beyond it)."""
    from qa.settings import Settings
    from qa.store.documents import read_document
    from qa.store.index import Index
    from qa.store.ingestion import distinct, ingest

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        docs = pydoc_corpus(folder)
        size = sum(f.stat().st_size for f in folder.iterdir())
        index = Index(Settings(index_dir=Path(tmp) / "index"), embeddings)
        texts = [c.text for f in sorted(folder.iterdir()) for c in distinct(index.chunker(read_document(f, folder)))]
        texts = list(dict.fromkeys(texts))  # each text once, as the ingest embeds them

        def embedding_alone() -> float:
            started = time.perf_counter()
            embeddings.embed_documents(texts)
            return time.perf_counter() - started

        embeddings.embed_documents(["warm-up: the model loads before the clock starts"])
        # The embedding alone is timed just before and just after the ingest: this machine's speed drifts by
        # 10% between runs a minute apart, and their mean is what the ingest ran beside.
        before = embedding_alone()
        started = time.perf_counter()
        report = ingest(index, [folder])
        seconds = time.perf_counter() - started
        embedding = (before + embedding_alone()) / 2
        started = time.perf_counter()
        ingest(index, [folder])
        again = time.perf_counter() - started
    return {
        f"{name}_documents": docs,
        f"{name}_bytes": size,
        f"{name}_chunks": report.chunks_written,
        f"{name}_chunks_per_s": report.chunks_written / seconds,
        f"{name}_vs_embedding": seconds / embedding,
        f"re{name}_unchanged_s": again,
    }


def pdf_ingest_throughput(embeddings, pages: int = 300) -> dict:
    """Pages per second of a PDF of the help texts (50 lines a page): reading alone, then reading and indexing."""
    import pydoc_data.topics
    import textwrap

    from bench.pdf import make_pdf
    from qa.settings import Settings
    from qa.store.documents import read_document
    from qa.store.index import Index
    from qa.store.ingestion import ingest

    lines = [line for text in pydoc_data.topics.topics.values() for line in textwrap.wrap(text, 90)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        pdf = folder / "help.pdf"
        pdf.write_bytes(make_pdf([lines[i * 50 : (i + 1) * 50] for i in range(pages)]))
        started = time.perf_counter()
        read_document(pdf)
        reading = time.perf_counter() - started
        index = Index(Settings(index_dir=Path(tmp) / "index"), embeddings)
        started = time.perf_counter()
        report = ingest(index, [folder])
        seconds = time.perf_counter() - started
    return {
        "pdf_pages": pages,
        "pdf_read_pages_per_s": pages / reading,
        "pdf_ingest_pages_per_s": pages / seconds,
        "pdf_ingest_chunks_per_s": report.chunks_written / seconds,
    }


def retrieval_at_scale(embeddings, sizes=(1_000, 10_000, 50_000), queries: int = 100) -> dict:
    """Query latency of the fused retriever (dense and BM25) over indexes of N chunks, with their size.

    The corpus is synthetic, written straight through the index (vectors and words, as an ingest writes
    them) without the embedding model: each chunk's text is 60 words drawn from one of the pydoc help
    texts' chunks, its vector that chunk's embedding with a little noise, which gives the HNSW index N
    distinct points. The questions are real chunks' first sentences, embedded as a user's would be.
    """
    import pydoc_data.topics

    import numpy as np

    from qa.domain import Chunk
    from qa.retrieval.hybrid import IndexRetriever
    from qa.settings import Settings
    from qa.store.documents import Document, chunk_document
    from qa.store.index import Index
    from qa.store.versions import Version, Write

    chunks = [c for name, text in pydoc_data.topics.topics.items() for c in chunk_document(Document(name, name, text), 320)]
    base = np.array(embeddings.embed_documents([c.text for c in chunks]), dtype=np.float32)
    words = [c.text.split() for c in chunks]
    rng = np.random.default_rng(7)
    # Each size gets fresh questions, so the query-embedding cache never serves a timed query.
    sample = random.Random(7).sample(chunks, queries * len(sizes))
    question_sets = [[c.text.split(".")[0][:120] for c in sample[i * queries : (i + 1) * queries]] for i in range(len(sizes))]
    out = {}
    for n, questions in zip(sizes, question_sets):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(index_dir=Path(tmp), collection=f"bench-{n}", chroma_url=None)
            index = Index(settings, embeddings)
            started = time.perf_counter()
            per_document = 1000  # chunks per synthetic document: one version record each
            for lo in range(0, n, 5000):
                ids = list(range(lo, min(n, lo + 5000)))
                write = Write()
                for doc_lo in range(lo, ids[-1] + 1, per_document):
                    doc_ids = [i for i in ids if doc_lo <= i < doc_lo + per_document]
                    source = f"synthetic-{doc_lo // per_document}.txt"
                    version = Version("synthetic", "bench", min(per_document, n - doc_lo), source)
                    write.add([Chunk(f"{n}-{i}", _drawn(words[i % len(words)], rng), source, source, 0, 1) for i in doc_ids], version)
                    if doc_ids[-1] == min(n, doc_lo + per_document) - 1:
                        write.finish(source, version, set(), record=True)
                noise = rng.normal(0, 0.01, (len(ids), base.shape[1])).astype(np.float32)
                index.write(write, (base[[i % len(base) for i in ids]] + noise).tolist())
            build_s = time.perf_counter() - started
            retriever = IndexRetriever(index, settings)
            for q in questions[:5]:
                retriever.retrieve(q)  # warm the query path; these are not timed
            latencies, searches = [], []
            for q in questions[5:]:
                t = time.perf_counter()
                retriever.retrieve(q)
                latencies.append(time.perf_counter() - t)
            for q in questions[5:]:  # again, the question's vector now cached: the search alone
                t = time.perf_counter()
                retriever.retrieve(q)
                searches.append(time.perf_counter() - t)
            out[f"retrieval_{n}_p50_ms"] = percentile(latencies, 0.5) * 1000
            out[f"retrieval_{n}_p95_ms"] = percentile(latencies, 0.95) * 1000
            out[f"retrieval_{n}_search_p95_ms"] = percentile(searches, 0.95) * 1000
            out[f"retrieval_{n}_index_mb"] = _folder_mb(Path(tmp))
            out[f"retrieval_{n}_lexical_mb"] = _folder_mb(index.lexical.folder)
            out[f"retrieval_{n}_build_s"] = build_s
            out[f"retrieval_{n}_peak_mb"] = peak_memory_mb()
    return out


def _drawn(words: list[str], rng) -> str:  # noqa: ANN001 - a numpy Generator
    """Sixty words drawn from a chunk's own: text whose words agree with the chunk's vector."""
    return " ".join(words[i] for i in rng.integers(0, len(words), 60)) if words else "empty"


def _folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


BROAD = ("overview", "main_points")
WHY_HOW = ("why", "how")


def answers(limit: int | None = None) -> dict:
    """Warm answer latency over the eval's factoid questions, ours and the naive baseline's, with tokens/s;
    broad (overview, main points) and why/how questions timed apart."""
    from qa.api import pipeline
    from qa.evaluation.baseline import NaivePipeline
    from qa.evaluation.data import load_questions
    from qa.settings import Settings

    dataset = load_questions(ROOT / "eval" / "dataset.jsonl")
    # Broad questions (answered by quoting, no generator) and why/how ones are timed apart from the factoid set.
    questions = [q.question for q in dataset if q.type not in BROAD + WHY_HOW][:limit]
    broad = [q.question for q in dataset if q.type in BROAD]
    why_how = [q.question for q in dataset if q.type in WHY_HOW]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(index_dir=Path(tmp) / "index", corpus_dir=ROOT / "corpus")
        p = pipeline(settings)
        p.ask(questions[0])  # warm: models loaded, prompt prefixes cached
        ours = [p.ask(q) for q in questions]
        broad_total = [p.ask(q).timings["total_s"] for q in broad]
        why_how_total = [p.ask(q).timings["total_s"] for q in why_how]
        generate, tokens = 0.0, 0
        for q in questions[:10]:
            started = time.perf_counter()
            reply = p.chat_model.invoke(f"Write three sentences about: {q}")
            generate += time.perf_counter() - started
            tokens += reply.usage_metadata["output_tokens"]
        naive = NaivePipeline(settings, p.index.embeddings, p.chat_model)
        naive.ask(questions[0])
        naive_total, naive_tokens = [], []
        for q in questions:
            counted = p.chat_model.evaluated_tokens
            naive_total.append(naive.ask(q).timings["total_s"])
            naive_tokens.append(p.chat_model.evaluated_tokens - counted)
    ours_total = [a.timings["total_s"] for a in ours]
    ours_first = [a.timings.get("first_token_s", a.timings["total_s"]) for a in ours]
    ours_tokens = [sum(v for k, v in a.timings.items() if k.endswith("_tokens")) for a in ours]
    return {
        "answer_questions": len(questions),
        "answer_p50_s": percentile(ours_total, 0.5),
        "answer_p95_s": percentile(ours_total, 0.95),
        "first_token_p50_s": percentile(ours_first, 0.5),
        "first_token_p95_s": percentile(ours_first, 0.95),
        "naive_answer_p50_s": percentile(naive_total, 0.5),
        "naive_answer_p95_s": percentile(naive_total, 0.95),
        "answer_p50_vs_naive": percentile(ours_total, 0.5) / percentile(naive_total, 0.5),
        "answer_p95_vs_naive": percentile(ours_total, 0.95) / percentile(naive_total, 0.95),
        "first_token_p50_vs_naive": percentile(ours_first, 0.5) / percentile(naive_total, 0.5),
        "broad_answer_p50_s": percentile(broad_total, 0.5),
        "why_how_answer_p50_s": percentile(why_how_total, 0.5),
        "why_how_p50_vs_naive": percentile(why_how_total, 0.5) / percentile(naive_total, 0.5),
        # Tokens the model newly evaluated per answer (not served from a cached prefix), by step.
        "answer_tokens_mean": statistics.fmean(ours_tokens),
        **{
            f"answer_{step}_tokens_mean": statistics.fmean(a.timings.get(f"{step}_tokens", 0) for a in ours)
            for step in ("retrieve", "generate", "verify")
        },
        **{f"answer_{step}_s_p50": percentile([a.timings.get(f"{step}_s", 0.0) for a in ours], 0.5) for step in ("retrieve", "generate", "verify")},
        "naive_answer_tokens_mean": statistics.fmean(naive_tokens),
        "answer_tokens_vs_naive": statistics.fmean(ours_tokens) / statistics.fmean(naive_tokens),
        "generation_tokens_per_s": tokens / generate,
        "mean_answer_s": statistics.fmean(ours_total),
    }


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def save(results: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(json.dumps(results, indent=1))
    return path


def api(limit: int | None = None) -> dict:
    """The HTTP API against the Python API, question by question in one process: the first streamed chunk through
    /v1/chat/completions against the first token of `ask_stream`, a whole answer against `ask()`."""
    import httpx

    from qa.api import pipeline
    from qa.evaluation.data import load_questions
    from qa.serving.http_api import create_app
    from qa.serving.server import bound, listening
    from qa.settings import Settings

    questions = [q.question for q in load_questions(ROOT / "eval" / "dataset.jsonl") if q.type not in BROAD + WHY_HOW][:limit]
    timed: dict[str, list[float]] = {"first": [], "api_first": [], "total": [], "api_total": []}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(index_dir=Path(tmp) / "index", corpus_dir=ROOT / "corpus")
        p = pipeline(settings)
        p.ask(questions[0])  # warm: models loaded, prompt prefixes cached
        with listening(create_app(settings, p), bound("127.0.0.1", 0)) as url, httpx.Client(base_url=f"{url}/v1", timeout=600) as http:
            http.post("/chat/completions", json=_chat(questions[0]))  # the API's own first request (imports, threads)

            def first(q: str) -> float:
                started = time.perf_counter()
                stream = p.ask_stream(q)
                next(stream, None)
                seconds = time.perf_counter() - started
                stream.answer()
                return seconds

            def api_first(q: str) -> float:
                started = time.perf_counter()
                with http.stream("POST", "/chat/completions", json=_chat(q, stream=True)) as reply:
                    return _first_content(reply, started)

            def total(q: str) -> float:
                started = time.perf_counter()
                p.ask(q)
                return time.perf_counter() - started

            def api_total(q: str) -> float:
                started = time.perf_counter()
                http.post("/chat/completions", json=_chat(q)).raise_for_status()
                return time.perf_counter() - started

            ways = {"first": first, "api_first": api_first, "total": total, "api_total": api_total}
            for i, q in enumerate(questions):
                # llama.cpp reuses an identical prompt's evaluation: another question before each timing, so that
                # neither way finds this one's prompt ready; the order alternates between questions.
                for name in (ways if i % 2 == 0 else reversed(list(ways))):
                    p.ask(questions[i - 1] if i else questions[-1])
                    timed[name].append(ways[name](q))
    firsts, api_firsts, totals, api_totals = (timed[k] for k in ("first", "api_first", "total", "api_total"))
    return {
        "api_questions": len(questions),
        "api_first_chunk_p50_s": percentile(api_firsts, 0.5),
        "in_process_first_token_p50_s": percentile(firsts, 0.5),
        "api_first_chunk_vs_in_process": percentile(api_firsts, 0.5) / percentile(firsts, 0.5),
        "api_answer_p50_s": percentile(api_totals, 0.5),
        "ask_p50_s": percentile(totals, 0.5),
        "api_answer_vs_ask": percentile(api_totals, 0.5) / percentile(totals, 0.5),
    }


def _chat(question: str, stream: bool = False) -> dict:
    return {"model": "qa", "messages": [{"role": "user", "content": question}], "stream": stream}


def _first_content(reply, started: float) -> float:  # noqa: ANN001 - an httpx streamed response
    """Seconds from `started` to the first chunk with text; the rest of the stream is read to its end."""
    first = None
    for line in reply.iter_lines():
        if first is None and line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
            first = time.perf_counter() - started
    reply.raise_for_status()
    return first if first is not None else time.perf_counter() - started

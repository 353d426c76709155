"""A document fuzzer: broken files of every supported format, fed to ingest beside the article.

Files are made the ways real ones break (bit flips, truncated downloads, swapped extensions, empty
parts, huge single lines, deep nesting, odd encodings, zip bombs). Each must be indexed with exact
spans or refused with one line that names it; none may stop the others, hang or blow up memory.
Seeded: `QA_FUZZ_SEED=N pytest tests/test_fuzz.py` replays a run; `QA_FUZZ_FILES` sets its size.
The quick sample (20 files) runs by default; the full run (1,000 files) is marked slow.
"""

from __future__ import annotations

import io
import os
import random
import resource
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ARTICLE, make_docx, make_pdf
from langchain_core.embeddings import DeterministicFakeEmbedding

from qa.settings import Settings
from qa.store.documents import DocumentError, read_document
from qa.store.index import Index
from qa.store.ingestion import ingest
from qa.store.readers import MAX_UNPACKED_BYTES

SEED = int(os.environ.get("QA_FUZZ_SEED", "20261130"))
PER_FILE_SECONDS = 20.0
MEMORY_GROWTH_BYTES = 1_500 * 1024 * 1024
SENTENCES = [
    "The harbour opened in 1901 after a decade of work.",
    "Its lighthouse was rebuilt in 1950 and still guides ships.",
    "Fishing boats leave before dawn and return at noon.",
]


def _seeds(folder: Path) -> dict[str, bytes]:
    """One well-formed file per format, as bytes."""
    text = " ".join(SENTENCES)
    docx = make_docx(folder / "seed.docx", "Harbour", SENTENCES, heading="The harbour")
    html = f"<html><head><title>Harbour</title></head><body><h1>Harbour</h1><p>{text}</p><!-- note --></body></html>"
    return {
        ".txt": text.encode(),
        ".md": f"# Harbour\n\n{text}\n".encode(),
        ".html": html.encode(),
        ".pdf": make_pdf([SENTENCES[:2], SENTENCES[2:]]),
        ".docx": docx.read_bytes(),
    }


def _flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _zip_bomb(rng: random.Random, data: bytes) -> bytes:
    """A .docx whose parts unpack past the reader's limit (a few KB on disk)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with zipfile.ZipFile(io.BytesIO(data)) as seed:
            for info in seed.infolist():
                archive.writestr(info, seed.read(info))
        with archive.open("word/padding.bin", "w", force_zip64=True) as part:
            block = b"\0" * (1 << 24)
            for _ in range(MAX_UNPACKED_BYTES // len(block) + 1):
                part.write(block)
    return out.getvalue()


def _zero_part(rng: random.Random, data: bytes) -> bytes:
    """A .docx with one of its parts emptied."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as seed, zipfile.ZipFile(out, "w") as archive:
        names = seed.namelist()
        emptied = rng.choice(names)
        for name in names:
            archive.writestr(name, b"" if name == emptied else seed.read(name))
    return out.getvalue()


# Each mutation: (name, formats it applies to (empty: all), size class, function of (rng, seed bytes)).
Mutation = tuple[str, tuple[str, ...], str, Callable[[random.Random, bytes], bytes]]
MUTATIONS: list[Mutation] = [
    ("bit flips", (), "small", _flip),
    ("truncated", (), "small", lambda rng, d: d[: rng.randrange(len(d))]),
    ("zero length", (), "small", lambda rng, d: b""),
    ("doubled", (), "small", lambda rng, d: d + d),
    ("random bytes", (), "small", lambda rng, d: rng.randbytes(rng.randint(1, 4096))),
    ("invalid UTF-8", (".txt", ".md", ".html"), "small", lambda rng, d: d[:20] + b"\xff\xfe\xc3\x28" + d[20:]),
    ("UTF-16 with BOM", (".txt", ".md", ".html"), "small", lambda rng, d: d.decode().encode("utf-16")),
    ("UTF-16 without BOM", (".txt", ".md", ".html"), "small", lambda rng, d: d.decode().encode("utf-16-le")),
    ("UTF-8 BOM", (".txt", ".md", ".html"), "small", lambda rng, d: b"\xef\xbb\xbf" + d),
    ("control characters", (".txt", ".md", ".html"), "small", lambda rng, d: d.replace(b" ", b" \x1b\x07", 3)),
    ("lone surrogate", (".txt", ".md"), "small", lambda rng, d: d + b"\xed\xa0\x80"),
    # 10,000 levels: ten times Python's recursion limit (50,000 took 1 s a parse, most of the fuzz's time).
    ("deep nesting", (".html",), "small", lambda rng, d: b"<div>" * 10_000 + d + b"</div>" * 10_000),
    ("unclosed tags", (".html",), "small", lambda rng, d: d.replace(b"</", b"<", rng.randint(1, 5))),
    ("empty PDF parts", (".pdf",), "small", lambda rng, d: d.replace(b"stream", b"stream\n\n", 1)[: len(d)]),
    ("zero-length part", (".docx",), "small", _zero_part),
    ("zip bomb", (".docx",), "large", _zip_bomb),
    ("10 MB single line", (".txt", ".md"), "large", lambda rng, d: (SENTENCES[0] + " ").encode() * (10_000_000 // 51)),
]
FORMATS = (".txt", ".md", ".html", ".pdf", ".docx")


def _fuzz_files(folder: Path, count: int, seed: int, large: bool) -> list[tuple[Path, str]]:
    """`count` mutated files in `folder`, each with the mutation that made it; some wear another format's suffix."""
    rng = random.Random(seed)
    seeds = _seeds(folder.parent)
    usable = [m for m in MUTATIONS if large or m[2] == "small"]
    made: list[tuple[Path, str]] = []
    cached_large: dict[tuple[str, str], bytes] = {}  # a 10 MB line or a bomb is the same file each time
    large_left = 4  # each large file costs seconds to index: a few show what they must
    for i in range(count):
        name, formats, size, mutate = rng.choice(usable)
        while size == "large" and not large_left:
            name, formats, size, mutate = rng.choice(usable)
        large_left -= size == "large"
        fmt = rng.choice(formats or FORMATS)
        if size == "large":
            data = cached_large.setdefault((name, fmt), mutate(rng, seeds[fmt]))
        else:
            data = mutate(rng, seeds[fmt])
        suffix = rng.choice(FORMATS) if rng.random() < 0.15 else fmt  # a swapped extension
        path = folder / f"fuzz-{i:04d}{suffix}"
        path.write_bytes(data)
        made.append((path, f"{name} of {fmt}" + (f" saved as {suffix}" if suffix != fmt else "")))
    return made


def _exact(doc, chunks) -> bool:
    return all(doc.text[c.start : c.end] == c.text for c in chunks)


def _run(tmp_path: Path, count: int, large: bool) -> dict[str, int]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / ARTICLE.name).write_bytes(ARTICLE.read_bytes())
    made = _fuzz_files(corpus, count, SEED, large)
    replay = f"(replay: QA_FUZZ_SEED={SEED} QA_FUZZ_FILES={count})"

    # Each file alone first: read it under a time limit, and any failure must be one line naming it.
    read = {}  # what each readable file reads as, to compare with its chunks after the ingest
    for path, how in made:
        started = time.perf_counter()
        try:
            read[path] = read_document(path, corpus)
        except DocumentError as e:
            message = str(e)
            assert "\n" not in message and path.name in message and "Traceback" not in message, (how, message, replay)
        except Exception as e:  # noqa: BLE001 - what the fuzzer is here to find
            pytest.fail(f"{path.name} ({how}) raised {type(e).__name__}: {e} {replay}")
        assert time.perf_counter() - started < PER_FILE_SECONDS, (path.name, how, replay)

    # Then the whole folder in one ingest: nothing stops it, each file is indexed exactly or refused.
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    index = Index(settings, DeterministicFakeEmbedding(size=64))
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    report = ingest(index, [corpus])
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    assert growth < MEMORY_GROWTH_BYTES, (growth, replay)

    indexed = set(report.added)
    assert set(report.failed) | indexed == {p.relative_to(corpus).as_posix() for p, _ in made} | {ARTICLE.name}, replay
    for source, message in report.failed.items():
        assert "\n" not in message and Path(source).name in message, (source, message, replay)
    for path, how in made:
        source = path.relative_to(corpus).as_posix()
        if source in indexed:
            assert _exact(read[path], index.chunks(source)), (how, replay)

    # The article is intact and found: each of its chunks retrieves itself among the nearest (the fake
    # embedding is random per text, so only an exact match is near; the search is approximate).
    article = read_document(corpus / ARTICLE.name, corpus)
    chunks = index.chunks(ARTICLE.name)
    assert chunks and _exact(article, chunks)
    for chunk in chunks:
        assert chunk.id in [d.id for d in index.store.similarity_search(chunk.text, k=10)], replay
    return {"files": len(made), "indexed": len(indexed - {ARTICLE.name}), "refused": len(report.failed)}


def test_a_quick_sample_of_broken_files_is_indexed_or_refused_one_by_one(tmp_path: Path):
    counts = _run(tmp_path, int(os.environ.get("QA_FUZZ_FILES", "20")), large=False)
    # Both outcomes happen: a fuzzer that only makes unreadable files (or only good ones) tests little.
    assert counts["indexed"] > 0 and counts["refused"] > 0, counts


@pytest.mark.slow
def test_a_thousand_broken_files_with_zip_bombs_and_10_mb_lines(tmp_path: Path):
    counts = _run(tmp_path, max(1000, int(os.environ.get("QA_FUZZ_FILES", "1000"))), large=True)
    assert counts["files"] >= 1000 and counts["indexed"] > 0 and counts["refused"] > 0, counts
    print(f"\nfuzzed {counts['files']}: indexed {counts['indexed']}, refused {counts['refused']}, crashed 0, hung 0")

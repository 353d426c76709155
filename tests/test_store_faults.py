"""A damaged, locked or full index: a one-line error that says what to do, and nothing already indexed is lost."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ARTICLE

pytestmark = pytest.mark.slow  # the CLI in fresh processes against damaged, locked and full stores


def qa(home: Path, *args: str, limit_file_size: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "QA_CORPUS_DIR": str(home / "corpus"), "QA_INDEX_DIR": str(home / "index")}

    def file_size_limit():
        # The kernel then refuses writes past the limit, as on a full disk (EFBIG instead of a signal).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    return subprocess.run(
        [sys.executable, "-m", "qa", *args], cwd=home, env=env, capture_output=True, text=True, timeout=300,
        preexec_fn=file_size_limit if limit_file_size else None,
    )


def indexed(home: Path) -> dict:
    result = qa(home, "info", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def one_line_error(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.fixture
def home(tmp_path) -> Path:
    (tmp_path / "corpus").mkdir()
    shutil.copy(ARTICLE, tmp_path / "corpus" / ARTICLE.name)
    assert qa(tmp_path, "ingest").returncode == 0
    return tmp_path


def test_a_damaged_index_is_reported_and_rebuilt_with_the_old_one_kept(home):
    database = home / "index" / "chroma.sqlite3"
    database.write_bytes(b"\0" * 100 + database.read_bytes()[100:])

    one_line_error(qa(home, "ask", "Until when will the core partnership continue?"), "damaged", "qa ingest --rebuild")
    rebuilt = qa(home, "ingest", "--rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "previous index moved to" in rebuilt.stdout
    kept = [p for p in home.iterdir() if p.name.startswith("index.broken-")]
    assert len(kept) == 1 and (kept[0] / "chroma.sqlite3").read_bytes()[:100] == b"\0" * 100
    assert list(indexed(home)["documents"]) == [ARTICLE.name]


def test_an_index_locked_by_another_process_fails_instead_of_hanging(home):
    holder = sqlite3.connect(home / "index" / "chroma.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        one_line_error(qa(home, "info"), "another process holds it locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert indexed(home)["chunks"] > 0


def test_a_full_disk_during_ingest_keeps_the_index_and_the_next_ingest_completes(home):
    before = indexed(home)
    for i in range(300):
        (home / "corpus" / f"note-{i:04d}.txt").write_text(f"Warehouse {i} stores {i * 7} crates of tea. It opened in {1900 + i}.\n\n" * 3)
    limit = (home / "index" / "chroma.sqlite3").stat().st_size + 16_000

    one_line_error(qa(home, "ingest", limit_file_size=limit), "writing to the disk failed")
    assert indexed(home) == before  # no partial document is visible

    finished = qa(home, "ingest")
    assert finished.returncode == 0, finished.stderr
    after = indexed(home)
    assert len(after["documents"]) == 301
    assert all(entry["chunks"] == 1 for name, entry in after["documents"].items() if name.startswith("note-"))
    assert after["documents"][ARTICLE.name] == before["documents"][ARTICLE.name]

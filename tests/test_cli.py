"""The CLI's errors, in process: one line on stderr, exit status 2, no traceback, nothing loaded for nothing."""

import pytest
from typer.testing import CliRunner

from qa.serving.cli import app


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """`qa ARGS` from an empty folder, with the user's data directory (a per-user index) inside it."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str, **env: str):
        return CliRunner().invoke(app, list(args), env={"XDG_DATA_HOME": str(tmp_path / "xdg-data"), **env})

    return run


def test_with_nothing_to_answer_from_ask_exits_non_zero_with_a_one_line_hint(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    for corpus in ("empty", "missing"):
        result = cli("ask", "Until when?", QA_CORPUS_DIR=str(tmp_path / corpus))
        assert result.exit_code == 2 and result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith("error: nothing to answer from") and "qa ingest PATH" in line and "QA_CORPUS_DIR" in line


def test_bad_input_is_one_line_without_a_traceback(cli):
    empty, missing, misspelt = cli("ask", "   "), cli("ingest", "no-such-folder"), cli("ask", "Until when?", "--verify", "dorp")
    assert empty.exit_code == 2 and empty.stderr.strip() == "error: the question is empty"
    assert missing.exit_code == 2 and "no such file or directory" in missing.stderr
    assert misspelt.exit_code == 2 and misspelt.stderr.strip() == "error: QA_VERIFY must be one of drop, mark, off, not 'dorp'"
    assert all("Traceback" not in r.stderr for r in (empty, missing, misspelt))


@pytest.mark.parametrize("terminal", [True, False])
def test_ingest_shows_files_chunks_rate_and_time_left_on_a_terminal_only(cli, tmp_path, monkeypatch, terminal):
    import io

    from rich.console import Console

    from qa.serving import cli as cli_module

    shown = io.StringIO()
    monkeypatch.setattr(cli_module, "err", Console(file=shown, force_terminal=terminal, width=160))
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for n in range(3):
        (corpus / f"note{n}.txt").write_text(f"Harbour {n} opened in 19{n}0 after years of work. " * 30)
    result = cli("ingest", str(corpus), QA_INDEX_DIR=str(tmp_path / "index"))
    assert result.exit_code == 0, result.stderr
    assert "chunks written" in result.stdout  # the report itself is the same either way
    if terminal:
        assert "3/3 files" in shown.getvalue() and "chunks/s" in shown.getvalue()
    else:
        assert shown.getvalue() == ""

"""`qa ask` hands its question to a running `qa serve` with the same settings, and answers in-process otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest
from typer.testing import CliRunner

import qa.api
from qa.domain import Answer, Citation, Passage, Sentence, Signals
from qa.errors import QuestionError
from qa.serving.cli import app
from qa.serving.handoff import HandoffServer, ServerUnavailable, ask_server, read_record, record_path
from qa.settings import Settings

PASSAGE = Passage("a#0", "The core partnership will continue until 2030.", "a.md", "Article", 10, 57, score=0.71)
ANSWER = Answer(
    question="Until when will the core partnership continue?",
    text="Until 2030 [1].",
    citations=[Citation.from_passage(1, PASSAGE)],
    passages=[PASSAGE],
    timings={"total_s": 1.5},
    sentences=[Sentence("Until 2030 [1].", (1,), 0.98)],
    confidence=0.6,
    signals=Signals({"support": 0.98, "asked": 0.9, "answers": 0.9, "best": 0.9}),
)


@pytest.fixture
def settings(settings, tmp_path):
    return settings.with_(cache_dir=tmp_path / "cache")


class Asked:
    """A stand-in for `qa.api.ask` that records its calls and can be held until released."""

    def __init__(self, answer: Answer = ANSWER, error: Exception | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.answer, self.error = answer, error
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()

    def __call__(self, question: str, **options) -> Answer:
        self.calls.append((question, options))
        self.started.set()
        self.release.wait(30)
        if self.error:
            raise self.error
        return self.answer


def test_an_answer_comes_back_whole_with_the_options_passed_on(settings):
    asked = Asked()
    with HandoffServer(settings, asked) as server:
        assert record_path(settings).stat().st_mode & 0o777 == 0o600  # the token is for this user only
        answer = ask_server(settings, ANSWER.question, top_k=5, verify="mark")
    assert answer == ANSWER
    assert asked.calls == [(ANSWER.question, {"top_k": 5, "verify": "mark"})]
    assert server.record.url.startswith("http://127.0.0.1:")
    assert not record_path(settings).exists()  # removed when the server stops


def test_an_error_about_the_question_comes_back_as_the_same_error(settings):
    with HandoffServer(settings, Asked(error=QuestionError("the question is empty"))):
        with pytest.raises(QuestionError, match="^the question is empty$"):
            ask_server(settings, "   ")


def test_requests_without_the_token_or_malformed_are_refused(settings):
    asked = Asked()
    with HandoffServer(settings, asked) as server:
        url = f"{server.record.url}/ask"
        cases = [
            ({}, json.dumps({"question": "q"}), 401),
            ({"Authorization": "Bearer wrong"}, json.dumps({"question": "q"}), 401),
            ({"Authorization": f"Bearer {server.record.token}"}, "not json", 400),
            ({"Authorization": f"Bearer {server.record.token}"}, json.dumps({"question": "q", "top_k": "3"}), 400),
            ({"Authorization": f"Bearer {server.record.token}"}, json.dumps(["q"]), 400),
        ]
        for headers, body, status in cases:
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(urllib.request.Request(url, data=body.encode(), headers=headers), timeout=10)
            assert e.value.code == status, body
    assert asked.calls == []


def test_no_server_or_other_settings_mean_answering_in_process(settings):
    assert ask_server(settings, "q") is None
    with HandoffServer(settings, Asked()):
        assert ask_server(settings.with_(top_k=7), "q") is None  # another configuration answers differently


def test_a_server_that_is_down_is_reported_and_a_dead_one_forgotten(settings):
    server = HandoffServer(settings, Asked()).start()
    record = record_path(settings).read_text()
    server.stop()
    record_path(settings).write_text(record)  # as if it had died without cleaning up, in a live process
    with pytest.raises(ServerUnavailable, match="did not answer"):
        ask_server(settings, "q")

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    record_path(settings).write_text(record.replace(str(os.getpid()), dead.stdout.strip()))
    assert read_record(settings) is None and not record_path(settings).exists()


def test_a_starting_server_removes_the_records_of_killed_ones(settings):
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout)
    folder = record_path(settings).parent
    folder.mkdir(parents=True)
    (folder / "killed.json").write_text(json.dumps({"url": "http://127.0.0.1:1", "token": "t", "pid": dead}))
    (folder / "alive.json").write_text(json.dumps({"url": "http://127.0.0.1:2", "token": "t", "pid": os.getpid()}))
    with HandoffServer(settings.with_(top_k=7), Asked()):
        assert sorted(p.name for p in folder.glob("*.json")) == sorted(["alive.json", record_path(settings.with_(top_k=7)).name])


def test_a_busy_server_says_so_at_once(settings):
    asked = Asked()
    asked.release.clear()
    with HandoffServer(settings, asked, max_waiting=0):
        first = threading.Thread(target=ask_server, args=(settings, "first"))
        first.start()
        assert asked.started.wait(10)
        with pytest.raises(ServerUnavailable, match="503 busy"):
            ask_server(settings, "second")
        asked.release.set()
        first.join(10)
    assert [q for q, _ in asked.calls] == ["first"]


def _cli_settings(settings: Settings) -> Settings:
    """The settings `qa` builds from the flags `_cli` passes (defaults for the rest)."""
    return Settings.from_env({}, corpus_dir=settings.corpus_dir, index_dir=settings.index_dir, cache_dir=settings.cache_dir)


def _cli(settings, *args: str, **env: str):
    flags = ["--corpus-dir", str(settings.corpus_dir), "--index-dir", str(settings.index_dir)]
    return CliRunner().invoke(app, [*flags, *args], env={"QA_CACHE_DIR": str(settings.cache_dir), **env})


def test_the_cli_answers_through_the_server_without_loading_a_model(settings, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("answered in-process")

    monkeypatch.setattr(qa.api, "ask", no_model)
    cli_settings = _cli_settings(settings)
    with HandoffServer(cli_settings, Asked()):
        result = _cli(settings, "ask", ANSWER.question)
    assert result.exit_code == 0, result.output
    assert "Until 2030 [1]." in result.output and "a.md:10-57" in result.output


def test_the_cli_falls_back_to_answering_in_process_when_the_server_is_down(settings, monkeypatch):
    calls = []
    monkeypatch.setattr(qa.api, "ask", lambda question, **kw: calls.append(question) or ANSWER)
    cli_settings = _cli_settings(settings)
    server = HandoffServer(cli_settings, Asked()).start()
    record = record_path(cli_settings).read_text()
    server.stop()
    record_path(cli_settings).write_text(record)
    result = _cli(settings, "ask", ANSWER.question)
    assert result.exit_code == 0, result.output
    assert "did not answer" in result.output and "answering here" in result.output
    assert calls == [ANSWER.question] and "Until 2030 [1]." in result.output

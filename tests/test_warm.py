"""A warm server for the shell: `qa serve --no-ui`, idle-stopped, and the one `qa ask` starts with QA_KEEP_WARM."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import qa.api
import qa.serving.warm
from qa.serving.handoff import HandoffServer, ask_server, fingerprint, read_record
from qa.settings import Settings
from tests.test_handoff import ANSWER, Asked, _cli, _cli_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def settings(settings, tmp_path):
    return settings.with_(cache_dir=tmp_path / "cache")


def _waiter(server: HandoffServer, idle_s: float) -> threading.Thread:
    waiter = threading.Thread(target=server.wait, kwargs={"idle_s": idle_s, "poll_s": 0.05})
    waiter.start()
    return waiter


def test_an_idle_server_stops_waiting_but_not_while_a_question_is_answered(settings):
    asked = Asked()
    asked.release.clear()  # the answer takes as long as the test says
    with HandoffServer(settings, asked) as server:
        question = threading.Thread(target=ask_server, args=(settings, "q"))
        question.start()
        assert asked.started.wait(10)
        waiter = _waiter(server, idle_s=0.2)
        waiter.join(0.8)
        assert waiter.is_alive()  # four idle periods pass while the question is being answered
        asked.release.set()
        question.join(10)
        started = time.monotonic()
        waiter.join(10)
        assert not waiter.is_alive() and time.monotonic() - started >= 0.15  # idle counts from the answer


def test_idle_time_counts_from_when_the_server_waits_not_from_a_slow_start(settings):
    with HandoffServer(settings, Asked()) as server:
        time.sleep(0.3)  # building the app took longer than the idle time
        started = time.monotonic()
        server.wait(idle_s=0.2, poll_s=0.05)
        assert time.monotonic() - started >= 0.15


def test_a_server_without_an_idle_limit_waits_until_stopped(settings):
    server = HandoffServer(settings, Asked()).start()
    waiter = threading.Thread(target=server.wait, kwargs={"poll_s": 0.05})
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()
    server.stop()
    waiter.join(5)
    assert not waiter.is_alive()


def test_settings_travel_to_another_process_whole(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(
        {}, corpus_dir="docs", index_dir=str(tmp_path / "index"), cache_dir=tmp_path / "cache", judge_threshold=0.123456789,
        ui_read_only=True, top_k=7, keep_warm=2.5, threads=None,
    )
    again = Settings.from_env(settings.to_env())
    assert again == settings.with_(corpus_dir=tmp_path / "docs")  # relative paths arrive absolute
    assert fingerprint(again) == fingerprint(settings)


def test_how_long_a_server_stays_warm_does_not_change_which_server_answers(settings):
    assert fingerprint(settings.with_(keep_warm=10)) == fingerprint(settings)
    assert fingerprint(settings.with_(top_k=7)) != fingerprint(settings)


@pytest.mark.parametrize(
    ("keep_warm", "flags", "starts"),
    [("0", (), False), ("", (), False), ("10", (), True), ("10", ("--no-server",), False)],
)
def test_qa_ask_starts_a_warm_server_only_when_asked_to(settings, monkeypatch, keep_warm, flags, starts):
    started: list[Settings] = []
    monkeypatch.setattr(qa.api, "ask", lambda question, **kw: ANSWER)
    monkeypatch.setattr(qa.serving.warm, "start_in_background", lambda s: started.append(s) or True)
    result = _cli(settings, "ask", *flags, ANSWER.question, QA_KEEP_WARM=keep_warm)
    assert result.exit_code == 0, result.output
    assert "Until 2030 [1]." in result.output
    assert bool(started) is starts and ("keeps the model warm" in result.output) is starts
    if starts:
        assert started[0].keep_warm == 10 and started[0].index_dir == settings.index_dir


def test_a_warm_server_that_cannot_start_costs_the_answer_nothing(settings, monkeypatch):
    def unwritable(settings):
        raise PermissionError(13, "Permission denied", str(settings.cache_dir))

    monkeypatch.setattr(qa.api, "ask", lambda question, **kw: ANSWER)
    monkeypatch.setattr(qa.serving.warm, "start_in_background", unwritable)
    result = _cli(settings, "ask", ANSWER.question, QA_KEEP_WARM="10")
    assert result.exit_code == 0 and "Until 2030 [1]." in result.output
    assert "no warm server this time ([Errno 13] Permission denied" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--idle", "5"), "add --no-ui"),
        (("--no-ui", "--no-api", "--host", "0.0.0.0"), "on this machine only"),
        (("--no-ui", "--no-api", "--port", "9000"), "on this machine only"),
        (("--no-ui", "--host", "0.0.0.0"), "refusing to serve the API on 0.0.0.0 without API keys"),
    ],
)
def test_flags_that_do_not_fit_the_server_are_one_line_errors(settings, flags, message):
    result = _cli(settings, "serve", *flags)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def _start(script: str, settings: Settings) -> subprocess.Popen:
    """A `qa serve --no-ui` process run by `script` with these settings, once it has written its record."""
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 60
    while read_record(settings) is None and time.monotonic() < deadline and server.poll() is None:
        time.sleep(0.1)
    return server


@pytest.mark.slow  # a fresh process
def test_a_headless_server_starts_without_gradio_answers_and_stops_when_idle(settings, tmp_path):
    """A real `qa serve --no-ui` process (its answers come from a stand-in: no model is loaded here)."""
    script = (
        "import sys, qa.api, qa.serving.warm\n"
        "from tests.test_handoff import ANSWER\n"
        "qa.api.ask = lambda question, **kw: ANSWER\n"
        "qa.serving.warm.warm_in_background = lambda settings: None\n"
        "from qa.serving.cli import app\n"
        "sys.argv = ['qa', 'serve', '--no-ui', '--port', '0', '--idle', '0.05']\n"
        "try:\n    app()\nfinally:\n    print('gradio' in sys.modules, file=sys.stderr)\n"
    )
    cli_settings = _cli_settings(settings)
    server = _start(script, cli_settings)
    try:
        answer = ask_server(cli_settings, ANSWER.question)
        assert answer is not None and answer.text == ANSWER.text
        started = time.monotonic()
        _, stderr = server.communicate(timeout=60)  # 3 s without a question
    finally:
        server.kill()
    assert server.returncode == 0, stderr
    assert time.monotonic() - started >= 2.5
    assert "answering `qa ask` warm at http://127.0.0.1:" in stderr and stderr.strip().endswith("False")  # no Gradio
    assert read_record(cli_settings) is None  # the record went with it


@pytest.mark.slow  # a fresh process
def test_qa_stop_stops_a_headless_server(settings):
    script = (
        "import sys, qa.api, qa.serving.warm\n"
        "qa.serving.warm.warm_in_background = lambda settings: None\n"
        "from qa.serving.cli import app\n"
        "sys.argv = ['qa', 'serve', '--no-ui', '--port', '0']\n"
        "app()\n"
    )
    cli_settings = _cli_settings(settings)
    server = _start(script, cli_settings)
    try:
        result = _cli(settings, "stop")
        assert result.exit_code == 0 and "stopped qa serve" in result.output
        _, stderr = server.communicate(timeout=30)
    finally:
        server.kill()
    assert server.returncode == 0, stderr
    assert read_record(cli_settings) is None

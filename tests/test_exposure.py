"""A UI reachable beyond this machine needs a login (or an explicit yes); a read-only UI cannot change the corpus."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from qa.errors import SettingsError
from qa.serving.access import api_keys, check_exposure
from qa.serving.cli import app
from qa.serving.ratelimit import RateLimit
from qa.serving.ui import build
from qa.settings import Settings

EXPOSURE = [
    # host, login, --allow-anonymous, refused
    ("127.0.0.1", None, False, False),
    ("127.8.0.1", None, False, False),
    ("localhost", None, False, False),
    ("::1", None, False, False),
    ("[::1]", None, False, False),
    ("0.0.0.0", None, False, True),
    ("::", None, False, True),
    ("192.168.1.5", None, False, True),
    ("qa.example.org", None, False, True),
    ("0.0.0.0", "ada:secret", False, False),
    ("0.0.0.0", None, True, False),
]


@pytest.mark.parametrize("host, login, allow, refused", EXPOSURE)
def test_serving_beyond_this_machine_needs_a_login_or_an_explicit_yes(host, login, allow, refused):
    settings = Settings(ui_auth=login)
    if refused:
        with pytest.raises(SettingsError, match=f"refusing to serve on {host} without a login.*QA_UI_AUTH.*--allow-anonymous"):
            check_exposure(host, settings, allow)
    else:
        check_exposure(host, settings, allow)


def test_the_cli_refuses_at_once_in_one_line(tmp_path):
    result = CliRunner().invoke(app, ["--index-dir", str(tmp_path / "index"), "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: refusing to serve on 0.0.0.0 without a login")
    assert not (tmp_path / "index").exists()  # refused before anything was opened


API_EXPOSURE = [
    # host, keys, the UI too, refused
    ("127.0.0.1", None, False, False),
    ("::1", None, True, False),
    ("0.0.0.0", None, False, True),
    ("192.168.1.5", None, False, True),
    ("0.0.0.0", "k1,k2", False, False),
    ("0.0.0.0", " , ", False, True),  # no key in it
]


@pytest.mark.parametrize("host, keys, ui, refused", API_EXPOSURE)
def test_the_api_beyond_this_machine_needs_keys_whatever_the_ui_is_allowed(host, keys, ui, refused):
    settings = Settings(api_keys=keys)
    if refused:
        with pytest.raises(SettingsError, match=f"refusing to serve the API on {host} without API keys.*QA_API_KEYS.*--no-api"):
            check_exposure(host, settings, allow_anonymous=True, ui=ui, api=True)
    else:
        check_exposure(host, settings, allow_anonymous=True, ui=ui, api=True)


def test_keys_come_from_a_file_and_an_unreadable_one_is_one_line(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("first\n# a comment\n  second  # the team's\n")
    assert api_keys(Settings(api_keys="third", api_keys_file=keys)) == {"first", "second", "third"}
    with pytest.raises(SettingsError, match="QA_API_KEYS_FILE: cannot read .*missing.*No such file"):
        api_keys(Settings(api_keys_file=tmp_path / "missing"))


def test_the_cli_refuses_an_api_without_keys_at_once_in_one_line(tmp_path):
    result = CliRunner().invoke(app, ["--index-dir", str(tmp_path / "index"), "serve", "--no-ui", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: refusing to serve the API on 0.0.0.0 without API keys")
    assert not (tmp_path / "index").exists()


def test_a_port_in_use_is_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["--index-dir", str(tmp_path / "index"), "serve", "--no-ui", "--port", str(port)])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"


def _elem_ids(demo) -> set[str]:
    return {b.elem_id for b in demo.blocks.values() if getattr(b, "elem_id", None)}


def _handlers(demo) -> set[str]:
    return {getattr(f.fn, "__name__", "") for f in demo.fns.values()}


def test_a_read_only_ui_has_no_corpus_actions_to_show_or_to_call(settings):
    corpus_actions = {"qa-upload", "qa-add", "qa-reindex", "qa-remove", "qa-remove-choice"}
    normal = build(settings)
    assert corpus_actions <= _elem_ids(normal) and {"upload", "reindex", "remove"} <= _handlers(normal)
    read_only = build(settings.with_(ui_read_only=True))
    assert not corpus_actions & _elem_ids(read_only) and "qa-read-only" in _elem_ids(read_only)
    assert not {"upload", "reindex", "remove"} & _handlers(read_only)
    assert {"qa-docs", "qa-question"} <= _elem_ids(read_only)  # the documents are still listed, questions still asked


def test_read_only_the_upload_rate_and_the_queue_size_come_from_the_environment():
    s = Settings.from_env({"QA_UI_READ_ONLY": "yes", "QA_UI_UPLOADS_PER_MINUTE": "5", "QA_UI_QUEUE_SIZE": "8"})
    assert s.ui_read_only is True and s.ui_uploads_per_minute == 5 and s.ui_queue_size == 8
    with pytest.raises(SettingsError, match="QA_UI_QUEUE_SIZE must be at least 1, not 0"):
        Settings.from_env({"QA_UI_QUEUE_SIZE": "0"})
    assert Settings.from_env({"QA_UI_READ_ONLY": "0"}).ui_read_only is False
    with pytest.raises(SettingsError, match="QA_UI_READ_ONLY='maybe' is not a valid bool"):
        Settings.from_env({"QA_UI_READ_ONLY": "maybe"})


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


RATE = [
    # (seconds later, client, files, expected wait) in order, on a limit of 3 files a minute
    (0, "a", 2, 0.0),
    (10, "a", 1, 0.0),
    (20, "a", 1, 40.0),  # the first two expire at 60 s
    (20, "b", 3, 0.0),  # another client has its own allowance
    (60, "a", 2, 0.0),
    (61, "a", 1, 9.0),  # the one from 10 s expires at 70 s
    (61, "a", 2, 59.0),  # two more wait for the pair from 60 s
    (61, "c", 4, float("inf")),  # more than the limit never fits
]


def test_uploads_are_limited_per_client_in_a_sliding_window():
    clock = Clock()
    limit = RateLimit(3, window=60.0, clock=clock)
    for later, client, files, wait in RATE:
        clock.now = 1000.0 + later
        assert limit.take(client, files) == pytest.approx(wait), (later, client, files)

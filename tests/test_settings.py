"""Settings come from QA_* variables, flags override them, and bad values are refused clearly."""

from pathlib import Path

import pytest

from qa.errors import SettingsError
from qa.settings import SEED_CORPUS, Settings


def test_defaults_run_locally_on_the_project_corpus(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").mkdir()
    s = Settings.from_env({})
    assert s.backend == "local"
    assert (s.corpus_dir, s.index_dir, s.feedback_file) == (Path("corpus"), Path(".qa/index"), Path(".qa/feedback.jsonl"))
    assert s.chroma_url is None
    assert s.verify == "drop"


def test_outside_a_project_folder_the_packaged_article_and_the_user_data_folder_are_used(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    s = Settings.from_env({})
    assert s.corpus_dir == SEED_CORPUS and [f.name for f in SEED_CORPUS.iterdir()] == ["microsoft-openai-partnership.md"]
    assert s.index_dir == tmp_path / "data" / "qa" / "index"
    (tmp_path / ".qa").mkdir()  # a folder holding an index of its own is a project folder
    assert Settings.from_env({}).index_dir == Path(".qa/index")


def test_environment_values_are_parsed_to_their_types():
    s = Settings.from_env({"QA_TOP_K": "7", "QA_MIN_SCORE": "0.1", "QA_CORPUS_DIR": "/data/docs", "QA_VERIFY": "mark"})
    assert (s.top_k, s.min_score, s.corpus_dir, s.verify) == (7, 0.1, Path("/data/docs"), "mark")


def test_overrides_win_over_the_environment_and_none_keeps():
    s = Settings.from_env({"QA_TOP_K": "7"}, top_k=2, backend=None)
    assert s.top_k == 2 and s.backend == "local"
    assert s.with_(top_k=None).top_k == 2


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QA_TOP_K": "many"}, "QA_TOP_K='many' is not a valid int"),
        ({"QA_TOP_K": "0"}, "QA_TOP_K must be between 1 and 50"),
        ({"QA_BACKEND": "gpt"}, "QA_BACKEND must be one of azure, local, openai"),
        ({"QA_BACKEND": "openai"}, "needs QA_OPENAI_BASE_URL and QA_OPENAI_MODEL"),
        ({"QA_BACKEND": "azure", "QA_AZURE_ENDPOINT": "https://x"}, "the azure backend needs QA_AZURE_DEPLOYMENT"),
        ({"QA_VERIFY": "maybe"}, "QA_VERIFY must be one of"),
        ({"QA_MIN_SCORE": "2"}, "QA_MIN_SCORE must be between -1 and 1, not 2.0"),
        ({"QA_UI_AUTH": "admin"}, "QA_UI_AUTH must look like user:password"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env, message):
    from qa.models.backends import backend

    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        backend(Settings.from_env(env))  # the core settings first, then the backend's own


def test_remote_backends_are_configured_from_the_environment_by_their_own_options():
    from qa.models.backends import backend, describe

    s = Settings.from_env(
        {"QA_BACKEND": "openai", "QA_OPENAI_BASE_URL": "http://localhost:8080/v1", "QA_OPENAI_MODEL": "qwen", "QA_AZURE_ENDPOINT": "x"}
    )
    assert s.backend == "openai" and s.options() == {"base_url": "http://localhost:8080/v1", "model": "qwen"}
    assert describe(s) == "openai: qwen at http://localhost:8080/v1"
    again = Settings.from_env(s.to_env())  # a server started with these settings gets them back
    assert (again.backend, again.options()) == (s.backend, s.options())
    with pytest.raises(SettingsError, match="the openai backend needs QA_OPENAI_BASE_URL and QA_OPENAI_MODEL"):
        backend(Settings.from_env({"QA_BACKEND": "openai"}))
    with pytest.raises(SettingsError, match="the azure backend has no option QA_AZURE_MODEL"):
        backend(Settings.from_env({"QA_BACKEND": "azure", "QA_AZURE_ENDPOINT": "e", "QA_AZURE_DEPLOYMENT": "d", "QA_AZURE_MODEL": "m"}))


def test_every_setting_describes_itself_and_the_documented_table_is_made_from_that():
    from dataclasses import fields

    from qa.settings import about, markdown_table

    from qa.models.backends import options_table

    assert all(about(f.name).help for f in fields(Settings) if f.name != "backend_options")
    documented = (Path(__file__).resolve().parents[1] / "docs" / "settings.md").read_text()
    assert markdown_table() in documented, "docs/settings.md is stale: paste `python -m qa.settings` into it"
    assert "QA_OPENAI_BASE_URL" in options_table() and options_table() in documented, (
        "docs/settings.md is stale: paste `python -m qa.models.backends` into it"
    )


def test_the_command_line_help_is_the_settings_own_description():
    from typer.testing import CliRunner

    from qa.serving.cli import app
    from qa.settings import about

    out = " ".join(CliRunner().invoke(app, ["--help"], env={"COLUMNS": "400"}).output.split())
    for name in ("corpus_dir", "index_dir", "chroma_url", "backend"):
        assert about(name).help[1:40] in out and f"QA_{name.upper()}" in out


@pytest.mark.parametrize("overrides", [{"verify": "dorp"}, {"top_k": 0}, {"min_confidence": 1.5}])
def test_per_call_values_are_checked_like_the_environment(overrides):
    with pytest.raises(SettingsError, match="QA_"):
        Settings.from_env({}).with_(**overrides)

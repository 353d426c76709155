"""One settings object, read from `QA_*` environment variables; the CLI and UI override fields with flags.

Every field describes itself (`Setting`: a one-line help, its allowed values or range, how its default reads
for people), so validation, the table in docs/settings.md (`python -m qa.settings`) and the CLI's help come from here.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from collections.abc import Callable
from typing import Any, Literal

from qa.errors import SettingsError

Verify = Literal["drop", "mark", "off"]
VERIFY_MODES: tuple[str, ...] = ("drop", "mark", "off")


# A project folder (the working directory holds `corpus/` or `.qa/`) keeps its documents and index there;
# anywhere else the index lives in the user's data directory and the seed article shipped with the
# package is the corpus, so `qa ask` works from any folder after `pip install`.
PROJECT_CORPUS = Path("corpus")
PROJECT_STATE = Path(".qa")
SEED_CORPUS = Path(__file__).parent / "seed"


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "qa"


def _default_corpus_dir() -> Path:
    return PROJECT_CORPUS if PROJECT_CORPUS.is_dir() else SEED_CORPUS


def _default_state_dir() -> Path:
    if PROJECT_CORPUS.is_dir() or PROJECT_STATE.is_dir():
        return PROJECT_STATE
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "qa"


@dataclass(frozen=True)
class Setting:
    """What a field means and which values it takes: `low`/`high` bound a number, `choices` a word."""

    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    shown: str | None = None  # the default as people read it, when it is computed


def setting(default: Any = MISSING, *, factory: Any = MISSING, **about: Any) -> Any:
    """A dataclass field carrying its `Setting`."""
    return field(default=default, default_factory=factory, metadata={"about": Setting(**about)})


@dataclass(frozen=True)
class Settings:
    """Everything that can be configured. Each field `x` is read from `QA_X`."""

    corpus_dir: Path = setting(
        factory=_default_corpus_dir, help="folder of documents, indexed on first use",
        shown="`corpus` in a project folder, else the packaged seed article",
    )
    index_dir: Path = setting(
        factory=lambda: _default_state_dir() / "index", help="folder of the embedded Chroma index",
        shown="`.qa/index` in a project folder, else `~/.local/share/qa/index`",
    )
    cache_dir: Path = setting(
        factory=_default_cache_dir, help="the assembled model, the question encoder's export, saved prompt states",
        shown="`~/.cache/qa`",
    )
    collection: str = setting("qa-corpus", help="the Chroma collection of chunks")
    chroma_url: str | None = setting(None, help="a Chroma server instead of the embedded index, e.g. `http://localhost:8000`")

    embedding_precision: str = setting(
        "int8", choices=("int8", "float32"),
        help="how the packaged MiniLM runs: `int8` (quantised, ONNX Runtime: twice as fast) or `float32` (sentence-transformers); a change re-embeds on the next ingest",
    )
    chunk_size: int = setting(320, low=50, help="characters per chunk (split on paragraphs, then sentences)")
    top_k: int = setting(5, low=1, high=50, help="passages retrieved at most")
    # top_k and score_margin trade answers found against prompt time: docs/settings.md has the measurement.
    min_score: float = setting(0.25, low=-1.0, high=1.0, help="cosine floor below which a passage is not shown; none left: refuse")
    score_margin: float = setting(
        0.2, low=0.0, high=2.0, help="passages scoring more than this below the best one are not shown either (each costs prompt time)"
    )

    verify: Verify = setting("drop", choices=VERIFY_MODES, help="judge each sentence: `drop` unsupported ones, `mark` them, or `off`")
    # Where the judge's labelled pairs do not decide, the threshold errs toward refusing (docs/settings.md).
    judge_threshold: float = setting(0.5, low=0.0, high=1.0, help="a sentence the judge scores below this is unsupported")
    # Chosen on the risk-coverage curves of the confidence's own fit (docs/settings.md).
    min_confidence: float = setting(
        0.35, low=0.0, high=1.0, help="with `drop`, refuse an answer whose confidence (calibrated P(right)) is below this"
    )

    backend: str = setting("local", help="which generator: `local` (llama.cpp), `openai` (any OpenAI-compatible server), `azure`")
    model_path: Path | None = setting(None, help="another GGUF file for the local backend (default: the packaged Qwen2.5-Coder-1.5B)")
    n_ctx: int = setting(2048, low=256, help="the local model's context, in tokens")
    threads: int | None = setting(None, low=1, help="threads for the local model", shown="all cores")
    max_tokens: int = setting(160, low=1, help="longest answer, in tokens")
    timeout: float = setting(120.0, low=0.0, help="seconds to wait for a remote backend")
    max_retries: int = setting(2, low=0, help="retries of a failed remote call")
    keep_warm: float = setting(
        0.0, low=0.0, help="minutes a server that `qa ask` starts stays warm for the next questions after the last one (0: none; `qa stop` stops it)"
    )

    ui_auth: str | None = setting(None, help="`user:password`: a login for `qa serve` (needed beyond loopback unless `--allow-anonymous`)")
    ui_read_only: bool = setting(
        False, help="a shared deployment: the Corpus tab and the HTTP API list documents but offer no upload, re-index or removal"
    )
    ui_uploads_per_minute: int = setting(20, low=1, help="files one client (address, or user with a login) may upload a minute")
    # Long enough for a classroom, short enough that the last one's wait is minutes, not more (docs/settings.md).
    ui_queue_size: int = setting(32, low=1, help="questions that may wait in the UI's queue; one more is told at once that the app is busy")
    api_keys: str | None = setting(
        None, help="comma-separated keys the HTTP API accepts as `Authorization: Bearer KEY` (needed beyond loopback)"
    )
    api_keys_file: Path | None = setting(None, help="a file of API keys, one a line (`#` starts a comment), read at start")
    api_requests_per_minute: int = setting(60, low=1, help="requests one API key (or, without keys, one address) may make a minute")
    api_queue_size: int = setting(
        8, low=0, help="API questions that may wait for the generator; one more is answered 503 with `Retry-After`"
    )
    feedback_file: Path = setting(
        factory=lambda: _default_state_dir() / "feedback.jsonl", help="where the UI's likes and dislikes are appended",
        shown="`.qa/feedback.jsonl` in a project folder, else beside the per-user index",
    )

    # A backend's own options (qa.models.backends): `QA_<BACKEND>_<OPTION>` variables, kept here as text by name;
    # the backend reads and checks them. The core knows a backend only by its name.
    backend_options: tuple[tuple[str, str], ...] = field(default=(), metadata={"about": None})

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        environ = os.environ if environ is None else environ
        values = read_fields(cls, {f.name: environ.get(variable(f.name)) for f in described(cls)}, variable)
        types = {f.name: f.type for f in described(cls)}
        for name, value in overrides.items():
            if value is not None:
                values[name] = _parse(variable(name), types[name], value) if isinstance(value, str) else value
        backend = values.get("backend", cls.backend)
        prefix = f"QA_{backend.upper()}_"
        options = {k[len(prefix) :].lower(): v for k, v in environ.items() if k.startswith(prefix) and v != ""}
        return cls(**values, backend_options=tuple(sorted(options.items()))).validated()

    def with_(self, **overrides) -> Settings:
        """A copy with the given fields replaced (None means: keep), validated like the environment's values.
        `backend_options` may be given as a dict."""
        if isinstance(overrides.get("backend_options"), dict):
            overrides["backend_options"] = tuple(sorted((k, str(v)) for k, v in overrides["backend_options"].items()))
        return replace(self, **{k: v for k, v in overrides.items() if v is not None}).validated()

    def options(self) -> dict[str, str]:
        """The backend's own options, as text by name (`QA_<BACKEND>_<NAME>`)."""
        return dict(self.backend_options)

    def to_env(self) -> dict[str, str]:
        """The `QA_*` variables that give these settings back in another process (paths made absolute)."""
        env = {}
        for f in described(self):
            value = getattr(self, f.name)
            if value is not None:
                env[variable(f.name)] = (
                    os.path.abspath(value) if isinstance(value, Path)
                    else _shown(value) if isinstance(value, bool)
                    else repr(value) if isinstance(value, float)
                    else str(value)
                )
        env.update({f"QA_{self.backend.upper()}_{name.upper()}": value for name, value in self.backend_options})
        return env

    def validated(self) -> Settings:
        for f in described(self):
            check(variable(f.name), f.metadata["about"], getattr(self, f.name))
        if self.ui_auth is not None and ":" not in self.ui_auth:
            raise SettingsError("QA_UI_AUTH must look like user:password")
        return self


def described(cls_or_instance: Any) -> list:
    """The fields that describe themselves (a `Setting`), in order."""
    return [f for f in fields(cls_or_instance) if f.metadata.get("about") is not None]


def read_fields(cls: type, raw: dict[str, str | None], name_of: Callable[[str], str]) -> dict[str, Any]:
    """The given fields of a self-describing dataclass, parsed from text (None or "" leaves the default);
    `name_of` gives a field's variable for the error message."""
    types = {f.name: f.type for f in described(cls)}
    return {name: _parse(name_of(name), types[name], value) for name, value in raw.items() if value is not None and value != ""}


def variable(name: str) -> str:
    """The environment variable a field is read from."""
    return f"QA_{name.upper()}"


def about(name: str) -> Setting:
    """What a field means."""
    return next(f.metadata["about"] for f in described(Settings) if f.name == name)


def flag_help(name: str) -> str:
    """A CLI option's help: the setting's own description and its variable."""
    return f"{about(name).help[0].upper()}{about(name).help[1:]} ({variable(name)})."


def check(name: str, about: Setting, value: Any) -> None:
    """Refuse a value outside the field's choices or range; `name` is its variable."""
    if value is None:
        return
    if about.choices is not None and value not in about.choices:
        raise SettingsError(f"{name} must be one of {', '.join(about.choices)}, not {value!r}")
    if about.low is not None and about.high is not None and not about.low <= value <= about.high:
        raise SettingsError(f"{name} must be between {about.low:g} and {about.high:g}, not {value}")
    if about.low is not None and value < about.low:
        raise SettingsError(f"{name} must be at least {about.low:g}, not {value}")


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _parse(name: str, type_: Any, raw: str):  # `name`: the variable, for the message
    written = type_ if isinstance(type_, str) else getattr(type_, "__name__", str(type_))  # annotations unevaluated or not
    kind = written.replace(" ", "").split("|")[0]
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw).expanduser()
        if kind == "bool":
            return _BOOLEANS[raw.strip().lower()]
    except (ValueError, KeyError):
        raise SettingsError(f"{name}={raw!r} is not a valid {kind}") from None
    return raw


def markdown_table(cls: type | None = None, name_of: Callable[[str], str] = variable) -> str:
    """The table of a self-describing dataclass's fields (default: Settings, for docs/settings.md)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in described(cls or Settings):
        about = f.metadata["about"]
        default = about.shown or ("—" if f.default is None or f.default is MISSING else f"`{_shown(f.default)}`")
        rows.append(f"| `{name_of(f.name)}` | {default} | {about.help} |")
    return "\n".join(rows)


def _shown(value: Any) -> str:
    return ("1" if value else "0") if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    print(markdown_table())

"""One settings object, read from `QA_*` environment variables; the CLI and UI override fields with flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

from qa.errors import SettingsError

Backend = Literal["local", "openai", "azure"]
BACKENDS: tuple[str, ...] = ("local", "openai", "azure")
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
class Settings:
    """Everything that can be configured. Each field `x` is read from `QA_X`."""

    corpus_dir: Path = field(default_factory=_default_corpus_dir)
    index_dir: Path = field(default_factory=lambda: _default_state_dir() / "index")
    cache_dir: Path = field(default_factory=_default_cache_dir)
    collection: str = "qa-corpus"
    # A Chroma server (http://host:port) instead of the embedded persistent index.
    chroma_url: str | None = None

    chunk_size: int = 320
    top_k: int = 5
    # Passages below this cosine similarity are not shown to the generator; with none left, we refuse.
    min_score: float = 0.25
    # Of the top_k, passages scoring more than this below the best one are left out too: each passage
    # costs the generator prompt time. Measured on SQuAD 2.0 (the tuning
    # article's 214 answerable questions, 320-character chunks): a gold answer is in the passages shown
    # for 73% of questions with top 3 within 0.12 (2.4 passages), 79% with top 5 within 0.2 (4.4
    # passages); on 60 of them the generator's draft held a gold answer 57% -> 68% of the time, for
    # 1.7 s more generation.
    score_margin: float = 0.2

    # Each answer sentence is judged against its cited passages: "drop" removes unsupported ones
    # (refusing when none is left), "mark" keeps them with their score, "off" skips the judge.
    verify: Verify = "drop"
    # Balanced accuracy on eval/judge_pairs.jsonl is flat (0.94-0.95) from 0.4 to 0.7, so the pairs do
    # not decide. 0.5 errs toward refusing: on the eval questions it refuses every unanswerable one
    # (0.4 let "OpenAI released the latest AI model" through at 0.47) and drops two true sentences at 0.41.
    judge_threshold: float = 0.5
    # An answer whose confidence (the calibrated probability that it is right) is below this is refused:
    # lower it to answer more, raise it to answer only what is surely right. On the SQuAD 2.0 tuning
    # article 0.4 gave the best overall accuracy (0.675 against 0.55 ungated; 0.15: 0.61; 0.1: 0.57), but on
    # the seed article's eval it refused true answers whose question names a condition the cited passage
    # leaves out ("... if OpenAI achieves AGI before 2030?": confidence 0.15) and false refusals rose to
    # 0.16. 0.1 keeps the article's answers and still refuses the clearest near misses.
    min_confidence: float = 0.1

    backend: Backend = "local"
    model_path: Path | None = None  # a GGUF file to use instead of the packaged Qwen2.5-Coder-1.5B
    n_ctx: int = 2048
    threads: int | None = None
    max_tokens: int = 160
    timeout: float = 120.0
    max_retries: int = 2

    # The UI: "user:password" turns on a login; likes and dislikes are appended to the feedback file.
    ui_auth: str | None = None
    # A shared deployment: the Corpus tab lists documents but offers no upload, re-index or removal.
    ui_read_only: bool = False
    # Files one client (address, or user with a login) may upload per minute; more are refused at once.
    ui_uploads_per_minute: int = 20
    # Questions that may wait behind the one being answered; one more is told at once that the app is
    # busy, instead of waiting minutes. 32 waiting is about 2.5 minutes for the last on a 2-core laptop.
    ui_queue_size: int = 32
    feedback_file: Path = field(default_factory=lambda: _default_state_dir() / "feedback.jsonl")

    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: str | None = None

    azure_endpoint: str | None = None
    azure_deployment: str | None = None
    azure_api_version: str = "2024-10-21"
    azure_api_key: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f"QA_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, f.type, raw)
        types = {f.name: f.type for f in fields(cls)}
        for name, value in overrides.items():
            if value is not None:
                values[name] = _parse(name, types[name], value) if isinstance(value, str) else value
        return cls(**values).validated()

    def with_(self, **overrides) -> Settings:
        """A copy with the given fields replaced (None means: keep)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None}).validated()

    def validated(self) -> Settings:
        if self.backend not in BACKENDS:
            raise SettingsError(f"QA_BACKEND must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if self.verify not in VERIFY_MODES:
            raise SettingsError(f"QA_VERIFY must be one of {', '.join(VERIFY_MODES)}, not {self.verify!r}")
        if not 0.0 <= self.judge_threshold <= 1.0:
            raise SettingsError(f"QA_JUDGE_THRESHOLD is a probability in [0, 1], not {self.judge_threshold}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise SettingsError(f"QA_MIN_CONFIDENCE is a probability in [0, 1], not {self.min_confidence}")
        if self.chunk_size < 50:
            raise SettingsError(f"QA_CHUNK_SIZE must be at least 50 characters, not {self.chunk_size}")
        if not 1 <= self.top_k <= 50:
            raise SettingsError(f"QA_TOP_K must be between 1 and 50, not {self.top_k}")
        if not 0.0 <= self.score_margin <= 2.0:
            raise SettingsError(f"QA_SCORE_MARGIN is a cosine difference in [0, 2], not {self.score_margin}")
        if not -1.0 <= self.min_score <= 1.0:
            raise SettingsError(f"QA_MIN_SCORE is a cosine similarity in [-1, 1], not {self.min_score}")
        if self.ui_uploads_per_minute < 1:
            raise SettingsError(f"QA_UI_UPLOADS_PER_MINUTE must be at least 1, not {self.ui_uploads_per_minute}")
        if self.ui_queue_size < 1:
            raise SettingsError(f"QA_UI_QUEUE_SIZE must be at least 1, not {self.ui_queue_size}")
        if self.ui_auth is not None and ":" not in self.ui_auth:
            raise SettingsError("QA_UI_AUTH must look like user:password")
        if self.backend == "openai" and not (self.openai_base_url and self.openai_model):
            raise SettingsError("the openai backend needs QA_OPENAI_BASE_URL and QA_OPENAI_MODEL")
        if self.backend == "azure" and not (self.azure_endpoint and self.azure_deployment):
            raise SettingsError("the azure backend needs QA_AZURE_ENDPOINT and QA_AZURE_DEPLOYMENT")
        return self


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _parse(name: str, type_: str, raw: str):
    kind = type_.replace(" ", "").split("|")[0]
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
        raise SettingsError(f"QA_{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw

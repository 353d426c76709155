"""qa: answers from your documents, each claim tied to the passage that supports it."""

import importlib as _importlib

# Imported on first use: `qa --help` and `qa stop` should not pay for langchain and Chroma.
_HOMES = {
    "ask": "qa.api",
    "ask_stream": "qa.api",
    "info": "qa.api",
    "ingest": "qa.api",
    "Answer": "qa.domain",
    "Citation": "qa.domain",
    "Passage": "qa.domain",
    "Settings": "qa.settings",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(_importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")

"""qa: answers from your documents, each claim tied to the passage that supports it."""

import os as _os

# Models come from installed packages; nothing may reach for a hub or phone home.
_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
_os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
_os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
_os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
_os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from qa.api import ask, ask_stream, info, ingest  # noqa: E402
from qa.domain import Answer, Citation, Passage  # noqa: E402
from qa.settings import Settings  # noqa: E402

__all__ = ["Answer", "Citation", "Passage", "Settings", "ask", "ask_stream", "info", "ingest"]

"""Models come from installed packages; nothing may reach for a hub or phone home.

The libraries read these variables when they are imported, so qa sets them just before it imports one
(sentence-transformers, gradio), and only where the host has not set them: a program that imports qa for
its API keeps its environment as it was until qa loads a model or the UI.
"""

from __future__ import annotations

import os

_OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
}


def stay_offline() -> None:
    for name, value in _OFFLINE.items():
        os.environ.setdefault(name, value)

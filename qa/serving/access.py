"""Who may reach a server and how much: loopback or a login for the UI, API keys beyond loopback, and the
gate that lets one question at a time reach the generator while a bounded number wait."""

from __future__ import annotations

import ipaddress
import math
import secrets
import threading
from collections.abc import Callable

from qa.errors import SettingsError
from qa.settings import Settings, variable


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def check_exposure(host: str, settings: Settings, allow_anonymous: bool = False, *, ui: bool = True, api: bool = False) -> None:
    """Refuse to serve beyond this machine without a login (the UI) or API keys (the API): anyone could ask,
    upload and remove documents. `allow_anonymous` waives the UI's login only."""
    if is_loopback(host):
        return
    if ui and not (allow_anonymous or settings.ui_auth):
        raise SettingsError(
            f"refusing to serve on {host} without a login: anyone who can reach the port could ask, upload and "
            "remove documents; set QA_UI_AUTH=user:password, or pass --allow-anonymous (QA_UI_READ_ONLY=1 keeps the corpus fixed)"
        )
    if api and not api_keys(settings):
        raise SettingsError(
            f"refusing to serve the API on {host} without API keys: set {variable('api_keys')} or "
            f"{variable('api_keys_file')}, or pass --no-api"
        )


def api_keys(settings: Settings) -> frozenset[str]:
    """The keys the API accepts: QA_API_KEYS (comma-separated) and the lines of QA_API_KEYS_FILE."""
    keys = [k.strip() for k in (settings.api_keys or "").split(",")]
    if settings.api_keys_file is not None:
        try:
            lines = settings.api_keys_file.read_text().splitlines()
        except OSError as e:
            raise SettingsError(f"{variable('api_keys_file')}: cannot read {settings.api_keys_file} ({e.strerror})") from None
        keys += [line.split("#", 1)[0].strip() for line in lines]
    return frozenset(k for k in keys if k)


def key_matches(given: str, keys: frozenset[str]) -> bool:
    """Whether `given` is one of `keys`, compared in constant time against each."""
    return any([secrets.compare_digest(given.encode(), key.encode()) for key in keys])  # noqa: C419 - every key, not the first match


class Admission:
    """At most one request at the generator and `waiting` more in line; `enter` says at once when the line is full.

    The model answers one question at a time, so a request beyond the line would only wait longer than any
    client does: it is better told now, with an estimate of when to come back (`retry_after`).
    """

    def __init__(self, waiting: int, on_change: Callable[[int], None] | None = None, first_estimate_s: float = 10.0):
        self.capacity = waiting + 1
        self._on_change = on_change
        self._inside = 0
        self._mean_s = first_estimate_s
        self._lock = threading.Lock()

    def enter(self) -> bool:
        with self._lock:
            if self._inside >= self.capacity:
                return False
            self._inside += 1
        if self._on_change:
            self._on_change(+1)
        return True

    def leave(self, seconds: float | None = None) -> None:
        """One request is done; `seconds`, when it got an answer, updates the estimate of an answer's time."""
        with self._lock:
            self._inside -= 1
            if seconds is not None:
                self._mean_s = 0.8 * self._mean_s + 0.2 * seconds
        if self._on_change:
            self._on_change(-1)

    def retry_after(self) -> int:
        """Seconds until a place in line is likely free: the answer being written ends, at the recent pace."""
        return max(1, math.ceil(self._mean_s))

"""A sliding-window rate limit per client: how uploads to a shared UI are kept from flooding the corpus."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable


class RateLimit:
    """At most `limit` events per key in any `window` seconds; thread-safe."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self._clock = limit, window, clock
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def take(self, key: str, n: int = 1) -> float:
        """Record `n` events for `key` and return 0, or record nothing and return the seconds until they fit.

        More than `limit` at once never fit: infinity.
        """
        now = self._clock()
        with self._lock:
            events = self._events[key]
            while events and events[0] <= now - self.window:
                events.popleft()
            if n > self.limit:
                return math.inf
            if len(events) + n > self.limit:
                return events[len(events) + n - self.limit - 1] + self.window - now
            events.extend([now] * n)
            return 0.0

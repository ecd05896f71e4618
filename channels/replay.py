"""Refusing replayed webhook requests: a request id (Alexa's ``requestId``, a Twilio signature)
seen within the time window is a replay.

The memory is per server process and bounded; with several server processes behind one address,
a replay that reaches another process is still stopped by the platform's own defences (Alexa's
timestamp tolerance), so this narrows the window rather than closing it alone.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Optional


class ReplayGuard:
    def __init__(self, window_s: float = 300.0, max_entries: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._clock = clock
        self._seen: "OrderedDict[str, float]" = OrderedDict()
        self._lock = threading.Lock()

    def is_replay(self, key: Optional[str]) -> bool:
        """True when ``key`` was seen within the window; otherwise remembers it and returns False."""
        if not key:
            return False
        now = self._clock()
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) < now - self.window_s
                                  or len(self._seen) >= self.max_entries):
                self._seen.popitem(last=False)
            if key in self._seen:
                return True
            self._seen[key] = now
            return False

"""Failed logins, limited: a sliding window per name and per client address, so
guessing a secret (144 bits, and 50 ms of scrypt per try) is bounded both for one name
tried from many places and for many names tried from one place."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class FailureLimit:
    def __init__(self, per_name: int = 5, per_client: int = 20, window: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_name, self.per_client, self.window = per_name, per_client, window
        self.clock = clock
        self._fails: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        cutoff = self.clock() - self.window
        while q and q[0] <= cutoff:
            q.popleft()
        return q

    def blocked(self, name: str, client: str) -> float:
        """Seconds until a login for `name` from `client` may be tried again (0: now)."""
        waits = []
        for key, limit in ((("name", name), self.per_name),
                           (("client", client), self.per_client)):
            q = self._recent(key)
            if len(q) >= limit:
                waits.append(q[0] + self.window - self.clock())
        return max(waits, default=0.0)

    def failed(self, name: str, client: str) -> None:
        now = self.clock()
        for key in (("name", name), ("client", client)):
            self._recent(key).append(now)
        if len(self._fails) > 10_000:  # a flood of names: forget the oldest
            for key in list(self._fails)[:5_000]:
                del self._fails[key]

    def succeeded(self, name: str) -> None:
        self._fails.pop(("name", name), None)

"""Failed logins, limited: a sliding window per name and per client address, so
guessing a secret (144 bits, and 50 ms of scrypt per try) is bounded both for one name
tried from many places and for many names tried from one place."""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable


class FailureLimit:
    def __init__(self, per_name: int = 5, per_client: int = 20, window: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_name, self.per_client, self.window = per_name, per_client, window
        self.clock = clock
        self._fails: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], create: bool = False) -> deque[float]:
        q = self._fails.setdefault(key, deque()) if create else self._fails.get(key)
        if q is None:
            return deque()  # not stored: asking must not grow the table
        cutoff = self.clock() - self.window
        while q and q[0] <= cutoff:
            q.popleft()
        if not q and not create:
            del self._fails[key]
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

    def attempt(self, name: str, client: str) -> float:
        """Count a login attempt as failed before its secret is checked, so that
        attempts sent at once cannot all pass `blocked` first; `succeeded` takes it
        back. Returns its time."""
        now = self.clock()
        for key in (("name", name), ("client", client)):
            self._recent(key, create=True).append(now)
        if len(self._fails) > 10_000:  # a flood of names: forget the oldest
            for key in list(self._fails)[:5_000]:
                del self._fails[key]
        return now

    failed = attempt  # a failure known without an attempt (kept for callers)

    def succeeded(self, name: str, client: str | None = None, at: float | None = None
                  ) -> None:
        self._fails.pop(("name", name), None)
        q = self._fails.get(("client", client)) if client is not None else None
        if q is not None and at is not None:
            with contextlib.suppress(ValueError):
                q.remove(at)

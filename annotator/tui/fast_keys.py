"""The keys' short cut, shared by the annotation and adjudication screens.

A screen's plain binding has its key forwarded by the App to the screen and bubbled
back to the App before the action runs (two message hops, ~0.3 ms a key). `FastKeys`
gives each of the screen's own bindings a priority twin that runs the action as the
App reads the key, only when that cannot change the order of anything.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from textual.actions import parse as parse_action

# Actions kept off the short cut: Textual's ctrl+c hint looks for the key bound to
# "quit", and quitting has no keypress latency to save.
PLAIN_ONLY = frozenset({"quit"})


class FastKeys:
    """Mixin for a Screen (listed before it): call `_add_fast_twins` once its own
    bindings are all in (after the first frame: keys before it take the plain way
    anyway, and the twins are not part of the first paint)."""

    _twinned = False  # the bindings' fast twins are in (_add_fast_twins)

    def _add_fast_twins(self) -> None:
        """Each of the screen's own bindings gets a twin, a priority binding running it
        through `fast(...)`. The twin runs only when taking the short cut cannot change
        the order of anything (`_fast_ready`); otherwise the key goes the plain way, to
        the plain binding, as do keys that bubble back after a change of screen. Same
        id: a keymap moves both."""
        if self._twinned:
            return
        self._twinned = True
        keymap = self._bindings.key_to_bindings  # type: ignore[attr-defined]
        for key, bindings in keymap.items():
            keymap[key] = [*(dataclasses.replace(b, action=f"fast({b.action!r})",
                                                 priority=True)
                             for b in bindings
                             if not b.priority and "." not in b.action.split("(", 1)[0]
                             and b.action not in PLAIN_ONLY),
                           *bindings]

    def _fast_ready(self) -> bool:
        """True if running a key's action now, as the App reads it, is what the plain
        path would do next: this screen is mounted and current, and nothing is queued
        for it or for the App (a key still on the plain path, a mount, a callback)."""
        screen: Any = self
        app = screen.app
        return (screen.is_mounted and app.screen is self and not screen.message_queue_size
                and not app.message_queue_size)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fast":
            if not self._fast_ready():
                return False  # the key takes the plain path
            # the action's own check, as its plain binding would have it
            _, name, params = parse_action(str(parameters[0]))
            return self.check_action(name, params)
        return super().check_action(action, parameters)  # type: ignore[misc]

    def action_fast(self, action: str) -> Any:
        """A key's action, by the short cut (`_add_fast_twins`)."""
        _, name, params = parse_action(action)
        return getattr(self, f"action_{name}")(*params)

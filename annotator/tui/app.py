"""The annotation app and its entry point `run_app`.

Nothing is saved on exit because nothing needs to be: every action was committed
by the journal before the screen showed it. So SIGHUP (the SSH link dropped) and
SIGTERM simply end the app cleanly, and SIGKILL loses nothing that was shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from textual.app import App
from textual.filter import Monochrome, NoColor
from textual.screen import Screen

from annotator.errors import InputError
from annotator.keys import DEFAULT_KEYS, schema_with_keys
from annotator.schema import LabelSchema
from annotator.tui import css_cache
from annotator.tui.screen import AnnotateScreen

GRACE_SECONDS = 0.5  # for Textual's own shutdown once the terminal has gone


class AnnotatorApp(App[int]):
    CSS_PATH = Path(__file__).with_name("annotator.tcss")
    TITLE = "annotator"
    # The command palette would be a second, mouse-friendly way to do what the keys
    # do; keeping one way keeps the key map (and its collisions check) the truth.
    ENABLE_COMMAND_PALETTE = False
    # Set by run_app: a shutdown that hangs on a dead terminal is cut short (_end_now).
    hard_exit = False
    _grace: threading.Timer | None = None

    def __init__(self, store: Any, journal: Any, schema: LabelSchema,
                 notices: list[tuple[str, str]] | None = None,
                 keymap: dict[str, tuple[str, ...]] | None = None) -> None:
        """`notices`: (text, severity) said on screen once it opens (an import's
        summary, a schema that changed under the project). `keymap`: binding id ->
        keys (annotator/keys.py; checked by Project.keymap)."""
        css_cache.install()  # before Textual parses any stylesheet
        super().__init__()
        self.store, self.journal, self.schema = store, journal, schema
        self.notices = list(notices or ())
        self.user_keys = dict(keymap or {})
        if self.user_keys:
            # label and attribute keys become the schema's (panel, help, bindings);
            # the screen's own through Textual's keymap, by binding id
            self.schema = schema_with_keys(schema, self.user_keys)
            self.set_keymap({b: ",".join(k) for b, k in self.user_keys.items()
                             if b in DEFAULT_KEYS})
        self._no_colour()
        self.exit_signal: int | None = None
        self.store_failure: InputError | None = None

    def _no_colour(self) -> None:
        """NO_COLOR (https://no-color.org), or a terminal that says it is dumb: no colour
        at all. Textual's own NO_COLOR filter turns colours grey, still sent as 24-bit
        codes; this one sets every colour to the terminal's default. Text styles stay
        (reverse marks the cursor, bold / underline the spans): nothing rests on colour."""
        dumb = os.environ.get("TERM", "").strip().lower() in ("dumb", "unknown")
        if not (self.no_color or dumb):
            return
        self._filters = [f for f in self._filters if not isinstance(f, Monochrome)]
        self._filters.append(NoColor())

    def get_default_screen(self) -> Screen:
        return AnnotateScreen(self.store, self.journal, self.schema)

    def on_mount(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            # Not available off the main thread (e.g. some test runners): then the
            # default action (terminate) applies, which loses nothing either.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._on_signal, sig)
        self._watch_terminal()
        self.call_after_refresh(self._collect_from_now)
        for text, severity in self.notices:
            # after the first paint: the screen is there to read them on
            self.call_after_refresh(self.annotate_screen.notify, text, severity=severity,
                                    timeout=15 if severity == "warning" else 6)

    def _collect_from_now(self) -> None:
        """After the first frame: the schema, key maps and widgets live for the whole
        session, out of the collector's reach (a full collection never walks a
        10,000-label schema); then collection as usual (the CLI turned it off until
        the first frame)."""
        gc.freeze()
        gc.enable()
        css_cache.save()  # only on a launch that parsed CSS it had not kept

    def _watch_terminal(self) -> None:
        """Exit when the terminal is gone. SIGHUP normally says so, but behind a
        launcher that swallows it, Textual's input thread would spin on the dead
        terminal forever (and hold this annotator's session lock)."""
        try:
            fd = sys.__stdin__.fileno()
        except (AttributeError, ValueError, OSError):  # no stdin, or a closed one
            return
        if not os.isatty(fd):
            return  # headless (tests, pipes): nothing to watch

        def check() -> None:
            if not os.isatty(fd):  # a hung-up tty: tcgetattr fails with EIO
                self._end_now()  # as on SIGHUP: every action is already stored

        self.set_interval(0.5, check)

    def _end_now(self) -> None:
        """Exit, and make sure of it. Textual's shutdown writes to the terminal (mouse
        and screen modes off); with the terminal gone its writer thread stops taking
        writes and the shutdown waits on it for ever, holding the session lock. The
        journal needs no shutdown (each action committed when it was shown, and this
        runs between handlers, never inside a write), so a shutdown that has not
        finished in half a second is cut short."""
        self.exit(0)
        if self.hard_exit and self._grace is None:
            # only under run_app (the real entry point), never in a test's event loop
            self._grace = threading.Timer(GRACE_SECONDS, os._exit, args=(0,))
            self._grace.daemon = True
            self._grace.start()

    def _handle_exception(self, error: Exception) -> None:
        # The store failing under a read (a journal damaged mid-session): end with the
        # message, not a traceback. Writes never get here: the screen reports them and
        # goes on.
        if isinstance(error, InputError):
            self.store_failure = error
            self._return_code = 1
            self._close_messages_no_wait()  # as Textual's own fatal-error path does
            return
        super()._handle_exception(error)

    def _on_signal(self, sig: int) -> None:
        self.exit_signal = sig
        self._end_now()

    @property
    def annotate_screen(self) -> AnnotateScreen:
        return next(s for s in self.screen_stack if isinstance(s, AnnotateScreen))


def run_app(store: Any, journal: Any, schema: LabelSchema,
            notices: list[tuple[str, str]] | None = None,
            keymap: dict[str, tuple[str, ...]] | None = None) -> int:
    """Run the annotation screen; returns the exit code (1 if the app crashed)."""
    app = AnnotatorApp(store, journal, schema, notices, keymap)
    app.hard_exit = True
    try:
        app.run()
    finally:
        if app._grace is not None:
            app._grace.cancel()  # the shutdown finished in time
    css_cache.save()  # what dialogs and help parsed since the first frame
    if app.store_failure is not None:
        raise app.store_failure  # the CLI prints it and exits 1
    # Textual keeps 0 after an unhandled exception unless we read return_code.
    return app.return_code or 0

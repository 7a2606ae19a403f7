"""Errors that reach the user as `path:line:col: message`, never as a traceback."""

from __future__ import annotations

from pathlib import Path

from annotator.records import record


@record(frozen=True)
class Problem:
    """One located problem in an input file. line and col are 1-based; 0 = unknown."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        # The one place every message passes: whatever untrusted text it quotes (a file
        # name, a YAML key) reaches the terminal with its controls made visible.
        from annotator.textclean import safe_message

        path, message = safe_message(self.path), safe_message(self.message)
        if self.line:
            return f"{path}:{self.line}:{self.col or 1}: {message}"
        return f"{path}: {message}" if path else message


class InputError(Exception):
    """Invalid input: the CLI prints every problem and exits 1."""

    def __init__(self, problems: list[Problem] | Problem | str, path: str | Path | None = None):
        if isinstance(problems, str):
            problems = [Problem(str(path or ""), 0, 0, problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(Exception):
    """Wrong use of a command: the CLI prints it and exits 2."""


class StoreError(InputError):
    """The store could not do what was asked (disk full, a damaged or unreadable
    journal, a session already open): a message for the user, never a traceback."""

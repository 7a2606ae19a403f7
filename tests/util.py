"""Shared test helpers (tests/ is on sys.path: pytest's rootdir-relative import)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None, input: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """The real entry point in a subprocess (as a user or a CI script runs it)."""
    return subprocess.run([sys.executable, "-m", "annotator", *args], cwd=cwd, input=input,
                          capture_output=True, text=True, timeout=timeout)

"""Child processes of our own that take half of a long job (an export written, an
export read): `python -P -m MODULE ARGS`, this same package first on its path, dying
with its parent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux)."""
    import contextlib
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(module: str, args: list[str], **popen: Any) -> subprocess.Popen:
    """Start `python -P -m module args` (Popen's keyword arguments: its pipes); raises
    OSError when it cannot be started."""
    import annotator

    env = dict(os.environ)
    # the child imports this same package, wherever it was imported from
    here = str(Path(annotator.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # -P: nothing from the working directory on the child's path (with -m it would come
    # first: a pickle.py or annotator/ there would run, or write half an export); it
    # dies with its parent, even a SIGKILLed one
    return subprocess.Popen([sys.executable, "-P", "-m", module, *args], env=env,
                            preexec_fn=_die_with_parent, **popen)

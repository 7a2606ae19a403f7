"""The core knows nothing of Textual: only annotator.tui may import it."""

from __future__ import annotations

import ast
import subprocess
import sys

from util import REPO

CORE = [p for p in (REPO / "annotator").rglob("*.py") if "tui" not in p.relative_to(REPO).parts]


def test_core_modules_do_not_import_textual():
    offenders = []
    for path in CORE:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("textual", "rich") for n in names):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, offenders


def test_cli_commands_except_annotate_never_load_textual():
    code = ("import sys; from annotator import cli; "
            "cli.main(['validate', 'schemas/framing-devices.yaml']); "
            "print('textual' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert r.stdout.strip().endswith("False"), r.stdout + r.stderr

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


def test_annotate_start_up_imports_only_what_the_first_frame_needs(tmp_path):
    """Regression guard for the first-paint row (bench/bench_tui.py): reopening a project
    loads neither the format registry and export (other commands' parsers), nor YAML
    and jsonschema (the parse cache answers, and there is no user keymap file)."""
    project = tmp_path / "p"
    corpus = project / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "a.txt").write_text("A title\n\nA first paragraph.\n", encoding="utf-8")
    code = ("import sys, annotator.tui.app as ta; "
            "ta.run_app = lambda *a, **k: print(sorted(m for m in sys.modules if m.split('.')[0]"
            " in ('yaml', 'jsonschema', 'numpy') or m.startswith(('annotator.formats', "
            "'annotator.export', 'annotator.agreement')))) or 0; "
            "from annotator import cli; "
            f"sys.exit(cli.main(['annotate', {str(corpus)!r}, '--project', {str(project)!r},"
            " '--as', 'alice']))")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "c")}
    runs = [subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                           text=True, env=env) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    # the first launch imports the corpus and parses the schema (YAML); a reopen does not
    assert runs[1].stdout.strip().splitlines()[-1] == "[]", runs[1].stdout + runs[1].stderr

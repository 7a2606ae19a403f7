"""The core knows nothing of Textual: only annotator.tui may import it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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


def _one_article_project(tmp_path: Path) -> tuple[Path, Path]:
    """(project, its corpus folder): one article, nothing imported yet."""
    project = tmp_path / "p"
    corpus = project / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "a.txt").write_text("A title\n\nA first paragraph.\n", encoding="utf-8")
    return project, corpus


def _launch_twice(code: str, tmp_path: Path) -> list[subprocess.CompletedProcess]:
    """`code` run twice in a fresh interpreter with a clean environment (no user
    keymap, its own parse cache): the first launch, then the reopen."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "c")}
    runs = [subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                           text=True, env=env, timeout=60) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), [r.stdout + r.stderr for r in runs]
    return runs


def test_annotate_start_up_imports_only_what_the_first_frame_needs(tmp_path):
    """Regression guard for the first-paint row (bench/bench_tui.py): reopening a project
    loads neither the format registry and export (other commands' parsers), nor YAML
    and jsonschema (the parse cache answers, and there is no user keymap file)."""
    project, corpus = _one_article_project(tmp_path)
    code = ("import sys, annotator.tui.app as ta; "
            "ta.run_app = lambda *a, **k: print(sorted(m for m in sys.modules if m.split('.')[0]"
            " in ('yaml', 'jsonschema', 'numpy') or m.startswith(('annotator.formats', "
            "'annotator.export', 'annotator.agreement')))) or 0; "
            "from annotator import cli; "
            f"sys.exit(cli.main(['annotate', {str(corpus)!r}, '--project', {str(project)!r},"
            " '--as', 'alice']))")
    runs = _launch_twice(code, tmp_path)
    # the first launch imports the corpus and parses the schema (YAML); a reopen does not
    assert runs[1].stdout.strip().splitlines()[-1] == "[]", runs[1].stdout + runs[1].stderr


def test_first_frame_needs_no_msgspec_dialogs_or_footer(tmp_path):
    """Regression guard for the first-paint row: until the first frame of a reopened
    project is drawn, the states are read without msgspec (jsoncodec.FEW), no dialog
    module is loaded (imported when one opens), nor secrets or getpass (a store's id
    comes from os.urandom; the login name only without --as), Textual's Footer is not
    yet mounted (LateFooter) and the cyclic garbage collector is off. Afterwards the footer is
    there, and the collector is on again with the session's objects frozen."""
    project, corpus = _one_article_project(tmp_path)
    code = ("import gc, sys\n"
            "from textual.app import App\n"
            "import annotator.tui.app as ta\n"
            "seen = []\n"
            "display = App._display\n"
            "def first(self, screen, renderable):\n"
            "    display(self, screen, renderable)\n"
            "    if renderable is not None and not seen:\n"
            "        seen.append(sorted(m for m in sys.modules if m.split('.')[0] == 'msgspec'"
            " or m in ('annotator.tui.dialogs', 'textual.widgets._footer', 'secrets',"
            " 'getpass')))\n"
            "        seen.append(gc.isenabled())\n"
            "        self.set_timer(0.3, lambda: (seen.append(gc.isenabled() and"
            " gc.get_freeze_count() > 0), self.exit()))\n"
            "App._display = first\n"
            "run = ta.AnnotatorApp.run\n"
            "ta.AnnotatorApp.run = lambda self, **k: run(self, headless=True, size=(100, 30))\n"
            "from annotator import cli\n"
            f"code = cli.main(['annotate', {str(corpus)!r}, '--project', {str(project)!r},"
            " '--as', 'alice'])\n"
            "print(seen[0] if len(seen) == 3 else 'no frame')\n"
            "print(f'collector at the first frame: {seen[1]}, after: {seen[2]}, at exit: "
            "{gc.isenabled()}')\n"
            "print('footer' if 'textual.widgets._footer' in sys.modules else 'no footer')\n"
            "sys.exit(code)\n")
    runs = _launch_twice(code, tmp_path)
    assert runs[1].stdout.strip().splitlines()[-3:] == [
        "[]", "collector at the first frame: False, after: True, at exit: True", "footer"], \
        runs[1].stdout + runs[1].stderr


def _two_annotators_project(tmp_path: Path) -> Path:
    """A project with one disagreement between alice and bob."""
    from annotator.corpus import Document
    from annotator.schema import load_schema
    from annotator.store import SQLiteStore

    schema = load_schema(REPO / "schemas" / "framing-devices.yaml")
    project = tmp_path / "p"
    project.mkdir()
    store = SQLiteStore(project / ".annotator")
    store.import_documents([Document("doc-a", None, ["Everyone agrees.", "They differ."])])
    for name, stance in (("alice", "positive"), ("bob", "negative")):
        j = store.journal(name, schema)
        j.apply("doc-a", 1, {"type": "toggle_label", "layer": "stance", "label": stance})
    store.close()
    return project


def test_adjudicate_ended_in_its_first_frame_ends_cleanly(tmp_path):
    """What is mounted after the first frame (the versions panel) is not mounted on an
    app that ended in that frame: no MountError traceback on the terminal."""
    project = _two_annotators_project(tmp_path)
    code = ("from textual.app import App\n"
            "import annotator.tui.app as ta\n"
            "display = App._display\n"
            "def first(self, screen, renderable):\n"
            "    display(self, screen, renderable)\n"
            "    if renderable is not None:\n"
            "        self.exit()\n"
            "App._display = first\n"
            "run = ta.AnnotatorApp.run\n"
            "ta.AnnotatorApp.run = lambda self, **k: run(self, headless=True, size=(100, 30))\n"
            "from annotator import cli\n"
            f"raise SystemExit(cli.main(['adjudicate', '--project', {str(project)!r}, "
            "'--as', 'cur']))\n")
    for r in _launch_twice(code, tmp_path):
        assert "Error" not in r.stdout + r.stderr, r.stdout + r.stderr


def test_adjudicate_first_frame_is_the_paragraph_then_the_panels(tmp_path):
    """Regression guard for adjudicate's first-paint row (bench/bench_adjudicate_tui.py):
    reopening a merged store, the first frame holds the paragraph and the status line,
    and nothing of the merge (numpy, adjudication.auto), msgspec, the dialogs or the
    Footer is loaded for it; the versions and labels panels and the progress line are
    filled right after it (0.3 s later they show the unit), the versions panel mounted
    then in the place kept for it."""
    project = _two_annotators_project(tmp_path)
    code = ("import sys\n"
            "from textual.app import App\n"
            "import annotator.tui.app as ta\n"
            "seen = []\n"
            "display = App._display\n"
            "def lines(app):\n"
            "    from annotator.tui.adjudicate import ProgressLine, VersionsPanel\n"
            "    from annotator.tui.labels_panel import LabelsPanel\n"
            "    from annotator.tui.unit_view import UnitView\n"
            "    s = app.screen\n"
            "    return [bool(s.query(w)) and len(s.query_one(w).lines) > 0 for w in ("
            "VersionsPanel, LabelsPanel, ProgressLine)] + [s.query_one(UnitView).size]\n"
            "def first(self, screen, renderable):\n"
            "    display(self, screen, renderable)\n"
            "    if renderable is not None and not seen:\n"
            "        seen.append(sorted(m for m in sys.modules if m.split('.')[0] in ("
            "'msgspec', 'numpy') or m in ('annotator.tui.dialogs', 'textual.widgets._footer',"
            " 'annotator.adjudication.auto')))\n"
            "        seen.append(lines(self))\n"
            "        self.set_timer(0.3, lambda: (seen.append(lines(self)), self.exit()))\n"
            "App._display = first\n"
            "run = ta.AnnotatorApp.run\n"
            "ta.AnnotatorApp.run = lambda self, **k: run(self, headless=True, size=(100, 30))\n"
            "from annotator import cli\n"
            f"code = cli.main(['adjudicate', '--project', {str(project)!r}, '--as', 'cur'])\n"
            "print(seen[0] if len(seen) == 3 else 'no frame')\n"
            "print(f'filled at the first frame: {seen[1]}, after: {seen[2]}')\n"
            "sys.exit(code)\n")
    runs = _launch_twice(code, tmp_path)
    # the first launch pre-fills the gold (the merge, numpy); the second finds it done
    # the versions panel (and its scroll container) is mounted after the first frame, in
    # a place of its size kept from the start: the paragraph's size does not change
    assert runs[1].stdout.strip().splitlines()[-2:] == [
        "[]", "filled at the first frame: [False, False, False, Size(width=55, height=15)], "
        "after: [True, True, True, Size(width=55, height=15)]"], \
        runs[1].stdout + runs[1].stderr

"""What the annotator sees on the real entry point, in a real terminal: at 80x24 no
label name is cut, the whole default schema is in view, and the status line's hints
wrap instead of ending in "…"; a unit whose text changed on a re-import shows as
stale, its old text one key away."""

from __future__ import annotations

from pathlib import Path

import pytest
from tmux_harness import Tmux, annotator_argv, demo_copy, have_tmux

from annotator.schema import default_schema_path, load_schema

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(not have_tmux(), reason="tmux is not installed"),
]


def test_labels_are_whole_at_80x24(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    demo = demo_copy(tmp_path)
    schema = load_schema(default_schema_path())  # the demo project names no schema
    t = Tmux.for_test(request, width=80, height=24)
    try:
        t.start(annotator_argv("annotate", "--project", str(demo), "--as", "alice"),
                cwd=demo)
        t.wait_for("annotated", timeout=30)
        # the first launch's import summary (a toast, 6 s) goes, uncovering the panel
        t.wait_for("imported 6 file(s)")
        screen = t.wait_for(lambda s: "imported" not in s, timeout=20)
        screen = t.wait_stable()
        panel = [row.split("▏", 1)[1] for row in screen.splitlines() if "▏" in row]
        assert not any(row.rstrip().endswith("…") for row in panel), panel
        joined = " ".join(" ".join(row.split()) for row in panel)
        for label in schema.layer("devices").labels:
            assert label.name in joined, label.name
        assert "Q Quote" in joined and "S Source" in joined  # the span layer in view
        t.send("v")
        screen = t.wait_for("SPAN")
        rows = screen.splitlines()
        status = [row for row in rows if "SPAN" in row]
        assert status and not status[0].rstrip().endswith("…"), rows[-4:]
        t.send("Escape")
        t.send("q")
        t.wait_dead()
    finally:
        t.close()


def test_a_reimported_paragraph_shows_as_stale(request: pytest.FixtureRequest,
                                              tmp_path: Path) -> None:
    demo = demo_copy(tmp_path)
    argv = annotator_argv("annotate", "--project", str(demo), "--as", "alice")
    t = Tmux.for_test(request, width=100, height=30)
    try:
        t.start(argv, cwd=demo)
        t.wait_for("annotated", timeout=30)
        t.send("j")
        t.wait_for("¶1/")
        t.send("s")
        t.wait_for("s [x] Sover")
        t.send("q")
        t.wait_dead()
    finally:
        t.close()
    article = demo / "corpora" / "demo" / "ayuda-humanitaria-terremoto.txt"
    text = article.read_text(encoding="utf-8")
    article.write_text(text.replace("El cargamento incluye", "El cargamento, dicen, incluye"),
                       encoding="utf-8")
    t = Tmux.for_test(request, width=100, height=30)
    try:
        t.start(argv, cwd=demo)
        screen = t.wait_for("⚠ stale", timeout=30)
        assert "¶1/" in screen and "[x] Sover" in screen
        t.send("C-o")
        screen = t.wait_for("Text then")
        assert "El cargamento incluye" in screen and "El cargamento, dicen," in screen
        t.send("Escape")
        t.wait_for("⚠ stale")
        t.send("q")
        t.wait_dead()
    finally:
        t.close()


def test_goto_by_the_start_of_an_id(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    demo = demo_copy(tmp_path)
    t = Tmux.for_test(request, width=100, height=30)
    try:
        t.start(annotator_argv("annotate", "--project", str(demo), "--as", "alice"),
                cwd=demo)
        t.wait_for("annotated", timeout=30)
        t.send("g")
        t.wait_for("Go to document")
        t.type("corpora/demo/os")
        t.send("Enter")
        screen = t.wait_for("corpora/demo/ostrava-summons-envoy  ")
        assert "title" in screen or "¶" in screen
        t.send("g")
        t.wait_for("Go to document")
        t.type("corpora/demo/")
        t.send("Enter")
        t.wait_for("documents start with 'corpora/demo/'")
        assert "corpora/demo/ostrava-summons-envoy  " in t.capture()  # stayed
        t.send("q")
        t.wait_dead()
    finally:
        t.close()


def test_the_import_summary_and_a_changed_schema_show_on_the_screen(
        request: pytest.FixtureRequest, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    news = root / "news"
    news.mkdir(parents=True)
    (news / "a.txt").write_text("A title\n\nOne paragraph about the summit.\n",
                                encoding="utf-8")
    (news / "b.pdf").write_bytes(b"%PDF")
    schema = root / "s.yaml"
    schema.write_bytes(default_schema_path().read_bytes())
    (root / "annotator.yaml").write_text("schema: s.yaml\n", encoding="utf-8")
    argv = annotator_argv("annotate", str(news), "--project", str(root), "--as", "alice")
    t = Tmux.for_test(request, width=120, height=30)
    try:
        t.start(argv, cwd=root)
        # on the annotation screen (as a toast), not only before it opens
        screen = t.wait_for(lambda s: "annotated 0/" in s and "imported 1 file(s)" in s,
                            timeout=30)
        assert "skipped" in screen
        t.send("q")
        t.wait_dead()
    finally:
        t.close()
    schema.write_text(schema.read_text(encoding="utf-8").replace(
        "name: Sovereignty and independence", "name: Sovereignty", 1), encoding="utf-8")
    t = Tmux.for_test(request, width=120, height=30)
    try:
        t.start(argv, cwd=root)
        t.wait_for(lambda s: "annotated 0/" in s and "changed since alice" in s,
                   timeout=30)
        t.send("q")
        t.wait_dead()
    finally:
        t.close()


def test_a_keymap_in_annotator_yaml_remaps_keys(request: pytest.FixtureRequest,
                                               tmp_path: Path) -> None:
    demo = demo_copy(tmp_path)
    (demo / "annotator.yaml").write_text(
        "corpus:\n  - corpora/demo\nkeys:\n  next_unit: ctrl+n\n"
        "  label.devices.sovereignty: \"7\"\n", encoding="utf-8")
    t = Tmux.for_test(request, width=100, height=30)
    try:
        t.start(annotator_argv("annotate", "--project", str(demo), "--as", "alice"),
                cwd=demo)
        t.wait_for("title  annotated", timeout=30)
        t.send("C-n")
        t.wait_for("¶1/")
        t.send("7")
        t.wait_for("7 [x] Sover")
        t.send("q")
        t.wait_dead()
    finally:
        t.close()
    (demo / "annotator.yaml").write_text(
        "corpus:\n  - corpora/demo\nkeys:\n  mark_done: s\n", encoding="utf-8")
    t = Tmux.for_test(request, width=100, height=30)
    try:
        t.start(annotator_argv("annotate", "--project", str(demo), "--as", "alice"),
                cwd=demo, report_exit=True)
        screen = t.wait_for("EXIT=1", timeout=30)
        flat = screen.replace("\n", "")  # the message wraps at the pane's width
        assert "annotator.yaml:4:3: 'mark_done': key 's' is also bound to" in flat
    finally:
        t.close()

"""Stale annotations: after a re-import changed a paragraph, the screen says the unit
is stale, does not draw its spans over words they no longer cover, and shows the
text they were made on (ctrl+o); `validate` reports a span whose text is not at its
offsets as an error on its line."""

from __future__ import annotations

import json
from pathlib import Path

from test_tui_helpers import DOCS, keys, main, make_app, restart, screen_text
from util import run_cli

from annotator.corpus import Document
from annotator.tui.dialogs import HelpScreen
from annotator.tui.labels_panel import LabelsPanel
from annotator.tui.unit_view import UnitView

CHANGED = [Document("doc-a", "Alpha title", [
    "First paragraph about sovereignty.",
    'Yesterday the minister said "we will never bow" today, Foreign Minister Elena '
    'Rusk told reporters.',
    DOCS[0].paragraphs[2]]), *DOCS[1:]]


async def test_a_changed_paragraph_shows_as_stale_with_its_old_text(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await keys(app, pilot, "j", "j", "a")  # accept the proposed quote
        spans = app.journal.state("doc-a", 2)["spans"]
        assert [sp["text"] for sp in spans] == ["we will not bow"]
        assert "stale" not in screen_text(app)
    app.store.import_documents(CHANGED)  # a re-import changed ¶2
    app = restart(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = main(app)
        screen.go("doc-a", 2)
        await pilot.pause()
        text = screen_text(app)
        assert "⚠ stale: text changed (ctrl+o)" in text
        sid = spans[0]["id"]
        assert f"⚠{sid} " in " ".join(line.plain for line in
                                       screen.query_one(LabelsPanel).lines)
        # not drawn at its old offsets over other words
        assert all(sp.id != sid for sp in screen.query_one(UnitView).decor.spans)
        await keys(app, pilot, "ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        shown = screen_text(app)
        assert "Text then" in shown and 'said "we will not bow" today' in shown
        assert "Text now" in shown and "Yesterday the minister" in shown
        assert "we will not bow" in shown.split("Spans no longer at their place")[1]
        await keys(app, pilot, "escape")
        await pilot.pause()
        # an unchanged unit is not stale, and ctrl+o says so
        screen.go("doc-a", 1)
        await pilot.pause()
        assert "stale" not in screen_text(app)
        await keys(app, pilot, "ctrl+o")
        assert not isinstance(app.screen, HelpScreen)


def test_validate_locates_a_span_whose_text_is_not_at_its_offsets(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    journal = app.journal
    text = DOCS[0].paragraphs[1]
    at = text.index("we will")
    journal.apply("doc-a", 2, {"type": "add_span", "layer": "quotes", "label": "quote",
                               "start": at, "end": at + 15, "attributes": {}})
    journal.apply("doc-a", 1, {"type": "mark_done"})
    project = tmp_path
    (project / "annotator.yaml").write_text("corpus: []\n", encoding="utf-8")
    out = project / "out.jsonl"
    r = run_cli("export", "--out", str(out), cwd=project)
    assert r.returncode == 0, r.stdout + r.stderr
    assert run_cli("validate", str(out), cwd=project).returncode == 0
    # what the issue found: the paragraph's text changed under the span, no stale flag
    recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    n = next(i for i, rec in enumerate(recs) if rec["paragraph"] == 2)
    recs[n]["text"] = "Yesterday " + recs[n]["text"]
    bad = project / "bad.jsonl"
    bad.write_text("".join(json.dumps(rec) + "\n" for rec in recs), encoding="utf-8")
    r = run_cli("validate", str(bad), cwd=project)
    assert r.returncode == 1
    assert f"{bad}:{n + 1}:1:" in r.stdout
    assert "but the span's text is 'we will not bow'" in r.stdout

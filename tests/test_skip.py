"""Not content (`-`): stored like any action, exported as status "skipped", left out of
every agreement figure for that annotator, and rated itself (`skip_agreement`)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import krippendorff
import numpy as np
import pytest
from test_tui_helpers import keys, make_app, restart, screen_text, where
from tmux_harness import Tmux, annotator_argv, have_tmux
from util import REPO, run_cli

from annotator.actions import apply_action
from annotator.corpus import Document
from annotator.store.sqlite import SQLiteStore

SKIP = {"type": "set_skipped", "skipped": True}
UNSKIP = {"type": "set_skipped", "skipped": False}


def test_skip_and_clear_restore_the_status_it_had():
    done = apply_action(None, {"type": "mark_done"})
    skipped = apply_action(done, SKIP)
    assert skipped["status"] == "skipped"
    assert apply_action(skipped, SKIP) == skipped  # idempotent
    assert apply_action(skipped, UNSKIP)["status"] == "done"
    assert apply_action(apply_action(None, SKIP), UNSKIP)["status"] is None
    # a label on a skipped unit makes it content again
    relabel = apply_action(skipped, {"type": "toggle_label", "layer": "devices",
                                     "label": "x"})
    assert relabel["status"] == "done" and "status_before_skip" not in relabel


async def test_minus_marks_not_content_and_again_clears(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "j", "minus")
        assert where(app) == ("doc-a", 1)  # stays on the unit
        assert app.journal.state("doc-a", 1)["status"] == "skipped"  # stored first
        assert "⊘ not content" in screen_text(app)
        assert "annotated 1/8" in screen_text(app)  # a decision: counted as progress
        await keys(app, pilot, "minus")
        assert app.journal.state("doc-a", 1)["status"] is None
        assert "○ not yet" in screen_text(app)
        await keys(app, pilot, "minus", "u")  # undo takes it back like any action
        assert app.journal.state("doc-a", 1)["status"] is None
        await keys(app, pilot, "minus")
    app2 = restart(app)
    async with app2.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        # where it stopped; the unit is still not content after a restart
        assert where(app2) == ("doc-a", 1) and "⊘ not content" in screen_text(app2)


async def test_the_binding_can_be_remapped(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_keymap({"skip": "z"})
        await keys(app, pilot, "z")
        assert app.journal.state("doc-a", 0)["status"] == "skipped"
        await keys(app, pilot, "minus")  # no longer bound
        assert app.journal.state("doc-a", 0)["status"] == "skipped"


def test_the_key_is_reserved_for_schemas():
    from annotator.keys import RESERVED_KEYS, key_name

    assert key_name("-") in RESERVED_KEYS


# ---------------------------------------------------------------- export and agreement

DOCS = [Document(f"d{i}", None, [f"Paragraph {i}.{u}" for u in range(1, 6)]) for i in range(6)]


def _study(project: Path) -> None:
    """Three annotators; some units marked not content (by some, not all)."""
    store = SQLiteStore(project / ".annotator")
    store.import_documents(DOCS)
    rng = np.random.default_rng(3)
    for who in ("alice", "bob", "carol"):
        j = store.journal(who)
        for d in range(6):
            for u in range(1, 6):
                r = rng.random()
                if r < 0.2:
                    j.apply(f"d{d}", u, SKIP)
                elif r < 0.9:
                    j.apply(f"d{d}", u, {"type": "toggle_label", "layer": "devices",
                                         "label": "sovereignty" if rng.random() < 0.5
                                         else "solidarity"})
                    if rng.random() < 0.5:
                        j.apply(f"d{d}", u, {"type": "toggle_label", "layer": "stance",
                                             "label": "negative"})
        # a unit labelled, then marked not content: its labels leave agreement
        j.apply("d0", 1, {"type": "toggle_label", "layer": "devices", "label": "solidarity"})
        j.apply("d0", 1, SKIP)
    store.close()


def test_export_says_skipped_with_the_name_and_validates(project: Path):
    _study(project)
    out = project / "out.jsonl"
    r = run_cli("export", "--out", str(out), cwd=project)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    first = next(x for x in recs if (x["doc_id"], x["paragraph"]) == ("d0", 1))
    anns = {a["annotator"]: a for a in first["annotations"]}
    assert set(anns) == {"alice", "bob", "carol"}
    for a in anns.values():
        assert a["status"] == "skipped" and a["labels"] == {} and a["spans"] == []
    assert first["agreement"]["annotators"] == 0  # nobody rated it: all said not content
    r = run_cli("validate", str(out), cwd=project)
    assert r.returncode == 0, r.stdout + r.stderr


def test_store_and_export_give_the_same_report_and_skips_leave_the_figures(project: Path):
    _study(project)
    out = project / "out.jsonl"
    assert run_cli("export", "--out", str(out), cwd=project).returncode == 0
    args = ("--json", "--bootstrap", "200", "--seed", "5")
    from_store = run_cli("agreement", *args, cwd=project)
    from_export = run_cli("agreement", str(out), *args, cwd=project)
    assert from_store.returncode == 0 and from_export.returncode == 0, from_export.stderr
    a, b = json.loads(from_store.stdout), json.loads(from_export.stdout)
    assert a == b
    jsonschema.validate(a, json.loads(
        (REPO / "schemas" / "agreement-report.schema.json").read_text()))
    skip = a["skip_agreement"]
    assert skip["kind"] == "binary" and sum(skip["skipped"].values()) > 0
    text = run_cli("agreement", "--bootstrap", "0", cwd=project).stdout
    assert f"alpha {skip['krippendorff_alpha']:.3f}" in text and "not content" in text

    # Independent check of the skip decision: krippendorff's package on the matrix of
    # annotators x units (1 skipped, 0 done, nan undecided), built from the export.
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    names = ["alice", "bob", "carol"]
    matrix = np.full((3, len(recs)), np.nan)
    for u, rec in enumerate(recs):
        for ann in rec["annotations"]:
            matrix[names.index(ann["annotator"]), u] = ann["status"] == "skipped"
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert skip["krippendorff_alpha"] == pytest.approx(expected, abs=1e-9)
    both = ~np.isnan(matrix).any(axis=0)
    agree = (matrix[:, both] == matrix[0, both]).all(axis=0).mean()
    assert 0 <= skip["percent_agreement"] <= 1 and agree <= skip["percent_agreement"] + 1e-9

    # The skipped units are in no other figure: the same report as from an export whose
    # skipped annotations were never there at all.
    stripped = project / "stripped.jsonl"
    with open(stripped, "w") as fh:
        for rec in recs:
            rec["annotations"] = [x for x in rec["annotations"] if x["status"] == "done"]
            if rec["annotations"]:
                fh.write(json.dumps(rec) + "\n")
    c = json.loads(run_cli("agreement", str(stripped), *args, cwd=project).stdout)
    for key in ("layers", "pairs", "units"):
        assert a[key] == c[key], key


@pytest.mark.tmux
@pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")
def test_minus_in_a_real_terminal(request, tmp_path: Path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "c.txt").write_text("Title\n\nReal content here.\n\nSee More\n\nLeave a Reply\n")
    with Tmux.for_test(request) as tmux:
        tmux.start(annotator_argv("annotate", str(project / "c.txt"), "--project", str(project),
                                  "--as", "alice"))
        tmux.wait_for("doc 1/1", timeout=20)
        tmux.send("j", "j")
        tmux.wait_for("¶2/3")
        tmux.type("-")
        tmux.wait_for("⊘ not content")
        tmux.send("q")
    store = SQLiteStore(project / ".annotator")
    try:
        assert store.journal("alice").state("c", 2)["status"] == "skipped"
    finally:
        store.close()

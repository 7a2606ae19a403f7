"""`annotator adjudicate` on the real entry point in a real terminal (tmux): a decision
shown, the process SIGKILLed, the decision stored; the pre-fill and --anonymous."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from tmux_harness import (
    ROOT,
    Tmux,
    annotator_argv,
    exit_recorder_argv,
    have_tmux,
    kill9,
    pid_gone,
    read_exit_file,
)
from util import run_cli

from annotator.corpus import Document
from annotator.schema import load_schema
from annotator.store import SQLiteStore

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(not have_tmux(), reason="tmux is not installed"),
]
SCHEMA = load_schema(ROOT / "schemas" / "framing-devices.yaml")


@pytest.fixture
def tmux(request):
    with Tmux.for_test(request, width=100, height=30) as t:
        yield t


@pytest.fixture
def study(project: Path) -> Path:
    s = SQLiteStore(project / ".annotator")
    s.import_documents([Document("doc-a", None, ["Everyone agrees.", "Stance differs."])])
    for name, st in (("alice", "positive"), ("bob", "negative"), ("carol", "negative")):
        j = s.journal(name, SCHEMA)
        j.apply("doc-a", 1, {"type": "toggle_label", "layer": "devices",
                             "label": "solidarity"})
        j.apply("doc-a", 2, {"type": "toggle_label", "layer": "stance", "label": st})
    s.close()
    return project


def test_sigkill_after_a_shown_decision_keeps_it(tmux: Tmux, study: Path):
    pid = tmux.start(annotator_argv("adjudicate", "--as", "cur", "--project", str(study)),
                     cwd=study)
    screen = tmux.wait_for("Stance ≠", timeout=60)
    assert "decided 1 · left 1" in screen  # the unanimous unit was pre-filled
    tmux.send("Tab", "t", "1")
    tmux.wait_for(re.compile(r"\(•\) Positive"), timeout=30)
    kill9(pid)  # the moment the decision is shown
    assert pid_gone(pid)
    s = SQLiteStore(study / ".annotator")
    gold = s.journal("gold")
    st = gold.state("doc-a", 2)
    assert st["labels"]["stance"] == "positive" and st["decided_by"] == ["alice"]
    auto = gold.state("doc-a", 1)
    assert auto["auto"] == "unanimous" and auto["decided_by"] == ["alice", "bob", "carol"]
    assert gold.verify() == []
    s.close()
    # the export carries it
    r = run_cli("export", "--gold", "--out", "-", cwd=study)
    assert r.returncode == 0 and r.stdout.count("\n") == 2


@pytest.mark.parametrize("forward_hangup", [True, False], ids=["SIGHUP", "no-SIGHUP"])
def test_terminal_gone_adjudicate_exits_and_keeps_the_decision(
        tmux: Tmux, study: Path, tmp_path: Path, forward_hangup: bool):
    """The curator's SSH link drops (tmux closes the pane) under a wrapper that
    outlives it and passes the hang-up on or not: adjudicate leaves with status 0
    (not spinning on the dead terminal holding the gold's session lock), and the
    decision shown is stored."""
    status_file = tmp_path / "exit-status"
    argv = annotator_argv("adjudicate", "--as", "cur", "--project", str(study))
    tmux.start(exit_recorder_argv(status_file, argv, forward_hangup=forward_hangup),
               cwd=study)
    tmux.wait_for("Stance ≠", timeout=60)
    tmux.send("Tab", "t", "1")
    tmux.wait_for(re.compile(r"\(•\) Positive"), timeout=30)
    tmux.kill_session()
    assert read_exit_file(status_file, timeout=30) == 0
    s = SQLiteStore(study / ".annotator")
    assert s.journal("gold").state("doc-a", 2)["labels"]["stance"] == "positive"
    s.close()


def test_anonymous_in_the_terminal(tmux: Tmux, study: Path):
    pid = tmux.start(annotator_argv("adjudicate", "--anonymous", "--auto", "none",
                                    "--project", str(study)), cwd=study)
    screen = tmux.wait_for("Stance ≠", timeout=60)
    tmux.send("t")
    screen += tmux.wait_for("whose", timeout=30)
    assert "alice" not in screen and "bob" not in screen and "carol" not in screen
    assert "1 A" in screen and "3 C" in screen
    assert "decided 0 · left 2" in screen  # --auto none
    tmux.send("Escape")
    tmux.send("q")
    assert pid_gone(pid)


def test_refused_on_a_team_project_for_a_non_curator(study: Path):
    """The running login is the lead and an annotator, not a curator: refused with the
    reason, and no gold journal is made."""
    import getpass
    import pwd

    me = pwd.getpwuid(os.geteuid()).pw_name
    (study / "annotator.yaml").write_text(
        f"team:\n  lead: {me}\n  annotators:\n    alice: {me}\n    cur: nobody\n"
        "  curators: [cur]\n")
    os.chmod(study / "annotator.yaml", 0o644)
    for argv in ([], ["--as", "cur"], ["--as", "alice"]):
        r = run_cli("adjudicate", *argv, cwd=study)
        assert r.returncode == 1, r.stderr
        assert f"{me} is not a curator of this project" in r.stderr, r.stderr
        assert "cur (nobody)" in r.stderr and "Traceback" not in r.stderr
    assert not (study / ".annotator" / "journals" / "gold").exists()
    assert getpass.getuser()  # the login the message names is the running one
    # mapped as a curator, the same login may: --as names its curator name
    (study / "annotator.yaml").write_text(
        f"team:\n  lead: {me}\n  annotators:\n    alice: nobody\n    cur: {me}\n"
        "  curators: [cur]\n")
    r = run_cli("adjudicate", "--as", "alice", cwd=study)
    assert r.returncode == 1 and "may not adjudicate as 'alice'" in r.stderr, r.stderr


def test_curator_draws_and_links_spans_in_the_terminal(tmux: Tmux, project: Path):
    """The real entry point: v opens the span editor on the gold, a source and a quote
    are drawn with the cursor keys and linked (r, enter), then a SIGKILL right after the
    link is shown: all of it is in the gold journal, which replays."""
    s = SQLiteStore(project / ".annotator")
    s.import_documents([Document("doc-q", None, ['The minister said "we will not bow" today.'])])
    for name, end in (("alice", 35), ("bob", 34)):
        s.journal(name, SCHEMA).apply("doc-q", 1, {"type": "add_span", "layer": "quotes",
                                                   "label": "quote", "start": 19, "end": end})
    s.close()
    pid = tmux.start(annotator_argv("adjudicate", "--as", "cur", "--auto", "none",
                                    "--project", str(project)), cwd=project)
    tmux.wait_for("Quotes ≠", timeout=60)
    tmux.send("v")
    tmux.wait_for("SPAN", timeout=30)
    tmux.send("W", "W", "S")  # "The minister": a source
    tmux.wait_for("x: delete", timeout=30)
    tmux.send("Escape")
    tmux.wait_for("GOLD", timeout=30)
    tmux.send("v", "w", "w", "w", "w", "W", "W", "W", "W", "Q")  # "we will not bow"
    tmux.wait_for(re.compile(r"s2 quote \[19,34\)"), timeout=30)
    tmux.send("r")
    tmux.wait_for("LINK", timeout=30)
    tmux.send("Enter")
    tmux.wait_for(lambda screen: "LINK" not in screen and "s2 quote" in screen, timeout=30)
    kill9(pid)  # the moment the link is shown
    assert pid_gone(pid)
    s = SQLiteStore(project / ".annotator")
    gold = s.journal("gold")
    st = gold.state("doc-q", 1)
    assert [(sp["id"], sp["label"], sp["text"]) for sp in st["spans"]] == [
        ("s1", "source", "The minister"), ("s2", "quote", "we will not bow")]
    assert st["relations"] == [{"label": "attributed_to", "from": "s2", "to": "s1"}]
    assert st["curator"] == "cur" and st["overrode"] is True
    assert [e["kind"] for e in gold.events()][::-1] == ["add_span", "add_span",
                                                         "add_relation"]
    assert gold.verify() == []
    s.close()


def test_every_key_path_in_the_terminal_then_restart_and_undo(tmux: Tmux, project: Path):
    """n N ] [ j, a label hotkey, enter, tab, w + a (accept an annotator's span), x,
    u, ctrl+r, q on the real entry point; the gold journal checked after; then a
    restart whose first u undoes the last decision of the session before."""
    s = SQLiteStore(project / ".annotator")
    s.import_documents([
        Document("doc-a", None, ["All agree here.", "Stance differs.",
                                 'The minister said "we will not bow" today.']),
        Document("doc-b", None, ["Devices differ."])])
    for name, st, end in (("alice", "positive", 35), ("bob", "negative", 34)):
        j = s.journal(name, SCHEMA)
        j.apply("doc-a", 1, {"type": "toggle_label", "layer": "devices",
                             "label": "solidarity"})
        j.apply("doc-a", 2, {"type": "toggle_label", "layer": "stance", "label": st})
        j.apply("doc-a", 3, {"type": "add_span", "layer": "quotes", "label": "quote",
                             "start": 19, "end": end})
        j.apply("doc-b", 1, {"type": "toggle_label", "layer": "devices",
                             "label": "sovereignty" if name == "alice" else "solidarity"})
    s.close()
    argv = annotator_argv("adjudicate", "--as", "cur", "--auto", "none", "--project",
                          str(project))
    pid = tmux.start(argv, cwd=project)
    tmux.wait_for("decided 0 · left 4", timeout=60)
    tmux.wait_for("¶2  doc 1/2 doc-a")  # the first open disagreement
    for key, where in (("n", "¶3  doc 1/2 doc-a"), ("n", "¶1  doc 2/2 doc-b"),
                       ("N", "¶3  doc 1/2 doc-a"), ("]", "¶1  doc 2/2 doc-b"),
                       ("[", "¶1  doc 1/2 doc-a"), ("j", "¶2  doc 1/2 doc-a")):
        tmux.send(key)
        tmux.wait_for(where, timeout=30)
    tmux.send("s")  # sovereignty, a label nobody chose on this unit
    tmux.wait_for("decided 1 · left 3", timeout=30)
    tmux.send("Enter")  # accepted as shown; on to the next disagreement
    tmux.wait_for("¶3  doc 1/2 doc-a", timeout=30)
    tmux.send("Tab", "Tab", "w", "a")  # the quotes layer: the first annotator span taken
    tmux.wait_for("decided 2 · left 2", timeout=30)
    tmux.send("x")  # the accepted span stays selected: deleted
    tmux.wait_for(re.compile(r"gold 0 span\(s\)"), timeout=30)
    tmux.send("u")
    tmux.wait_for(re.compile(r"gold 1 span\(s\)"), timeout=30)
    tmux.send("C-r")
    tmux.wait_for(re.compile(r"gold 0 span\(s\)"), timeout=30)
    tmux.send("q")
    assert pid_gone(pid)
    s = SQLiteStore(project / ".annotator")
    gold = s.journal("gold")
    a2 = gold.state("doc-a", 2)
    assert a2["labels"]["devices"] == ["sovereignty"] and a2["overrode"] is True
    assert a2["status"] == "done" and a2["curator"] == "cur"
    assert gold.state("doc-a", 3)["spans"] == []
    assert [e["kind"] for e in gold.events()][::-1] == [
        "toggle_label", "accept_unit", "add_span", "delete_span", "undo", "redo"]
    s.close()
    # restart: u undoes the redone delete, across the restart
    pid = tmux.start(argv, cwd=project)
    tmux.wait_for("decided 2 · left 2", timeout=60)
    tmux.send("u")
    # undo goes to the unit it changed; its span is drawn again in the text (Q)
    tmux.wait_for(re.compile(r"¶3  doc 1/2 doc-a[\s\S]*today\.\s+Q "), timeout=30)
    tmux.send("q")
    assert pid_gone(pid)
    s = SQLiteStore(project / ".annotator")
    gold = s.journal("gold")
    assert [(sp["start"], sp["end"]) for sp in gold.state("doc-a", 3)["spans"]] == [(19, 35)]
    assert gold.verify() == []
    s.close()

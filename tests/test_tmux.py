"""The real entry point (`python -m annotator annotate`) in a real terminal (tmux).

What an annotator does over SSH: open the demo corpus, tag, make spans, accept a
proposed quote and link it to its source, quit and come back to the same unit; and
what can go wrong: the process killed (SIGKILL) or hung up on (SIGHUP, the SSH link
dropped), an article that carries markup or escape sequences.

Each test runs its own tmux server (tests/tmux_harness.py) on a copy of the demo
corpus in a temporary project, so the repository's own `.annotator/` is never
touched, and checks what was stored through the core (`SQLiteStore`), not the screen
alone.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest
from tmux_harness import (
    Tmux,
    annotator_argv,
    child_pid,
    demo_copy,
    exit_recorder_argv,
    have_tmux,
    kill9,
    pid_gone,
)

from annotator.store.sqlite import SQLiteStore

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(not have_tmux(), reason="tmux is not installed"),
]

# vi-like words, as the screen's w / b / W / B move over them
WORD = re.compile(r"\w+|[^\w\s]+")
POSITION = re.compile(r"doc \d+/\d+ ")  # the position bar: "doc 1/7 <id>  ¶2/8 ..."
SOVEREIGNTY_ON = re.compile(r"s \[x\] Sover")


def COUNT(label: str, n: int) -> re.Pattern[str]:  # noqa: N802
    """The labels panel counts the unit's spans per span label: "S Source (1)"."""
    return re.compile(rf"\b{label} \({n}\)")


def SELECTED(span_id: str, label: str) -> re.Pattern[str]:  # noqa: N802
    """The status line of a selected span: "s1 quote [1,53) type=direct  x: delete"."""
    return re.compile(rf"\b{span_id} {label} \[\d+,\d+\)")


# --- fixtures and helpers ------------------------------------------------------------

@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A project with a copy of the demo corpus."""
    return demo_copy(tmp_path)


@pytest.fixture
def tmux(request: pytest.FixtureRequest):
    with Tmux.for_test(request) as t:
        yield t


def open_app(tmux: Tmux, project: Path, who: str = "alice", *args: str) -> int:
    """Start `annotator annotate` and wait for its first screen; returns its pid."""
    pid = tmux.start(annotator_argv("annotate", "--project", str(project), "--as", who,
                                    *args))
    tmux.wait_for(POSITION, timeout=20)  # first launch also imports the corpus
    return pid


class Core:
    """The store as the core sees it, opened fresh (after the app has gone)."""

    def __init__(self, project: Path, who: str = "alice"):
        self.store = SQLiteStore(project / ".annotator")
        self.journal = self.store.journal(who)

    def state(self, doc_id: str, unit: int) -> dict:
        return self.journal.state(doc_id, unit) or {}

    def check_consistent(self) -> None:
        """The journal file is intact and the derived state is the one its events
        produce: for every unit, the `after` of the unit's last event."""
        conn = sqlite3.connect(self.journal.path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            last = {}
            for doc_id, unit, after in conn.execute(
                    "SELECT doc_id, unit, after FROM events ORDER BY seq"):
                last[(doc_id, unit)] = after
            import json

            for (doc_id, unit), after in last.items():
                assert self.journal.state(doc_id, unit) == (json.loads(after) or None), (
                    doc_id, unit)
        finally:
            conn.close()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Core:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def first_unit(project: Path) -> tuple[str, int, str]:
    """(document id, unit, text) of the corpus's first unit, read through the core."""
    with Core(project) as core:
        doc = core.store.document_at(0)
        return doc.id, doc.first_unit, core.store.unit(doc.id, doc.first_unit).text


def paced(tmux: Tmux, *keys: str) -> None:
    """Keys at a person's pace: each once the screen has settled after the last."""
    for key in keys:
        tmux.send(key)
        tmux.wait_stable(quiet=0.15, timeout=3)


def goto(tmux: Tmux, where: str) -> None:
    tmux.send("g")
    tmux.wait_for("Go to document")
    tmux.type(where)
    tmux.send("Enter")
    doc_id, _, unit = where.rpartition(":")
    tmux.wait_for(re.compile(rf"{re.escape(doc_id)}\s+¶{unit}/"))


# --- scenarios -----------------------------------------------------------------------

def test_tag_span_quote_link_quit_and_resume(tmux: Tmux, demo: Path) -> None:
    open_app(tmux, demo)
    doc_id, unit, text = first_unit(demo)

    # a paragraph label by its hotkey (schema: s = sovereignty)
    tmux.send("s")
    tmux.wait_for(SOVEREIGNTY_ON)

    # a span: v, move one word (moves the start), extend to the word's end, label key
    tmux.send("v")
    tmux.wait_for("SPAN")
    paced(tmux, "w", "W", "S")
    tmux.wait_for(COUNT("Source", 1))

    # a proposed quote accepted, a source marked, the quote linked to it
    quote_unit = "wire-2024-0417:2"
    goto(tmux, quote_unit)
    tmux.wait_for("proposed quote")
    tmux.send("a")
    tmux.wait_for(COUNT("Quote", 1))
    with Core(demo) as core:  # read while the app runs (WAL): where the cursor is
        wire = core.store.unit("wire-2024-0417", 2).text
        (accepted,) = core.state("wire-2024-0417", 2)["spans"]
    source = "Valdorian Foreign Minister Noor Kassab"
    # the cursor sits at the start of the accepted quote; w hops word by word
    words = [m.start() for m in WORD.finditer(wire) if m.start() > accepted["start"]]
    hops = words.index(wire.index(source)) + 1
    paced(tmux, "v", *["w"] * hops, *["W"] * len(source.split()), "S")
    tmux.wait_for(COUNT("Source", 1))
    tmux.send("Tab")  # from the new source (s2) to the quote (s1)
    tmux.wait_for(SELECTED("s1", "quote"))
    tmux.send("r")
    tmux.wait_for(re.compile(r"LINK .*s1 → s2"))
    tmux.send("Enter")
    tmux.wait_for(lambda screen: "LINK" not in screen)

    tmux.send("q")
    tmux.wait_dead()

    with Core(demo) as core:
        first = core.state(doc_id, unit)
        assert first["labels"]["devices"] == ["sovereignty"]
        (span,) = first["spans"]
        toks = list(WORD.finditer(text))
        assert (span["layer"], span["label"]) == ("quotes", "source")
        assert span["start"] == toks[1].start()
        assert span["text"].startswith(toks[1].group())
        wire_state = core.state("wire-2024-0417", 2)
        by_label = {s["label"]: s for s in wire_state["spans"]}
        # the proposal covers the quote marks; the stored span may leave them out
        assert by_label["quote"]["text"].strip("“”") == (
            "This is a bridge between peoples, not between blocs,")
        assert by_label["source"]["text"] == source
        assert wire_state["relations"] == [{"label": "attributed_to",
                                            "from": by_label["quote"]["id"],
                                            "to": by_label["source"]["id"]}]
        assert core.journal.position() == ("wire-2024-0417", 2)
        core.check_consistent()

    # reopen: the same unit, with its spans and link
    open_app(tmux, demo)
    screen = tmux.wait_for(re.compile(r"wire-2024-0417\s+¶2/"))
    assert "Valdoria and Ostrava agree on visa-free travel" in screen
    assert "✓ done" in screen
    # the focused row carries the marks of its spans in the right gutter (Q, S)
    focused = next(line for line in screen.splitlines() if "▶" in line)
    assert re.search(r"\b[QS]{1,2}\s*\S?▏", focused), screen


def test_sigkill_after_a_shown_keypress_loses_nothing(tmux: Tmux, demo: Path) -> None:
    pid = open_app(tmux, demo)
    doc_id, unit, _ = first_unit(demo)
    tmux.send("s")
    tmux.wait_for(SOVEREIGNTY_ON)
    kill9(pid)  # the moment it is shown
    assert pid_gone(pid)
    with Core(demo) as core:
        assert core.state(doc_id, unit)["labels"]["devices"] == ["sovereignty"]
        core.check_consistent()


def test_sigkill_right_after_keypresses(tmux: Tmux, demo: Path) -> None:
    """Killed with keys in flight: what the last screen showed is stored, and the
    journal is consistent whatever was cut off."""
    pid = open_app(tmux, demo)
    doc_id, unit, _ = first_unit(demo)
    tmux.send("e", "1", "Enter", "y")
    kill9(pid)  # no waiting
    assert pid_gone(pid)
    last_screen = tmux.capture()  # remain-on-exit keeps the dead pane's last frame
    with Core(demo) as core:
        core.check_consistent()
        state = core.state(doc_id, unit)
        if re.search(r"e \[x\] Econ", last_screen) and f"{doc_id}" in last_screen:
            assert "economic_cooperation" in state["labels"]["devices"]
        if re.search(r"1 \(•\) Pos", last_screen):
            assert state["labels"]["stance"] == "positive"
    # and the app opens again on that journal
    open_app(tmux, demo)


def test_sighup_exits_and_keeps_the_journal(tmux: Tmux, demo: Path) -> None:
    pid = open_app(tmux, demo)
    doc_id, unit, _ = first_unit(demo)
    tmux.send("s")
    tmux.wait_for(SOVEREIGNTY_ON)
    tmux.send("j")
    tmux.wait_for(re.compile(r"¶1/"))
    tmux.kill_session()  # tmux sends SIGHUP to the pane's process
    assert pid_gone(pid, timeout=10), "the app outlived its terminal"
    with Core(demo) as core:
        assert core.state(doc_id, unit)["labels"]["devices"] == ["sovereignty"]
        assert core.journal.position() == (doc_id, unit + 1)
        core.check_consistent()


def test_keys_typed_in_a_burst_apply_in_order(tmux: Tmux, demo: Path) -> None:
    """Over a slow SSH link keys arrive in bursts; each must act in the order typed:
    v w W S must give the same span as typed slowly (the second word)."""
    open_app(tmux, demo)
    doc_id, unit, text = first_unit(demo)
    tmux.send("v", "w", "W", "S")  # no waiting between keys
    tmux.wait_for(COUNT("Source", 1))
    tmux.send("q")
    tmux.wait_dead()
    word = list(WORD.finditer(text))[1]
    with Core(demo) as core:
        (span,) = core.state(doc_id, unit)["spans"]
        assert (span["start"], span["end"]) == (word.start(), word.end()), span


HOSTILE_TITLE = "Markup [bold]x and [@click=app.quit]click me[/] in a title"
HOSTILE_BODY = ("Escape \x1b[31mred\x1b[0m text, a title change \x1b]0;pwned\x07 here, "
                "and a malformed [/ tag with [@click=app.quit]quit[/] inside.")


def test_markup_and_escape_sequences_show_literally(tmux: Tmux, tmp_path: Path) -> None:
    project = tmp_path / "hostile"
    project.mkdir()
    corpus = project / "article.txt"
    corpus.write_bytes(f"{HOSTILE_TITLE}\n\n{HOSTILE_BODY}\n".encode())
    tmux.tmux("start-server", check=False)
    pid = tmux.start(annotator_argv("annotate", str(corpus), "--project", str(project),
                                    "--as", "alice"))
    tmux.tmux("select-pane", "-t", tmux.session, "-T", "before", check=False)
    screen = tmux.wait_for(POSITION, timeout=20)
    assert "[bold]x" in screen
    assert "[@click=app.quit]click me[/]" in screen
    # the body: ESC and BEL shown as visible symbols, the rest as typed
    tmux.send("j")
    screen = tmux.wait_for("¶1/")
    flat = " ".join(screen.split())
    for text in ("␛[31mred", "␛]0;pwned␇", "malformed [/ tag", "[@click=app.quit]quit[/]"):
        assert text in flat or text in screen.replace("\n", ""), (text, screen)
    assert "pwned" not in tmux.pane_title()
    assert not tmux.pane_dead() and not pid_gone(pid, timeout=0.2)
    # still responsive, and not quit by the [@click=app.quit] it displayed
    tmux.send("k")
    tmux.wait_for("title  annotated")
    tmux.send("q")
    tmux.wait_dead()


def _big_schema(path: Path, labels: int) -> Path:
    lines = ["id: big", "version: 1", "title: A schema of many labels", "layers:",
             "  - id: devices", "    name: Devices", "    kind: multi", "    labels:"]
    for i in range(labels):
        lines += [f"      - id: l{i}", f"        name: Label number {i}",
                  f"        description: What label {i} means, in a sentence of some length.",
                  f'        examples: ["an example of label {i}"]']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("hangup", ["sighup", "swallowed"])
def test_help_of_a_10000_label_schema_exits_when_the_terminal_closes(
        tmux: Tmux, demo: Path, tmp_path: Path, hangup: str) -> None:
    """The help of a huge schema is drawn a screen at a time, so the app stays
    responsive: when the terminal goes (SIGHUP, or a launcher that swallows it) the
    app is gone within a second or two, and the annotator's session lock with it."""
    schema = _big_schema(tmp_path / "big.yaml", 10_000)
    argv = annotator_argv("annotate", "--project", str(demo), "--as", "alice",
                          "--schema", str(schema))
    status = tmp_path / "status"
    if hangup == "swallowed":
        argv = exit_recorder_argv(status, argv, forward_hangup=False)
    pid = tmux.start(argv)
    if hangup == "swallowed":
        pid = child_pid(pid)
    tmux.wait_for(POSITION, timeout=60)
    tmux.type("?")
    tmux.wait_for("Label number 0", timeout=20)
    tmux.send("j", "j", "End")
    tmux.wait_for("Label number 9999", timeout=20)  # the end of the help is reachable
    tmux.kill_session()
    started = time.monotonic()
    assert pid_gone(pid, timeout=10), "the app outlived its terminal"
    took = time.monotonic() - started
    assert took < 2.0, f"the app took {took:.1f} s to notice its terminal had gone"
    with Core(demo) as core:
        core.journal.claim()  # the session lock was released: a new session may start
        core.journal.release()


def test_span_mode_down_reaches_the_end_of_a_long_paragraph(tmux: Tmux, tmp_path: Path) -> None:
    """Marking a word at the end of a paragraph longer than the screen: down moves the
    span cursor a row at a time and the view follows it (it used to leave span mode and
    go to the next paragraph)."""
    project = tmp_path / "proj"
    (project / "corpus").mkdir(parents=True)
    body = " ".join(f"word{i:03d}" for i in range(400)) + " said Caracas."
    (project / "corpus" / "long.txt").write_text(f"A long one\n\n{body}\n\nNext.\n",
                                                 encoding="utf-8")
    tmux.start(annotator_argv("annotate", str(project / "corpus"), "--project", str(project),
                              "--as", "alice"), cwd=project)
    tmux.wait_for(POSITION, timeout=30)
    tmux.send("j")
    tmux.wait_for("¶1/")
    assert "Caracas" not in tmux.capture()  # below the screen
    tmux.send("v")
    tmux.wait_for("SPAN")
    for _ in range(100):  # ~70 rows at 100 columns beside the labels panel
        tmux.send("Down")
    screen = tmux.wait_for("Caracas")
    assert "¶1/" in screen and "SPAN" in screen  # same unit, still in span mode
    paced(tmux, "End", "b", "W", "S")
    tmux.wait_for(COUNT("Source", 1))
    tmux.send("q")
    tmux.wait_dead()
    with Core(project) as core:
        doc = core.store.document_at(0)
        (span,) = core.state(doc.id, 1)["spans"]
        assert span["text"] == "Caracas"

"""Store faults: the disk filling up, a damaged journal, a second session of one
annotator, and labels that left the schema after they were used.

What must hold in each: every stored action stays stored, the user is told in a
sentence that names the file, nothing else is touched, and nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_tui_helpers import keys, main, make_app, screen_text
from tmux_harness import ROOT, Tmux, annotator_argv, have_tmux, pid_gone
from util import run_cli

from annotator.errors import StoreError
from annotator.project import Project
from annotator.store.sqlite import SQLiteStore

SOV = {"type": "toggle_label", "layer": "devices", "label": "sovereignty"}
POSITION = re.compile(r"doc \d+/\d+ ")


def toggles(n: int) -> list[dict]:
    labels = ["sovereignty", "solidarity", "economic_cooperation"]
    return [{"type": "toggle_label", "layer": "devices", "label": labels[i % 3]}
            for i in range(n)]


def demo_project(project: Path) -> Path:
    """A new project at `project` with the demo corpus imported."""
    shutil.copytree(ROOT / "corpora" / "demo", project / "corpora" / "demo")
    (project / "annotator.yaml").write_text("corpus:\n  - corpora/demo\n", encoding="utf-8")
    assert run_cli("import", "corpora/demo", cwd=project).returncode == 0
    return project


def assert_journal_holds(project: Path, name: str, events: int) -> None:
    """`name`'s journal holds exactly `events` events, and replays to its state."""
    p = Project(project)
    j = p.store.journal(name)
    assert j.conn.execute("SELECT count(*) FROM events").fetchone()[0] == events
    assert j.verify() == []
    p.close()


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A project with the demo corpus imported, and two annotators' work in it."""
    project = demo_project(tmp_path / "proj")
    p = Project(project)
    schema = p.load_schema()
    doc = p.store.document_at(0)
    for name in ("alice", "bob"):
        j = p.store.journal(name, schema)
        for unit in range(doc.first_unit, doc.first_unit + 3):
            j.apply(doc.id, unit, SOV)
            j.apply(doc.id, unit, {"type": "mark_done"})
    p.close()
    return project


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def journal_files(project: Path, name: str) -> dict[str, str]:
    d = project / ".annotator" / "journals" / name
    return {p.name: digest(p) for p in sorted(d.glob("journal.db*"))}


# --- the disk fills up -----------------------------------------------------------------

def fill_up(journal) -> None:
    """Let the journal's file grow no more: SQLite then fails writes with SQLITE_FULL,
    as on a full disk (the real-disk case is the tmux test below)."""
    pages = journal.conn.execute("PRAGMA page_count").fetchone()[0]
    journal.conn.execute(f"PRAGMA max_page_count = {pages}")


def make_room(journal) -> None:
    """Undo `fill_up`: space again."""
    journal.conn.execute("PRAGMA max_page_count = 1073741823")


def test_disk_full_keeps_every_stored_action_and_says_so(demo: Path) -> None:
    p = Project(demo)
    schema = p.load_schema()
    j = p.store.journal("carol", schema)
    doc = p.store.document_at(1)
    fill_up(j)
    stored = 0
    with pytest.raises(StoreError) as err:
        for action in toggles(10_000):
            j.apply(doc.id, doc.first_unit + stored % 3, action)
            stored += 1
    assert "disk is full" in str(err.value) and "carol/journal.db" in str(err.value)
    assert "NOT saved" in str(err.value)
    # everything before the failure is there, and the failed one is not half there
    assert j.conn.execute("SELECT count(*) FROM events").fetchone()[0] == stored
    assert j.verify() == []
    # space again: the next action is stored
    make_room(j)
    j.apply(doc.id, doc.first_unit, SOV)
    assert j.conn.execute("SELECT count(*) FROM events").fetchone()[0] == stored + 1
    assert j.verify() == []
    p.close()


async def test_disk_full_in_the_tui(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = main(app)
        fill_up(app.journal)
        shown = 0
        for _ in range(2000):
            await keys(app, pilot, "s")
            if screen.save_error:
                break
            shown += 1
        assert screen.save_error, "the journal never filled up"
        text = await settled(app, pilot, lambda t: "NOT SAVED" in t)
        assert "NOT SAVED" in text and "disk is full" in text
        # The screen shows the state of the last stored action, not the failed one.
        stored = app.journal.conn.execute("SELECT count(*) FROM events").fetchone()[0]
        assert stored == shown
        on = "[x] Sovereignty" in text
        assert on == (shown % 2 == 1)
        assert (app.journal.state(screen.doc.id, screen.unit) or {}).get(
            "labels", {}).get("devices", []) == (["sovereignty"] if on else [])
        # Trying again while the disk is full: still not saved, still said.
        await keys(app, pilot, "s")
        text = await settled(app, pilot, lambda t: "NOT SAVED" in t)
        assert "NOT SAVED" in text and ("[x] Sovereignty" in text) == on
        assert app.journal.conn.execute("SELECT count(*) FROM events").fetchone()[0] == shown
        make_room(app.journal)
        await keys(app, pilot, "s")
        text = await settled(app, pilot, lambda t: "NOT SAVED" not in t)
        assert screen.save_error is None and "NOT SAVED" not in text
        assert ("[x] Sovereignty" in text) != on
        assert app.journal.verify() == []


async def settled(app, pilot, ready, tries: int = 50) -> str:
    """The screen text once `ready(text)` holds (a repaint may take a few frames)."""
    for _ in range(tries):
        text = screen_text(app)
        if ready(text):
            return text
        await pilot.pause(0.02)
    return screen_text(app)


def toggle_until_not_saved(tmux: Tmux, limit: int = 2000) -> tuple[int, str]:
    """Toggle a label, waiting each time for the screen to show it, until the screen
    says NOT SAVED: (toggles shown, the last screen)."""
    shown = 0
    for _ in range(limit):
        tmux.send("s")
        screen = tmux.wait_for(lambda s, n=shown: ("[x] Sover" in s) != (n % 2 == 1)
                               or "NOT SAVED" in s, timeout=10)
        if "NOT SAVED" in screen:
            break
        shown += 1
    return shown, screen


@pytest.mark.tmux
@pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")
def test_real_file_size_limit_in_a_terminal(tmp_path: Path) -> None:
    """The real entry point with the kernel refusing to let files grow (RLIMIT_FSIZE,
    the same failed write() a full disk gives): the screen says NOT SAVED, the app
    goes on running, and what it showed before is stored."""
    project = demo_project(tmp_path / "tproj")
    tmux = Tmux("fsize")
    try:
        # 64 KiB more than the files have now: room for a few actions, then EFBIG.
        script = ("import resource, runpy, sys; "
                  "resource.setrlimit(resource.RLIMIT_FSIZE, (200 * 1024, 200 * 1024)); "
                  "sys.argv = ['annotator'] + sys.argv[1:]; "
                  "runpy.run_module('annotator', run_name='__main__')")
        pid = tmux.start([sys.executable, "-c", script, "annotate", "--project", str(project),
                          "--as", "dora"])
        tmux.wait_for(POSITION, timeout=20)
        shown, screen = toggle_until_not_saved(tmux)
        assert "NOT SAVED" in screen, "the limit was never reached"
        assert not tmux.pane_dead()
        tmux.send("q")
        assert pid_gone(pid)
    finally:
        tmux.close()
    assert_journal_holds(project, "dora", shown)


# --- a damaged journal -----------------------------------------------------------------

def truncate_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 // 4096 * 4096 or 4096])


def truncate_mid_page(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:5000])


def garbage_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:100] = os.urandom(100)
    path.write_bytes(bytes(data))


def scrambled_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[4096:] = bytes((b * 7 + 13) % 256 for b in range(len(data) - 4096))
    path.write_bytes(bytes(data))


DAMAGE = [truncate_half, truncate_mid_page, garbage_header, scrambled_pages]


@pytest.mark.parametrize("damage", DAMAGE, ids=[d.__name__ for d in DAMAGE])
def test_damaged_journal_is_named_and_nothing_else_is_touched(demo: Path, damage) -> None:
    bob = demo / ".annotator" / "journals" / "bob" / "journal.db"
    assert not bob.with_name("bob.db-wal").exists()  # closed cleanly: one file
    damage(bob)
    alice_before = journal_files(demo, "alice")
    bob_before = journal_files(demo, "bob")
    out = demo / "out.jsonl"
    for args in (["export", "--out", str(out)], ["agreement"], ["status"],
                 ["status", "--check"], ["annotate", "--as", "bob"]):
        r = run_cli(*args, cwd=demo)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr + r.stdout
        said = r.stderr + r.stdout
        assert "bob/journal.db" in said and "damaged" in said, (args, said)
    assert not out.exists() and not out.with_name("out.jsonl.part").exists()
    # status still reports everyone else
    r = run_cli("status", cwd=demo)
    assert re.search(r"^alice\s+3\b", r.stdout, re.M), r.stdout
    # left exactly as they were: the damaged file, and the other annotator's
    assert journal_files(demo, "bob") == bob_before
    assert journal_files(demo, "alice") == alice_before
    # alice works on
    p = Project(demo)
    j = p.store.journal("alice", p.load_schema())
    doc = p.store.document_at(0)
    j.apply(doc.id, doc.last_unit, SOV)
    assert j.verify() == []
    p.close()


def test_status_check_passes_on_sound_journals(demo: Path) -> None:
    r = run_cli("status", "--check", cwd=demo)
    assert r.returncode == 0, r.stderr
    assert "every journal replays to its stored state" in r.stdout


def test_status_check_finds_state_that_events_do_not_give(demo: Path) -> None:
    """Damage SQLite cannot see: a derived row edited behind the journal's back."""
    import sqlite3

    conn = sqlite3.connect(demo / ".annotator" / "journals" / "bob" / "journal.db")
    conn.execute("UPDATE units SET state = json_set(state, '$.note', 'forged') "
                 "WHERE unit = (SELECT min(unit) FROM units)")
    conn.commit()
    conn.close()
    r = run_cli("status", "--check", cwd=demo)
    assert r.returncode == 1
    assert "bob" in r.stdout and "differs from the replayed events" in r.stdout


# --- one session per annotator --------------------------------------------------------

HOLD = textwrap.dedent("""
    import sys, time
    from annotator.project import Project
    j = Project(sys.argv[1]).store.journal(sys.argv[2])
    j.claim()
    print("held", flush=True)
    time.sleep(60)
""")


def test_a_second_session_of_one_annotator_is_refused(demo: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(demo), "alice"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = run_cli("annotate", "--as", "alice", cwd=demo)
        assert r.returncode == 1
        assert "alice is already annotating in this project" in r.stderr
        assert f"pid {holder.pid}" in r.stderr and "Traceback" not in r.stderr
        # another annotator is not held up
        p = Project(demo)
        p.store.journal("bob").claim()
        p.close()
        # the lock is the kernel's: a killed session leaves none behind
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        p = Project(demo)
        j = p.store.journal("alice")
        j.claim()
        j.close()
        p.close()
    finally:
        holder.kill()
        holder.wait(10)


@pytest.mark.tmux
@pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")
def test_second_annotate_in_a_terminal(demo: Path) -> None:
    tmux = Tmux("second")
    try:
        pid = tmux.start(annotator_argv("annotate", "--project", str(demo), "--as", "alice"))
        tmux.wait_for(POSITION, timeout=20)
        r = run_cli("annotate", "--project", str(demo), "--as", "alice")
        assert r.returncode == 1 and "already annotating" in r.stderr
        tmux.send("q")
        assert pid_gone(pid)
        pid = tmux.start(annotator_argv("annotate", "--project", str(demo), "--as", "alice"))
        tmux.wait_for(POSITION, timeout=20)  # free again once the first one quit
        tmux.send("q")
        assert pid_gone(pid)
    finally:
        tmux.close()


# --- labels that left the schema --------------------------------------------------------

def test_a_renamed_label_is_kept_and_reported(demo: Path) -> None:
    schema_src = (ROOT / "schemas" / "framing-devices.yaml").read_text(encoding="utf-8")
    assert "id: sovereignty" in schema_src
    (demo / "schemas").mkdir()
    (demo / "schemas" / "framing-devices.yaml").write_text(
        schema_src.replace("id: sovereignty", "id: national_sovereignty"), encoding="utf-8")
    r = run_cli("validate", "schemas/framing-devices.yaml", cwd=demo)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("status", cwd=demo)
    assert r.returncode == 0
    assert len(re.findall(r"\((alice|bob)\): label devices/sovereignty is not in the schema",
                          r.stdout)) == 6, r.stdout
    out = demo / "e.jsonl"
    assert run_cli("export", "--out", str(out), cwd=demo).returncode == 0
    text = out.read_text(encoding="utf-8")
    assert text.count('"sovereignty"') >= 6  # kept, not dropped
    r = run_cli("validate", str(out), cwd=demo)
    assert r.returncode == 1
    assert "sovereignty" in r.stdout and re.search(r"e\.jsonl:\d+:", r.stdout), r.stdout


async def test_a_removed_label_is_shown_in_the_tui(tmp_path: Path) -> None:
    from annotator.schema import load_schema

    app = make_app(tmp_path)
    screen_doc = app.store.document_at(0)
    app.journal.apply(screen_doc.id, screen_doc.first_unit, SOV)
    app.journal.set_position(screen_doc.id, screen_doc.first_unit)
    src = (ROOT / "schemas" / "framing-devices.yaml").read_text(encoding="utf-8")
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(src.replace("id: sovereignty", "id: national_sovereignty"),
                       encoding="utf-8")
    app.schema = load_schema(renamed)
    app.journal.schema = app.schema
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "Not in the schema" in text and "devices/sovereignty" in text


def test_store_opens_read_only_what_is_not_ours(demo: Path) -> None:
    """A journal we may read but not write (another user's) is never written: not even
    the re-key a rebuilt corpus asks for."""
    bob = demo / ".annotator" / "journals" / "bob" / "journal.db"
    before = journal_files(demo, "bob")
    store = SQLiteStore(demo / ".annotator")
    os.chmod(bob, 0o400)
    try:
        if os.access(bob, os.W_OK):  # root writes whatever the mode
            pytest.skip("running as root: the mode does not stop writes")
        j = store.journal("bob")
        assert j.readonly
        with pytest.raises(StoreError, match="only read here"):
            j.apply(store.document_at(0).id, 1, SOV)
    finally:
        os.chmod(bob, 0o600)
        store.close()
    assert journal_files(demo, "bob") == before


# --- a full disk under the other commands -----------------------------------------------

LIMITED = textwrap.dedent("""
    import resource, sys
    from annotator.cli import main
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    sys.exit(main(sys.argv[2:]))
""")


def limited(limit: int, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI with the kernel refusing to let any file grow past `limit` bytes."""
    return subprocess.run([sys.executable, "-c", LIMITED, str(limit), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_import_on_a_full_disk_stores_nothing(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    big = project / "big.jsonl"
    with big.open("w", encoding="utf-8") as fh:
        for i in range(3000):
            fh.write(json.dumps({"id": f"d{i}", "text": "word " * 200}) + "\n")
    r = limited(2_000_000, "import", "big.jsonl", cwd=project)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "corpus.db" in r.stderr and "nothing was imported" in r.stderr, r.stderr
    assert "disk is full" in r.stderr or "writing to the disk failed" in r.stderr
    r = run_cli("status", cwd=project)
    assert r.returncode == 0 and "0 document(s)" in r.stdout, r.stdout


def test_export_on_a_full_disk_leaves_no_file(demo: Path) -> None:
    p = Project(demo)
    j = p.store.journal("alice", p.load_schema())
    for doc in p.store.iter_documents():
        for unit in range(doc.first_unit, doc.last_unit + 1):
            j.apply(doc.id, unit, {"type": "set_note", "note": "n" * 1000})
            j.apply(doc.id, unit, {"type": "mark_done"})
    p.close()
    size = len(run_cli("export", "--out", "-", cwd=demo).stdout.encode())
    assert size > 80_000
    out = demo / "exports" / "x.jsonl"
    out.parent.mkdir()
    # room for the store's own files (a 32 KiB -shm), not for the export
    r = limited(48_000, "export", "--out", str(out), cwd=demo)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "x.jsonl" in r.stderr and ("large" in r.stderr or "space" in r.stderr), r.stderr
    assert list(out.parent.iterdir()) == []  # neither the file nor its .part


async def test_a_store_failure_under_a_read_ends_the_session_with_a_message(
        tmp_path: Path) -> None:
    app = make_app(tmp_path)

    def damaged(doc_id: str) -> dict:
        raise StoreError("this store file is damaged (test)", app.journal.path)

    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.journal.states = damaged
        app.simulate_key("right_square_bracket")
        for _ in range(100):  # the app closes its queues: wait, without pilot's waits
            if app.store_failure is not None:
                break
            await asyncio.sleep(0.02)
    assert app.return_code == 1
    assert app.store_failure is not None and "damaged" in str(app.store_failure)


@contextlib.contextmanager
def small_disk(where: Path, size: str = "4m"):
    """A real file system of `size` (tmpfs), where a full disk is ENOSPC itself.
    Needs the right to mount (root in a container that allows it); else skipped."""
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(path: Path, leave: int = 0) -> None:
    """Fill the file system holding `path` up, then free `leave` bytes."""
    with open(path, "wb", buffering=0) as fh, contextlib.suppress(OSError):
        while True:  # unbuffered: nothing is left to fail when the file closes
            fh.write(b"\0" * 65536)
    if leave:
        os.truncate(path, max(0, path.stat().st_size - leave))


@pytest.mark.tmux
@pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")
def test_a_really_full_disk_in_a_terminal(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "8m") as disk:
        project = demo_project(disk / "proj")
        filler = disk / "filler"
        fill(filler, leave=1024 * 1024)  # room to open the journal and a few actions
        tmux = Tmux("enospc")
        try:
            pid = tmux.start(annotator_argv("annotate", "--project", str(project),
                                            "--as", "erin"))
            tmux.wait_for(POSITION, timeout=20)
            shown, screen = toggle_until_not_saved(tmux)
            assert "NOT SAVED" in screen and "disk is full" in screen, screen
            assert ("[x] Sover" in screen) == (shown % 2 == 1)  # the failed one not shown
            filler.unlink()  # space again
            tmux.send("s")
            screen = tmux.wait_for(lambda s: "NOT SAVED" not in s, timeout=10)
            assert ("[x] Sover" in screen) == (shown % 2 == 0)
            tmux.send("q")
            assert pid_gone(pid)
        finally:
            tmux.close()
        assert_journal_holds(project, "erin", shown + 1)


def test_verify_checks_spans_too(demo: Path) -> None:
    """An add_span event whose stored result has other offsets than the action's is
    found by the replay (only the quoted text may differ: the paragraph was re-imported)."""
    import sqlite3

    p = Project(demo)
    j = p.store.journal("alice", p.load_schema())
    doc = p.store.document_at(0)
    j.apply(doc.id, doc.first_unit, {"type": "add_span", "layer": "quotes", "label": "quote",
                                     "start": 0, "end": 3})
    assert j.verify() == []
    p.close()
    conn = sqlite3.connect(demo / ".annotator" / "journals" / "alice" / "journal.db")
    conn.execute("UPDATE events SET after = json_set(after, '$.spans[0].end', 4) "
                 "WHERE seq = (SELECT max(seq) FROM events)")
    conn.commit()
    conn.close()
    p = Project(demo)
    found = p.store.journal("alice").verify()
    p.close()
    assert any("add_span" in f for f in found), found

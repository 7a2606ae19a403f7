"""What the store reads from `.annotator/` that is not what it should be (a FIFO, a
symlink, a hard link, an odd name), the older flat journal layout, a killed export, and
paths that once gave a traceback. No other users needed (tests/test_team.py has them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from util import REPO

from annotator.errors import StoreError
from annotator.project import Project

SOV = {"type": "toggle_label", "layer": "devices", "label": "sovereignty"}


def run_cli(*argv: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "annotator", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture
def demo(project: Path) -> Path:
    import shutil

    shutil.copytree(REPO / "corpora" / "demo", project / "corpora" / "demo")
    (project / "annotator.yaml").write_text("corpus:\n  - corpora/demo\n", encoding="utf-8")
    p = Project(project)
    from annotator.importer import import_paths

    import_paths(p.store, [project / "corpora" / "demo"], project)
    j = p.store.journal("alice", p.load_schema())
    doc = p.store.document_at(0)
    for unit in range(doc.first_unit, doc.first_unit + 3):
        j.apply(doc.id, unit, SOV)
        j.apply(doc.id, unit, {"type": "mark_done"})
    p.close()
    return project


def test_the_flat_layout_of_earlier_versions_is_moved_and_kept(demo: Path) -> None:
    journals = demo / ".annotator" / "journals"
    (journals / "alice" / "journal.db").rename(journals / "alice.db")
    (journals / "alice").rmdir()
    (journals / "alice.lock").write_text("pid 1\n")
    p = Project(demo)
    j = p.store.journal("alice")
    assert j.path == journals / "alice" / "journal.db"
    assert j.done_count() == 3
    p.close()
    assert sorted(os.listdir(journals)) == ["alice"]


def test_a_foreign_side_file_stops_the_move(demo: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("another owner needs root")
    journals = demo / ".annotator" / "journals"
    (journals / "alice" / "journal.db").rename(journals / "alice.db")
    (journals / "alice").rmdir()
    planted = journals / "alice.db-journal"
    planted.write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + bytes(504))  # a hot journal
    os.chown(planted, 12345, -1)
    before = (journals / "alice.db").read_bytes()
    r = run_cli("status", cwd=demo)
    assert r.returncode == 1 and "alice.db-journal" in r.stdout + r.stderr
    assert "rolled back" in r.stdout + r.stderr or "roll it back" in r.stdout + r.stderr
    assert (journals / "alice.db").read_bytes() == before


def test_fifos_links_and_odd_names_in_journals_are_skipped(demo: Path) -> None:
    journals = demo / ".annotator" / "journals"
    os.mkfifo(journals / "fifo.db")
    os.mkfifo(journals / "pipe")
    (journals / "bad name.db").write_bytes(b"")
    os.symlink("alice", journals / "zed")
    os.symlink("alice/journal.db", journals / "zed2.db")
    r = run_cli("status", cwd=demo, timeout=30)
    assert "Traceback" not in r.stderr
    assert r.stdout.count("\nalice ") == 1, r.stdout  # not counted again as zed
    for needle in ("bad name.db", "zed", "zed2.db", "fifo.db"):
        assert needle in r.stdout, (needle, r.stdout)
    # a hard link: neither name is taken for a journal (which is the real one?)
    os.mkdir(journals / "hard")
    os.link(journals / "alice" / "journal.db", journals / "hard" / "journal.db")
    r = run_cli("status", cwd=demo, timeout=30)
    assert r.returncode == 1 and r.stdout.count("hard links") == 2, r.stdout
    r = run_cli("export", "--out", "-", cwd=demo, timeout=30)
    assert r.returncode == 1 and "hard links" in r.stderr  # never a half-counted export
    assert "Traceback" not in r.stderr
    os.unlink(journals / "hard" / "journal.db")
    os.rmdir(journals / "hard")
    r = run_cli("export", "--out", "-", cwd=demo, timeout=30)
    assert r.returncode == 0 and r.stdout.count('"annotator"') == 3, r.stderr


def test_a_fifo_at_a_journal_or_corpus_name_hangs_nothing(demo: Path) -> None:
    journals = demo / ".annotator" / "journals"
    os.mkfifo(journals / "bob")
    p = Project(demo)
    with pytest.raises(StoreError, match="FIFO"):
        p.store.journal("bob")
    p.close()
    os.rename(demo / ".annotator" / "corpus.db", demo / "corpus.aside")
    os.mkfifo(demo / ".annotator" / "corpus.db")
    r = run_cli("status", cwd=demo, timeout=30)
    assert r.returncode == 1 and "corpus.db" in r.stderr and "FIFO" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_a_symlink_planted_at_the_journal_is_never_followed(demo: Path, tmp_path: Path
                                                             ) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    d = demo / ".annotator" / "journals" / "carol"
    d.mkdir()
    os.symlink(victim, d / "journal.db")
    p = Project(demo)
    with pytest.raises(StoreError, match="symbolic link"):
        p.store.journal("carol")
    p.close()
    assert victim.read_bytes() == b"precious"


def test_a_killed_export_leaves_no_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "out" / "x.jsonl"
    code = f"""
import sys, time
from pathlib import Path
from annotator.export import write_export_file, Killed
def slow():
    yield {{"a": 1}}
    print("writing", flush=True)
    time.sleep(60)
    yield {{"a": 2}}
try:
    write_export_file(slow(), Path({str(out)!r}))
except Killed as exc:
    sys.exit(128 + exc.signum)
"""
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.stdout.readline().strip() == "writing"
        time.sleep(0.1)
        assert any(p.name.endswith(".part") for p in out.parent.iterdir())
        proc.send_signal(sig)
        proc.wait(timeout=30)
        assert proc.returncode != 0
        assert list(out.parent.iterdir()) == [], sig


def test_export_to_a_named_device_still_writes_through(demo: Path) -> None:
    r = run_cli("export", "--out", "/dev/stdout", cwd=demo)
    assert r.returncode == 0 and r.stdout.count('"annotator":"alice"') == 3, r.stderr


def test_paths_that_gave_tracebacks(tmp_path: Path) -> None:
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    r = run_cli("status", "--project", str(tmp_path / "loop1"), cwd=tmp_path)
    assert r.returncode == 1 and "loop1" in r.stderr and "Traceback" not in r.stderr
    os.mkfifo(tmp_path / "s.yaml")
    r = run_cli("validate", str(tmp_path / "s.yaml"), cwd=tmp_path, timeout=20)
    assert r.returncode == 1 and "not a regular file" in r.stdout, r.stdout + r.stderr
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / os.fsdecode(b"caf\xe9.txt")).write_text("Title\n\nBody.\n")
    r = run_cli("import", str(corpus), cwd=tmp_path)
    assert r.returncode == 0 and "1 new" in r.stderr, r.stderr
    r = run_cli("annotate", str(corpus), "--as", "x", cwd=tmp_path, timeout=5) if False else r
    assert "Traceback" not in r.stderr


def test_a_group_writable_project_without_a_team_is_warned_about(demo: Path) -> None:
    os.chmod(demo, 0o2770)
    r = run_cli("status", cwd=demo)
    assert r.returncode == 0 and "no team: section" in r.stderr, r.stderr

"""A team on one server: the permissions the tool gives what it creates.

A project shared by group permissions alone (no team: section, the older set-up: the
directory owned by the group and setgid). Then `.annotator/` and `journals/` inherit
the group, `journals/` is sticky, the corpus database is group-writable, and each
journal is in its annotator's own directory: owner-only while annotation is blind,
group-readable once the project says `blind: false` and its annotator has run any
command. The team set-up (`annotator team init`) is tests/test_team.py.

The cross-user test runs real processes as two unprivileged users (it needs root to
become them; it is skipped otherwise).
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from util import REPO

from annotator import cli
from annotator.project import Project

SOV = {"type": "toggle_label", "layer": "devices", "label": "sovereignty"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def make_project(base: Path, shared: bool, blind: bool | None = None) -> Path:
    project = base / "proj"
    project.mkdir()
    shutil.copytree(REPO / "corpora" / "demo", project / "corpora" / "demo")
    cfg = "corpus:\n  - corpora/demo\n"
    if blind is not None:
        cfg += f"blind: {'true' if blind else 'false'}\n"
    (project / "annotator.yaml").write_text(cfg, encoding="utf-8")
    os.chmod(project, 0o2770 if shared else 0o755)
    return project


def annotate_some(project: Path, name: str, n: int = 2) -> Path:
    p = Project(project)
    j = p.store.journal(name, p.load_schema())
    j.claim()
    doc = p.store.document_at(0)
    for unit in range(doc.first_unit, doc.first_unit + n):
        j.apply(doc.id, unit, SOV)
    path = j.path
    p.close()
    return path


def test_a_personal_project_keeps_journals_private(tmp_path: Path) -> None:
    project = make_project(tmp_path, shared=False)
    assert cli.main(["import", "corpora/demo", "--project", str(project)]) == 0
    journal = annotate_some(project, "alice")
    assert mode(journal) == 0o600
    assert not (mode(project / ".annotator") & stat.S_ISGID)


def test_a_shared_project_gives_the_team_what_it_needs(tmp_path: Path) -> None:
    project = make_project(tmp_path, shared=True)
    assert cli.main(["import", "corpora/demo", "--project", str(project)]) == 0
    group = project.stat().st_gid
    store = project / ".annotator"
    assert mode(store) == 0o2770
    assert mode(store / "journals") == 0o3770  # setgid and sticky
    assert mode(store / "corpus.db") == 0o660
    journal = annotate_some(project, "alice")
    assert mode(journal) == 0o600  # blind by default
    for p in (store, store / "journals", store / "corpus.db", journal):
        assert p.stat().st_gid == group, p
    # -wal / -shm take the database's mode: while a session is open they exist
    p = Project(project)
    j = p.store.journal("alice")
    j.claim()
    j.apply(p.store.document_at(0).id, 1, SOV)
    for suffix in ("-wal", "-shm"):
        f = journal.with_name(journal.name + suffix)
        assert f.exists() and mode(f) == 0o600, suffix
    p.close()


def test_blind_false_shares_a_journal_on_its_owners_next_command(tmp_path: Path) -> None:
    project = make_project(tmp_path, shared=True)
    assert cli.main(["import", "corpora/demo", "--project", str(project)]) == 0
    journal = annotate_some(project, "alice")
    assert mode(journal) == 0o600
    (project / "annotator.yaml").write_text("corpus:\n  - corpora/demo\nblind: false\n",
                                            encoding="utf-8")
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["status", "--project", str(project)]) == 0
    assert mode(journal) == 0o640


def test_blind_must_be_a_boolean(tmp_path: Path) -> None:
    project = make_project(tmp_path, shared=False)
    (project / "annotator.yaml").write_text("blind: maybe\n", encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.main(["validate", str(project / "annotator.yaml")]) == 1
    assert err.getvalue() == ""  # validate prints problems on stdout


# --- two real users --------------------------------------------------------------------

TEAM_GID = 100  # "users" on Debian; any group works, the test only needs a number
ALICE, BOB = 50001, 50002


def become(uid: int) -> None:
    """In a forked child: be `uid`, in the team's group only."""
    os.setgroups([TEAM_GID])
    os.setgid(TEAM_GID)
    os.setuid(uid)


def as_user(uid: int, fn: Callable[[], object]) -> object:
    """Run `fn` in a forked child that has become `uid` (in the team's group only) and
    return what it returned, or raise what it raised. Forked, not exec'd: the
    interpreter may live where unprivileged users cannot read (e.g. /root)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(r)
        try:
            become(uid)
            os.umask(0o022)  # a common default: the tool must not depend on it
            result: object = ("ok", fn())
        except BaseException as exc:  # noqa: BLE001 - sent to the parent
            result = ("error", repr(exc))
        with os.fdopen(w, "wb") as fh:
            pickle.dump(result, fh)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind == "error":
        raise AssertionError(f"as uid {uid}: {value}")
    return value


def start_as_user(uid: int, fn: Callable[[], object], until: Callable[[], object]
                  ) -> tuple[int, int]:
    """Like as_user, but the child runs `fn`, reports, and then waits (for a byte on
    the returned pipe) before it runs `until`: a session that stays open."""
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(r)
        os.close(go_w)
        try:
            become(uid)
            fn()
            os.write(w, b"ready")
            os.read(go_r, 1)
            until()
            os.write(w, b"done")
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(w, repr(exc).encode()[:500])
        os._exit(0)
    os.close(w)
    os.close(go_r)
    assert os.read(r, 500) == b"ready"
    return pid, (r, go_w)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming two other users needs root")
def test_two_annotators_on_one_server() -> None:
    base = Path(tempfile.mkdtemp(prefix="annotator-team-"))
    try:
        os.chmod(base, 0o755)
        project = make_project(base, shared=True)
        for dirpath, dirnames, filenames in os.walk(project):
            for name in [*dirnames, *filenames, "."]:
                os.chown(os.path.join(dirpath, name), 0, TEAM_GID)
        # the lead imports; every command runs once here so that the children need
        # no module they have not got (they may not be able to read the interpreter's)
        assert run("import", "corpora/demo", "--project", str(project))[0] == 0
        assert run("status", "--project", str(project))[0] == 0
        assert run("export", "--out", str(base / "warm.jsonl"), "--project", str(project))[0] == 0
        assert run("agreement", "--project", str(project), "--bootstrap", "10")[0] == 0
        journals = project / ".annotator" / "journals"
        alice_db = journals / "alice" / "journal.db"

        # alice annotates: her journal is hers alone
        as_user(ALICE, lambda: annotate_some(project, "alice", 3) and None)
        st = alice_db.stat()
        assert (st.st_uid, st.st_gid, mode(alice_db)) == (ALICE, TEAM_GID, 0o600)

        def bob_while_blind() -> dict:
            out: dict = {"can_read": os.access(alice_db, os.R_OK)}
            for attempt in ("unlink", "rename"):
                try:
                    if attempt == "unlink":
                        os.unlink(alice_db)
                    else:
                        os.rename(alice_db, journals / "stolen.db")
                    out[attempt] = "done"
                except PermissionError:
                    out[attempt] = "refused"
            out["status"] = run("status", "--project", str(project))
            out["export"] = run("export", "--out", str(project / "b.jsonl"),
                                "--project", str(project))
            annotate_some(project, "bob", 2)
            return out

        seen = as_user(BOB, bob_while_blind)
        assert not seen["can_read"]
        assert seen["unlink"] == seen["rename"] == "refused"  # the sticky journals/
        code, out, _ = seen["status"]
        assert code == 0 and "private (blind annotation" in out and "alice" in out
        code, _, err = seen["export"]
        assert code == 1 and "blind" in err and "alice" in err and "Traceback" not in err
        assert not (project / "b.jsonl").exists()
        assert mode(journals / "bob" / "journal.db") == 0o600

        # the round is over: the lead opens the journals; each annotator's next command
        # shares theirs
        (project / "annotator.yaml").write_text("corpus:\n  - corpora/demo\nblind: false\n",
                                                encoding="utf-8")
        as_user(ALICE, lambda: run("status", "--project", str(project)))
        as_user(BOB, lambda: run("status", "--project", str(project)))
        assert mode(alice_db) == mode(journals / "bob" / "journal.db") == 0o640

        def bob_exports() -> tuple[int, str, str]:
            return run("export", "--out", str(project / "b.jsonl"), "--project", str(project))

        code, _, err = as_user(BOB, bob_exports)
        assert code == 0, err
        text = (project / "b.jsonl").read_text(encoding="utf-8")
        assert '"annotator":"alice"' in text and '"annotator":"bob"' in text
        # bob's reading left nothing that locks alice out of her own journal
        as_user(ALICE, lambda: annotate_some(project, "alice", 4) and None)
        assert alice_db.stat().st_uid == ALICE
        for f in (journals / "alice").iterdir():
            assert f.stat().st_uid == ALICE, f

        # alice is annotating (her journal in WAL mode, -wal/-shm open) while bob
        # exports: bob reads it read-only and alice goes on writing
        session: dict = {}

        def alice_opens() -> None:
            p = Project(project)
            j = p.store.journal("alice", p.load_schema())
            j.claim()
            j.apply(p.store.document_at(1).id, 1, SOV)
            session.update(p=p, j=j)

        def alice_goes_on() -> None:
            j = session["j"]
            j.apply(session["p"].store.document_at(1).id, 2, SOV)
            assert j.verify() == []
            session["p"].close()

        pid, (r, go) = start_as_user(ALICE, alice_opens, alice_goes_on)
        try:
            assert alice_db.with_name("journal.db-wal").exists()
            code, _, err = as_user(BOB, bob_exports)
            assert code == 0, err
            text = (project / "b.jsonl").read_text(encoding="utf-8")
            assert text.count('"annotator":"alice"') == 5  # 4 units + the open session's
            os.write(go, b"x")
            assert os.read(r, 500) == b"done"
        finally:
            with contextlib.suppress(OSError):
                os.write(go, b"x")  # never leave the child waiting
            os.waitpid(pid, 0)
    finally:
        shutil.rmtree(base, ignore_errors=True)

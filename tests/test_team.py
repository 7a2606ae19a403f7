"""A team on one server, attacked as a hostile group member would: real Unix users
(made here with useradd, removed at the end), real symlinks, FIFOs, hard links and
renames, the real entry point run as each user with `runuser`.

Each test passes only when the attack fails: the read or write is actually attempted
and denied, the victim's file is byte-identical, and the victim can still save.
Needs root (CI runs as root); skipped otherwise. See docs/team.md for the table.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from util import REPO

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd"),
                                reason="real users need root and useradd")

PY = sys.executable
TAG = "annt" + secrets.token_hex(2)
ROLES = ("lead", "alice", "bob", "carol", "cur")


def login(role: str) -> str:
    return f"{TAG}{role}"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Users:
    def __init__(self, base: Path):
        self.base = base

    def env(self, role: str) -> dict[str, str]:
        home = self.base / "home" / role
        return {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
                "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPATH": str(REPO)}

    def run(self, role: str, *argv: str, cwd: Path | None = None, timeout: float = 60,
            py: bool = False) -> subprocess.CompletedProcess:
        """`annotator ARGV` (or `python -c ARGV[0]`) as `role`, with runuser."""
        cmd = [PY, "-c", argv[0], *argv[1:]] if py else [PY, "-m", "annotator", *argv]
        env = " ".join(f"{k}={v}" for k, v in self.env(role).items())
        return subprocess.run(["runuser", "-u", login(role), "--", "env", "-i",
                               *env.split(" "), *cmd], cwd=cwd or self.base,
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def users() -> Iterator[Users]:
    base = Path(tempfile.mkdtemp(prefix=f"{TAG}-"))
    os.chmod(base, 0o755)
    # The interpreter may live under a 0700 /root: let the test users traverse it for
    # this run (not list it), and put the mode back after.
    changed: list[tuple[str, int]] = []
    d = os.path.dirname(os.path.realpath(PY))
    while d != "/":
        m = stat.S_IMODE(os.stat(d).st_mode)
        if not m & 0o001:
            changed.append((d, m))
            os.chmod(d, m | 0o001)
        d = os.path.dirname(d)
    for g in ("team", "cur"):
        subprocess.run(["groupadd", f"{TAG}{g}"], check=True)
    try:
        (base / "home").mkdir()
        for role in ROLES:
            groups = [f"{TAG}team"] + ([f"{TAG}cur"] if role in ("lead", "cur") else [])
            subprocess.run(["useradd", "-M", "-N", "-g", "users", "-G", ",".join(groups),
                            "-d", str(base / "home" / role), "-s", "/bin/sh", login(role)],
                           check=True)
            (base / "home" / role).mkdir()
            shutil.chown(base / "home" / role, login(role))
            os.chmod(base / "home" / role, 0o700)
        yield Users(base)
    finally:
        for role in ROLES:
            subprocess.run(["userdel", login(role)], capture_output=True)
        for g in ("team", "cur"):
            subprocess.run(["groupdel", f"{TAG}{g}"], capture_output=True)
        for d, m in changed:
            os.chmod(d, m)
        shutil.rmtree(base, ignore_errors=True)


TEAM_YAML = f"""\
schema: schemas/framing-devices.yaml
corpus:
  - corpora/demo
team:
  lead: {login('lead')}
  annotators:
    alice: {login('alice')}
    bob: {login('bob')}
    bob2: {login('bob')}
    carol: {login('carol')}
    cur: {login('cur')}
  curators: [cur]
"""

# alice labels the first three paragraphs of the first document, in a session
ANNOTATE = """
import sys
from annotator.project import Project
p = Project(sys.argv[1])
j = p.store.journal(sys.argv[2], p.load_schema())
j.claim()
doc = p.store.document_at(0)
for unit in range(doc.first_unit, doc.first_unit + int(sys.argv[3])):
    j.apply(doc.id, unit, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"})
    j.apply(doc.id, unit, {"type": "mark_done"})
p.close()
print("saved")
"""


@pytest.fixture(scope="module")
def pristine(users: Users) -> Path:
    """A team project set up as README says: the lead's, `team init`, imported, and
    alice's blind work in it."""
    proj = users.base / "pristine"
    proj.mkdir()
    shutil.copytree(REPO / "corpora" / "demo", proj / "corpora" / "demo")
    (proj / "schemas").mkdir()
    shutil.copy(REPO / "schemas" / "framing-devices.yaml", proj / "schemas")
    (proj / "annotator.yaml").write_text(TEAM_YAML, encoding="utf-8")
    subprocess.run(["chown", "-R", login("lead"), str(proj)], check=True)
    r = users.run("lead", "team", "init", "--group", f"{TAG}team", "--curators-group",
                  f"{TAG}cur", "--project", str(proj))
    assert r.returncode == 0, r.stderr
    r = users.run("lead", "import", "corpora/demo", cwd=proj)
    assert r.returncode == 0, r.stderr
    r = users.run("alice", ANNOTATE, str(proj), "alice", "3", py=True)
    assert r.returncode == 0 and "saved" in r.stdout, r.stderr
    return proj


@pytest.fixture
def proj(users: Users, pristine: Path, request) -> Path:
    """A copy of the pristine project (owners and modes kept) for one test."""
    dest = users.base / f"p-{request.node.name[:40]}"
    subprocess.run(["cp", "-a", str(pristine), str(dest)], check=True)
    return dest


def alice_journal(proj: Path) -> Path:
    return proj / ".annotator" / "journals" / "alice" / "journal.db"


def alice_can_save(users: Users, proj: Path) -> None:
    r = users.run("alice", ANNOTATE, str(proj), "alice", "4", py=True)
    assert r.returncode == 0 and "saved" in r.stdout, r.stderr


def attempt(users: Users, role: str, code: str, *args: str) -> str:
    """Run python `code` as `role`; it prints what happened (e.g. 'denied')."""
    r = users.run(role, code, *args, py=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


TRY = """
import os, sys
def t(fn):
    try:
        fn()
        return "done"
    except PermissionError:
        return "denied"
    except OSError as exc:
        return type(exc).__name__
"""


# --- the set-up ----------------------------------------------------------------------

def test_team_init_makes_what_the_project_trusts_the_leads(users: Users, pristine: Path):
    lead = pwd.getpwnam(login("lead")).pw_uid
    team_gid = grp.getgrnam(f"{TAG}team").gr_gid
    cur_gid = grp.getgrnam(f"{TAG}cur").gr_gid
    for p in (pristine, pristine / "annotator.yaml", pristine / "schemas" /
              "framing-devices.yaml", pristine / ".annotator", pristine / ".annotator" /
              "corpus.db"):
        st = os.lstat(p)
        assert st.st_uid == lead and not st.st_mode & 0o022, p
    j = os.lstat(pristine / ".annotator" / "journals")
    assert (j.st_uid, j.st_gid, stat.S_IMODE(j.st_mode)) == (lead, cur_gid, 0o3773)
    d = os.lstat(alice_journal(pristine).parent)
    f = os.lstat(alice_journal(pristine))
    alice = pwd.getpwnam(login("alice")).pw_uid
    assert (d.st_uid, d.st_gid, stat.S_IMODE(d.st_mode)) == (alice, cur_gid, 0o2750)
    assert (f.st_uid, f.st_gid, stat.S_IMODE(f.st_mode)) == (alice, cur_gid, 0o640)
    assert os.lstat(pristine / "exports").st_gid == team_gid
    r = users.run("lead", "team", "status", cwd=pristine)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "alice" in r.stdout and login("alice") in r.stdout and "no problems" in r.stdout


def test_team_init_refuses_a_group_the_lead_is_not_in(users: Users, proj: Path):
    subprocess.run(["groupadd", f"{TAG}x"], check=True)
    try:
        r = users.run("lead", "team", "init", "--group", f"{TAG}x", cwd=proj)
        assert r.returncode == 1 and "not in group" in r.stderr, r.stderr
        r = users.run("alice", "team", "init", "--group", f"{TAG}team", cwd=proj)
        assert r.returncode == 1 and "as the lead" in r.stderr, r.stderr
    finally:
        subprocess.run(["groupdel", f"{TAG}x"], capture_output=True)


# --- blind: no route to another's journal ------------------------------------------------

def test_bob_cannot_read_alice_while_blind(users: Users, proj: Path):
    j = alice_journal(proj)
    before = digest(j)
    out = attempt(users, "bob", TRY + """
import sqlite3
print(t(lambda: open(sys.argv[1], "rb").read()))
print(t(lambda: os.listdir(os.path.dirname(sys.argv[1]))))
print(t(lambda: os.listdir(os.path.dirname(os.path.dirname(sys.argv[1])))))
def q():
    sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True).execute(
        "SELECT count(*) FROM events").fetchone()
try:
    q(); print("done")
except sqlite3.Error:
    print("denied")
""", str(j))
    assert out.split() == ["denied"] * 4
    r = users.run("bob", "export", "--out", str(users.base / "bob.jsonl"), cwd=proj)
    assert r.returncode == 1 and "blind" in r.stderr and "alice" in r.stderr
    assert "Traceback" not in r.stderr
    r = users.run("bob", "status", cwd=proj)
    assert r.returncode == 0 and "private" in r.stdout and "alice" in r.stdout, r.stdout
    assert digest(j) == before
    # the curator reads every journal during the round
    r = users.run("cur", "export", "--out", "-", cwd=proj)
    assert r.returncode == 0 and r.stdout.count('"annotator":"alice"') == 3, r.stderr
    alice_can_save(users, proj)


def test_bob_cannot_unblind_by_editing_or_replacing_settings(users: Users, proj: Path):
    cfg = proj / "annotator.yaml"
    before = digest(cfg)
    out = attempt(users, "bob", TRY + """
p = sys.argv[1]
print(t(lambda: open(p, "a").write("blind: false\\n")))
print(t(lambda: os.rename(p, p + ".old")))
print(t(lambda: open(os.path.join(os.path.dirname(p), "x.yaml"), "w")))
print(t(lambda: os.rename(os.path.dirname(p) + "/.annotator", os.path.dirname(p) + "/aside")))
print(t(lambda: open(os.path.dirname(p) + "/.annotator/corpus.db", "r+b")))
print(t(lambda: os.rename(os.path.dirname(p) + "/.annotator/journals",
                          os.path.dirname(p) + "/.annotator/j2")))
""", str(cfg))
    assert out.split() == ["denied"] * 6
    assert digest(cfg) == before
    # and the lead's own mistake (a group-writable settings file) is refused by name
    os.chmod(cfg, 0o660)
    r = users.run("alice", "status", cwd=proj)
    assert r.returncode == 1 and "annotator.yaml" in r.stderr and "writable" in r.stderr
    assert "Traceback" not in r.stderr
    r = users.run("lead", "team", "status", cwd=proj)
    assert r.returncode == 1
    os.chmod(cfg, 0o640)


def test_a_forged_parse_cache_entry_has_no_effect(users: Users, proj: Path):
    """The cache once shared in `.annotator/cache/` could say `blind: false` for the
    unchanged settings. Now each user's own: bob can write none into the project, and
    an entry in alice's cache that she did not write is never read."""
    from annotator.parse_cache import ParseCache

    raw = (proj / "annotator.yaml").read_bytes()
    forged = ParseCache(Path("/nowhere"), "config")._path(raw).name
    out = attempt(users, "bob", TRY + """
os.makedirs(sys.argv[1], exist_ok=True) if False else None
print(t(lambda: open(os.path.join(sys.argv[1], sys.argv[2]), "w")))
""", str(proj / ".annotator" / "cache"), forged)
    assert out in ("denied", "FileNotFoundError")
    # plant it in alice's cache, owned by bob (as root could, or a careless chown)
    cache = users.base / "home" / "alice" / ".cache" / "annotator" / "parse"
    import json

    entry = cache / forged
    entry.write_text(json.dumps({"schema": "schemas/framing-devices.yaml",
                                 "corpus": ["corpora/demo"], "exports": "exports",
                                 "blind": False, "team": None}))
    os.chown(entry, pwd.getpwnam(login("bob")).pw_uid, -1)
    j = alice_journal(proj)
    mode_before = (os.lstat(j).st_gid, stat.S_IMODE(os.lstat(j).st_mode))
    r = users.run("alice", "status", cwd=proj)
    assert r.returncode == 0, r.stderr
    # not unblinded: the journal stays the curators' group's, not shared with the team
    assert (os.lstat(j).st_gid, stat.S_IMODE(os.lstat(j).st_mode)) == mode_before
    out = attempt(users, "bob", TRY + "print(t(lambda: open(sys.argv[1], 'rb').read()))",
                  str(j))
    assert out == "denied"


def test_a_planted_wal_symlink_in_another_project_chmods_nothing(users: Users, proj: Path):
    """bob makes a project of his own with `journals/alice.db-wal` (old layout) and
    `journals/alice/journal.db-wal` pointing at alice's blind journal; alice's status
    there must not chmod (or write) it."""
    j = alice_journal(proj)
    before = (digest(j), os.lstat(j).st_mode, os.lstat(j).st_gid)
    evil = users.base / "bobs-project"
    evil.mkdir()
    shutil.chown(evil, login("bob"))
    code = """
import os, sys, shutil
evil, target = sys.argv[1], sys.argv[2]
os.makedirs(evil + "/.annotator/journals/alice", exist_ok=True)
open(evil + "/annotator.yaml", "w").write("blind: false\\n")
os.chmod(evil, 0o777)
for d in (evil + "/.annotator", evil + "/.annotator/journals"):
    os.chmod(d, 0o777)
os.symlink(target, evil + "/.annotator/journals/alice.db-wal")
os.symlink(target, evil + "/.annotator/journals/alice.db")
os.symlink(target, evil + "/.annotator/journals/alice/journal.db-wal")
os.symlink(target, evil + "/.annotator/journals/alice/journal.db")
print("planted")
"""
    assert attempt(users, "bob", code, str(evil), str(j)) == "planted"
    r = users.run("bob", "import", str(proj / "corpora" / "demo"), "--project", str(evil))
    assert r.returncode == 0, r.stderr
    for argv in (["status"], ["export", "--out", "-"]):
        r = users.run("alice", *argv, "--project", str(evil))
        assert "Traceback" not in r.stderr
        said = r.stdout + r.stderr
        assert "symbolic link" in said, said
    assert (digest(j), os.lstat(j).st_mode, os.lstat(j).st_gid) == before
    alice_can_save(users, proj)


def test_export_never_writes_through_a_planted_part_symlink(users: Users, proj: Path):
    victim = users.base / "victim-of-export"
    victim.write_text("precious\n")
    out = proj / "exports" / "round1.jsonl"
    assert attempt(users, "bob", "import os, sys; os.symlink(sys.argv[1], sys.argv[2]); "
                   "print('planted')", str(victim), str(out) + ".part") == "planted"
    # root exports (it reads every journal): the export lands, the victim is untouched
    r = subprocess.run([PY, "-m", "annotator", "export", "--out", str(out)], cwd=proj,
                       capture_output=True, text=True, env={**os.environ,
                                                           "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "precious\n"
    assert out.read_text().count('"annotator":"alice"') == 3
    assert [p.name for p in out.parent.iterdir() if p.name.endswith(".part")] == [
        "round1.jsonl.part"]  # bob's link, left alone; no temporary file of ours


def test_no_reader_leaves_a_file_that_locks_alice_out(users: Users, proj: Path):
    """Unblinded, bob reads alice's journal (in a session of hers and after it): he can
    create nothing beside it, and alice saves afterwards."""
    cfg = proj / "annotator.yaml"
    cfg.write_text(cfg.read_text().replace("corpus:", "blind: false\ncorpus:"))
    for role in ("alice", "bob", "carol", "cur"):
        users.run(role, "status", cwd=proj)  # each owner's next command shares theirs
    holder = subprocess.Popen(
        ["runuser", "-u", login("alice"), "--", "env", "-i",
         *(f"{k}={v}" for k, v in users.env("alice").items()), PY, "-c", ANNOTATE.replace(
             "p.close()", "print('open', flush=True); sys.stdin.readline(); p.close()"),
         str(proj), "alice", "2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        r = users.run("bob", "export", "--out", "-", cwd=proj)
        assert r.returncode == 0 and r.stdout.count('"annotator":"alice"') == 3, r.stderr
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0
    for _ in range(2):
        r = users.run("bob", "export", "--out", "-", cwd=proj)
        assert r.returncode == 0, r.stderr
        r = users.run("bob", "status", cwd=proj)
        assert r.returncode == 0, r.stderr
    alice = pwd.getpwnam(login("alice")).pw_uid
    d = alice_journal(proj).parent
    assert {f.stat().st_uid for f in d.iterdir()} == {alice}
    out = attempt(users, "bob", TRY + """
print(t(lambda: open(os.path.join(sys.argv[1], "journal.db-wal"), "x")))
print(t(lambda: open(os.path.join(sys.argv[1], "journal.db-journal"), "x")))
print(t(lambda: open(os.path.join(sys.argv[1], "lock"), "r")))
""", str(d))
    assert out.split() == ["denied"] * 3
    alice_can_save(users, proj)


# `annotate` up to the screen (which needs a terminal): what it imports and opens
NO_TUI = """
import sys
import annotator.tui.app as app
app.run_app = lambda *a, **k: print("tui") or 0
from annotator import cli
sys.exit(cli.main(sys.argv[1:]))
"""

HOT_JOURNAL = """
import os, shutil, sqlite3, sys
# bob crafts a hot rollback journal whose "original" pages are an empty journal of his
work = sys.argv[1]
db = os.path.join(work, "evil.db")
c = sqlite3.connect(db, isolation_level=None)
c.execute("PRAGMA journal_mode=DELETE")
c.execute("PRAGMA cache_size=1")
c.execute("CREATE TABLE events (x)")
c.execute("CREATE TABLE filler (x)")
c.execute("INSERT INTO filler SELECT randomblob(3000) FROM generate_series(1, 50)"
          if False else "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n "
          "WHERE i < 50) INSERT INTO filler SELECT randomblob(3000) FROM n")
c.execute("BEGIN")
c.execute("UPDATE filler SET x = randomblob(3000)")
c.execute("DELETE FROM filler")
shutil.copy(db + "-journal", os.path.join(work, "hot-journal"))
os._exit(0)
"""


def test_a_planted_hot_journal_cannot_roll_back_into_alices(users: Users, proj: Path):
    work = users.base / "bob-work"
    work.mkdir(exist_ok=True)
    shutil.chown(work, login("bob"))
    r = users.run("bob", HOT_JOURNAL, str(work), py=True)
    assert (work / "hot-journal").exists(), r.stderr
    j = alice_journal(proj)
    before = digest(j)
    out = attempt(users, "bob", TRY + """
import shutil
src, d = sys.argv[1], sys.argv[2]
print(t(lambda: shutil.copy(src, os.path.join(d, "alice", "journal.db-journal"))))
print(t(lambda: shutil.copy(src, os.path.join(d, "alice.db-journal"))))
""", str(work / "hot-journal"), str(j.parent.parent))
    assert out.split() == ["denied", "done"]  # the flat name is no journal of hers now
    r = users.run("alice", "status", cwd=proj)
    assert r.returncode == 0 and "alice" in r.stdout, r.stderr
    assert digest(j) == before
    alice_can_save(users, proj)


def test_nobody_squats_or_impersonates_another_annotator(users: Users, proj: Path):
    j = proj / ".annotator" / "journals"
    for argv, needle in ((["--as", "carol"], "belongs to"), (["--as", "gold"], "curators"),
                         (["--as", "zed"], "not in the team")):
        r = users.run("bob", "annotate", *argv, cwd=proj)
        assert r.returncode == 1 and needle in r.stderr, (argv, r.stderr)
    assert not os.path.lexists(j / "carol") and not os.path.lexists(j / "gold")
    for argv in ([], ["--as", "cur"]):  # bob is no curator: the gold screen is refused
        r = users.run("bob", "adjudicate", *argv, cwd=proj)
        assert r.returncode == 1 and f"{login('bob')} is not a curator" in r.stderr, r.stderr
    assert not os.path.lexists(j / "gold")
    # bob squats carol's directory by hand, with a journal of his inside
    assert attempt(users, "bob", TRY + """
os.mkdir(sys.argv[1] + "/carol", 0o755)
open(sys.argv[1] + "/carol/journal.db", "w").close()
print("squatted")""", str(j)) == "squatted"
    r = users.run("carol", "annotate", cwd=proj)
    assert r.returncode == 1 and login("bob") in r.stderr and "move it aside" in r.stderr
    assert "Traceback" not in r.stderr
    r = users.run("cur", "export", "--out", "-", cwd=proj)
    assert r.returncode == 1 and "carol" in r.stderr and login("bob") in r.stderr
    assert '"annotator":"carol"' not in r.stdout
    r = users.run("lead", "team", "status", cwd=proj)
    assert r.returncode == 1 and "squatted" in r.stdout, r.stdout
    # the lead moves it aside (the sticky directory is theirs); carol then starts
    r = subprocess.run(["runuser", "-u", login("lead"), "--", "mv", str(j / "carol"),
                        str(j / "carol.squatted")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = users.run("carol", ANNOTATE, str(proj), "carol", "1", py=True)
    assert r.returncode == 0, r.stderr
    # bob, mapped to two names, may use both; the curator writes the gold
    assert users.run("bob", ANNOTATE, str(proj), "bob2", "1", py=True).returncode == 0
    r = users.run("cur", ANNOTATE, str(proj), "gold", "1", py=True)
    assert r.returncode == 0, r.stderr
    assert os.lstat(j / "gold").st_gid == grp.getgrnam(f"{TAG}cur").gr_gid


def test_fifos_symlinks_and_odd_names_in_journals_hang_nothing(users: Users, proj: Path):
    j = proj / ".annotator" / "journals"
    assert attempt(users, "bob", """
import os, sys
d = sys.argv[1]
os.mkfifo(d + "/carol")
os.mkfifo(d + "/fifo.db")
os.symlink("alice", d + "/zed")
os.mkdir(d + "/bad name")
print("planted")""", str(j)) == "planted"
    for role, argv in (("cur", ["status"]), ("cur", ["export", "--out", "-"]),
                       ("cur", ["agreement", "--bootstrap", "0"]), ("carol", ["annotate"])):
        r = users.run(role, *argv, cwd=proj, timeout=30)
        assert "Traceback" not in r.stderr, r.stderr
        if role == "carol":
            assert r.returncode == 1 and "FIFO" in r.stderr, r.stderr
        elif argv[0] == "status":  # reported (exit 1), the others still shown
            assert r.returncode == 1 and "FIFO" in r.stdout and "alice" in r.stdout
        else:
            assert r.returncode == 1 and "carol" in r.stderr and "FIFO" in r.stderr, r.stderr
    r = users.run("lead", "team", "status", cwd=proj, timeout=30)
    assert r.returncode == 1
    for needle in ("carol", "zed", "bad name", "fifo.db"):
        assert needle in r.stdout, (needle, r.stdout)


def test_an_annotator_never_writes_the_corpus(users: Users, proj: Path):
    corpus = proj / ".annotator" / "corpus.db"
    before = digest(corpus)
    r = users.run("alice", "import", "corpora/demo", cwd=proj)
    assert r.returncode == 1 and "lead" in r.stderr, r.stderr
    # `annotate` by an annotator (the TUI needs a terminal: it fails after the point
    # where it would import) writes nothing to corpus.db
    # a corpus file changed since the import: alice is told to ask the lead
    assert attempt(users, "lead", "import sys; open(sys.argv[1], 'a').write('\\n\\nNew.\\n');"
                   "print('ok')", str(next((proj / "corpora" / "demo").glob("*.txt")))) == "ok"
    r = users.run("alice", NO_TUI, "annotate", cwd=proj, py=True)
    assert r.returncode == 0 and "tui" in r.stdout, r.stderr
    assert "changed since the lead imported" in r.stderr and login("lead") in r.stderr
    assert digest(corpus) == before
    out = attempt(users, "alice", TRY + "print(t(lambda: open(sys.argv[1], 'r+b')))",
                  str(corpus))
    assert out == "denied"

"""`annotator team init`: the lead sets a project directory up for a team on one
server, so that nothing an annotator can write decides who may read what.

- The project directory, its settings, schema and corpus: the lead's, group G, not
  writable by the group (directories 2750, files 0640).
- `.annotator/` and `corpus.db`: the lead's, group G, read-only to members.
- `.annotator/journals/`: the lead's, sticky and setgid, group C (the curators' group;
  G if there are no curators), mode 3773 (3730 without curators): members create their
  own directory in it but cannot list it, remove or rename anyone else's.
- `exports/`: group G, sticky (3770): members write their exports, nobody replaces
  another's.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

from annotator.errors import InputError
from annotator.store import files


def _gid(name: str, what: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise InputError(f"there is no group {name!r} ({what}): create it first "
                         f"(`sudo groupadd {name}`)") from None


def _members(gid: int) -> set[str]:
    g = grp.getgrgid(gid)
    return set(g.gr_mem) | {p.pw_name for p in pwd.getpwall() if p.pw_gid == gid}


def _in_group(gid: int) -> bool:
    return gid == os.getegid() or gid in os.getgroups()


def _fix(path: Path, st: os.stat_result, gid: int, mode: int) -> None:
    """Give our `path` group `gid` and `mode`, through an fd (never a symlink)."""
    kind = "dir" if stat.S_ISDIR(st.st_mode) else "file"
    with files.open_checked(path, owner=os.geteuid(), kind=kind, single_link=False) as fd:
        cur = os.fstat(fd)
        if cur.st_gid != gid:
            os.fchown(fd, -1, gid)
        if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
            os.fchmod(fd, mode)


def team_init(project, group: str, curators_group: str | None = None) -> tuple[
        list[str], list[str]]:
    """Set `project` up for its team. Returns (what was done, problems left to fix by
    hand); refuses (InputError) what it cannot do at all."""
    team = project.team
    if team is None:
        raise InputError("annotator.yaml has no team: section. Add one first, e.g.\n"
                         "team:\n  lead: LOGIN\n  annotators: {alice: alice, bob: bob}\n"
                         "  curators: []", project.root / "annotator.yaml")
    me = os.geteuid()
    if team.lead_uid() != me:
        raise InputError(f"run this as the lead ({team.lead}): they own the project")
    gid = _gid(group, "the annotators' group")
    if not _in_group(gid):
        raise InputError(f"you ({team.lead}) are not in group {group!r}: "
                         f"`sudo usermod -aG {group} {team.lead}`, then log in again")
    if team.curators and not curators_group:
        raise InputError("the team has curators: give --curators-group C, a group holding "
                         "the curators (and you), so that they alone read journals during "
                         "the round")
    cgid = _gid(curators_group, "the curators' group") if curators_group else gid
    if not _in_group(cgid):
        raise InputError(f"you ({team.lead}) are not in group {curators_group!r}: "
                         f"`sudo usermod -aG {curators_group} {team.lead}`, then log in again")
    done: list[str] = []
    problems: list[str] = []
    members = _members(gid)
    for name, login in team.annotators.items():
        if team.uid(login) is None:
            problems.append(f"{name}: login {login!r} does not exist on this machine")
        elif login not in members:
            problems.append(f"{name}: {login} is not in group {group} "
                            f"(`sudo usermod -aG {group} {login}`)")
        if name in team.curators and curators_group and login not in _members(cgid):
            problems.append(f"{name}: curator {login} is not in group {curators_group}")
    root = project.root
    store = project.store_dir
    journals = store / "journals"
    exports = project.exports_dir()
    skip = {journals, exports}
    n = 0
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        dirnames[:] = [x for x in dirnames if d / x not in skip]
        for entry in [d, *(d / x for x in filenames)]:
            st = os.lstat(entry)
            if stat.S_ISLNK(st.st_mode):
                problems.append(f"{entry}: a symbolic link; in a team project put the file "
                                "itself here (links are never trusted)")
                continue
            if st.st_uid != me:
                problems.append(f"{entry}: belongs to {files.login_of(st.st_uid)}, not to you: "
                                "the lead must own what the project trusts (copy it, then "
                                "replace it)")
                continue
            if stat.S_ISDIR(st.st_mode):
                _fix(entry, st, gid, 0o2750)
            elif stat.S_ISREG(st.st_mode):
                _fix(entry, st, gid, (st.st_mode & 0o700) | ((st.st_mode & 0o500) >> 3))
            else:
                problems.append(f"{entry}: {files.what_is(st)}; remove it")
                continue
            n += 1
    done.append(f"{n} file(s) and directories: yours, group {group}, not writable by it")
    if not store.exists():
        store.mkdir()
        _fix(store, os.lstat(store), gid, 0o2750)
    if not os.path.lexists(journals):
        journals.mkdir(mode=0o700)
    _fix(journals, os.lstat(journals), cgid, 0o3773 if cgid != gid else 0o3730)
    done.append(f"{journals}: sticky, group {curators_group or group}, "
                f"mode {0o3773 if cgid != gid else 0o3730:04o}: each member makes their own "
                "journal directory in it; nobody lists, removes or renames another's")
    if not os.path.lexists(exports):
        exports.mkdir()
    st = os.lstat(exports)
    if st.st_uid == me:
        _fix(exports, st, gid, 0o3770)
        done.append(f"{exports}: sticky, group {group}: members write their exports")
    if (store / "corpus.db").exists():
        project.store  # opens it as the lead: rollback-journal mode, checked  # noqa: B018
        for side in ("-wal", "-shm"):
            p = store / f"corpus.db{side}"
            if os.path.lexists(p):
                problems.append(f"{p}: left by an earlier shared set-up; remove it once no "
                                "one is using the project")
    return done, problems

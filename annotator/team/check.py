"""`annotator team status`: who is mapped to which login, which journals exist (owner,
group, mode), and everything out of place, as problems for the lead to fix."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from annotator.errors import InputError
from annotator.store import files
from annotator.store.sqlite import ANNOTATOR_NAME
from annotator.team.roles import GOLD


def _group(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _trusted(path: Path, root: Path, lead: int, problems: list[str], kind: str = "file"
             ) -> None:
    try:
        files.check_lead_owned(path, root, lead, kind=kind)
    except FileNotFoundError:
        pass
    except (InputError, OSError) as exc:
        problems.append(str(exc))


def team_status(project) -> dict:
    team = project.team
    if team is None:
        raise InputError("annotator.yaml has no team: section (a single-user project)",
                         project.root / "annotator.yaml")
    lead = team.lead_uid()
    root = project.root
    problems: list[str] = []
    _trusted(root / "annotator.yaml", root, lead, problems)
    _trusted(project.schema_path(), root, lead, problems)
    for c in project.corpus_paths():
        from annotator.corpus import collect_files

        try:
            for f, _r in collect_files([c], []):
                _trusted(f, root, lead, problems)
        except InputError as exc:
            problems.append(str(exc))
    store = project.store_dir
    _trusted(store, root, lead, problems, kind="dir")
    _trusted(store / "corpus.db", root, lead, problems)
    journals = store / "journals"
    rows = []
    try:
        jst = os.lstat(journals)
    except FileNotFoundError:
        problems.append(f"{journals}: missing: the lead runs `annotator team init`")
        jst = None
    if jst is not None:
        if stat.S_ISLNK(jst.st_mode) or not stat.S_ISDIR(jst.st_mode):
            problems.append(f"{journals}: {files.what_is(jst)}, not a directory")
        elif jst.st_uid != lead:
            problems.append(f"{journals}: belongs to {files.login_of(jst.st_uid)}, not the "
                            f"lead {team.lead}")
        elif files.writable_by_others(jst) and not jst.st_mode & stat.S_ISVTX:
            problems.append(f"{journals}: writable by others and not sticky: run "
                            "`annotator team init`")
    names = {**team.annotators}
    for name in [*names, GOLD]:
        d = journals / name
        login = names.get(name)
        owners = ({team.uid(team.annotators[c]) for c in team.curators} if name == GOLD
                  else {team.uid(login)})
        row = {"name": name, "login": login or "curators", "journal": "not started"}
        try:
            st = os.lstat(d)
        except FileNotFoundError:
            if name != GOLD:
                rows.append(row)
            continue
        except PermissionError:
            row["journal"] = "not visible to you"
            rows.append(row)
            continue
        row["journal"] = (f"{files.what_is(st)} {files.login_of(st.st_uid)}:"
                          f"{_group(st.st_gid)} {stat.S_IMODE(st.st_mode):04o}")
        rows.append(row)
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            problems.append(f"{d}: {files.what_is(st)}, not a journal directory (the lead "
                            "can remove it)")
            continue
        if st.st_uid not in owners:
            problems.append(f"{d}: made by {files.login_of(st.st_uid)}, not by {name}'s login "
                            f"({row['login']}): squatted. Move it aside as the lead "
                            f"(`mv {d} {d}.squatted`); {name}'s next command makes their own")
            continue
        if st.st_mode & stat.S_IWOTH or (st.st_mode & stat.S_IWGRP and name != GOLD):
            problems.append(f"{d}: writable by others (mode {stat.S_IMODE(st.st_mode):04o})")
        f = d / "journal.db"
        try:
            fst = os.lstat(f)
        except FileNotFoundError:
            continue
        except PermissionError:
            continue  # not ours to see: the directory's owner was checked
        row["journal"] += (f"; journal.db {files.login_of(fst.st_uid)}:{_group(fst.st_gid)} "
                           f"{stat.S_IMODE(fst.st_mode):04o}")
        if not stat.S_ISREG(fst.st_mode):
            problems.append(f"{f}: {files.what_is(fst)}, not a journal")
        elif fst.st_uid != st.st_uid:
            problems.append(f"{f}: belongs to {files.login_of(fst.st_uid)}, not to "
                            f"{files.login_of(st.st_uid)}")
        elif fst.st_nlink > 1:
            problems.append(f"{f}: has {fst.st_nlink} hard links")
        elif fst.st_mode & stat.S_IWOTH or (fst.st_mode & stat.S_IWGRP and name != GOLD):
            problems.append(f"{f}: writable by others")
    try:
        entries = sorted(os.listdir(journals))
    except OSError:
        entries = []
    for e in entries:
        if e in names or e == GOLD:
            continue
        p = journals / e
        try:
            st = os.lstat(p)
            who = files.login_of(st.st_uid)
            what = files.what_is(st)
        except OSError:
            who, what = "?", "?"
        from annotator.textclean import safe_inline

        shown = safe_inline(e)
        legacy = e.endswith(".db") and e[:-3] in names
        why = ("a journal of the older flat layout: its annotator's next command moves it "
               "into their directory" if legacy else
               "not a valid annotator name" if not ANNOTATOR_NAME.match(e) else
               "not a name of the team")
        problems.append(f"{journals}/{shown}: {what} of {who}, {why}; never read"
                        + ("" if legacy else " (the lead can remove it)"))
    return {"lead": team.lead, "curators": list(team.curators), "journals": rows,
            "journals_group": _group(jst.st_gid) if jst else None,
            "blind": project.config.blind, "problems": problems}


def format_team_status(status: dict) -> str:
    lines = [f"lead {status['lead']}; curators: {', '.join(status['curators']) or 'none'}; "
             f"journals group {status['journals_group']}; "
             f"{'blind' if status['blind'] else 'not blind (blind: false)'}", ""]
    lines.append(f"{'name':<20} {'login':<16} journal")
    for r in status["journals"]:
        lines.append(f"{r['name']:<20} {r['login']:<16} {r['journal']}")
    if status["problems"]:
        lines.append("")
        lines.append(f"{len(status['problems'])} problem(s) to fix:")
        lines.extend(f"  {p}" for p in status["problems"])
    else:
        lines.append("")
        lines.append("no problems")
    return "\n".join(lines)

"""User management for `annotator serve` on a project: only the project's owner (the
lead, in a team project) keeps the users file."""

from __future__ import annotations

import os
from pathlib import Path

from annotator.errors import InputError
from annotator.serve import users as users_mod
from annotator.serve.access import is_curator, servable


def users_file(project, create: bool = False) -> Path:
    """`.annotator/serve-users` of the project; refuses anyone but the lead of a team
    project. `create`: make `.annotator/` if missing (its owner is then us)."""
    from annotator.team.roles import current_login

    team = project.team
    if team is not None and current_login() != team.lead:
        raise InputError(f"only the project's lead ({team.lead}) manages the users of "
                         "`annotator serve`", project.root / "annotator.yaml")
    store_dir = project.store_dir
    if create and not os.path.lexists(store_dir):
        store_dir.mkdir(mode=0o755)
    return users_mod.users_path(store_dir)


def add_user(project, name: str) -> tuple[str, str | None]:
    """(secret, a warning or None): the secret is shown once and never stored."""
    why = servable(project.team, name)
    if why and name == "gold":
        raise InputError(why)
    secret = users_mod.add_user(users_file(project, create=True), name)
    return secret, why


def remove_user(project, name: str) -> None:
    users_mod.remove_user(users_file(project), name)


def list_users(project) -> list[tuple[str, str]]:
    """(name, what they may open, or why they cannot be served)."""
    rows = []
    for name in sorted(users_mod.load_users(users_file(project))):
        why = servable(project.team, name)
        rows.append((name, f"cannot log in: {why}" if why else
                     "annotate, adjudicate" if is_curator(project.team, name) else "annotate"))
    return rows


def check_serving(project) -> list[str]:
    """Refusals (raised) and warnings (returned) before the server starts."""
    if project.store_url != "sqlite":
        raise InputError("`annotator serve` works with the SQLite store only: a PostgreSQL "
                         "store needs one database role per annotator, which a browser "
                         "session does not have", project.root)
    users = users_mod.load_users(users_file(project))
    if not users:
        raise InputError("nobody can log in yet: add users with `annotator serve "
                         "--add-user NAME` first", project.root)
    return [f"{name} cannot log in: {why}" for name in sorted(users)
            if (why := servable(project.team, name))]

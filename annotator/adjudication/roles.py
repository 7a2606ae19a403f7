"""Who may adjudicate, and under which name: the team's roles (annotator/team/roles.py).

A project without a `team:` section is single-user: whoever runs `adjudicate` may, under
`--as NAME` or their login. On a team project the curators are exactly the logins that
the names under `team: curators:` map to (`team: annotators:`); a curator records the
decisions under one of those names.
"""

from __future__ import annotations

from pathlib import Path

from annotator.errors import InputError
from annotator.team.roles import Team


def may_curate(team: Team | None, login: str) -> bool:
    """True on a single-user project (no team), else when `login` is a curator's login."""
    return team is None or team.is_curator(login)


def curator_name(team: Team | None, login: str, requested: str | None, default: str,
                 config: Path | None = None) -> str:
    """The name the gold's decisions are recorded under. On a team project: one of the
    curator names mapped to `login` (`requested`, or the only one); anything else is
    refused, naming the reason. `default`: the name on a single-user project."""
    if team is None:
        return requested or default
    mine = [c for c in team.curators if team.owner_of(c) == login]
    if not mine:
        listed = ", ".join(f"{c} ({team.owner_of(c)})" for c in team.curators) or "none"
        raise InputError(f"{login} is not a curator of this project: only the logins of the "
                         f"names under team: curators: may adjudicate (curators: {listed}); "
                         f"ask the lead ({team.lead})", config)
    if requested is None:
        if len(mine) == 1:
            return mine[0]
        raise InputError(f"your login {login!r} is mapped to the curators {', '.join(mine)}: "
                         "choose one with --as", config)
    if requested not in mine:
        raise InputError(f"you ({login}) may not adjudicate as {requested!r}: your curator "
                         f"name(s) here: {', '.join(mine)}", config)
    return requested

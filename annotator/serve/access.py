"""Who a browser session may be, and the one command line it runs.

The name comes from the signed cookie; the command is built here from that name, the
project directory given at start and the mode (annotate, or adjudicate for curators):
nothing of a request's own text reaches it. The app then applies every rule it applies
over SSH (team mapping, assignments, blindness, the per-annotator session lock).
"""

from __future__ import annotations

import sys
from pathlib import Path

from annotator.team.roles import GOLD, Team, current_login

MODES = ("annotate", "adjudicate")


def is_curator(team: Team | None, name: str) -> bool:
    """A browser curator is one listed under team.curators. Without a team: nobody,
    since adjudication shows every annotator's work, and a browser user has no SSH
    login to be trusted by."""
    return team is not None and name in team.curators


def servable(team: Team | None, name: str, login: str | None = None) -> str | None:
    """Why `name` cannot be served by this server's login, or None if it can. In a
    team project the app acts as the login that runs it: the name must be mapped to
    that login (team.annotators: NAME: LOGIN)."""
    if name == GOLD:
        return f"{GOLD!r} is the gold standard's journal, not a user"
    if team is None:
        return None
    login = login or current_login()
    if team.annotators.get(name) != login:
        return (f"{name} is not mapped to {login} (the login that runs the server) under "
                f"team.annotators in annotator.yaml: map it as `{name}: {login}`")
    return None


def app_argv(root: Path, name: str, mode: str) -> list[str]:
    """The command of a browser session (run without a shell)."""
    if mode not in MODES:
        raise ValueError(mode)
    who = f"--as={name}"  # one argument: a name can never be read as an option
    return [sys.executable, "-m", "annotator", mode, "--project", str(root), who]


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(host: str, public: bool) -> str | None:
    """A refusal for a non-loopback address without --public (else None)."""
    if is_loopback(host) or public:
        return None
    return (f"--host {host} is not a loopback address: the server speaks plain HTTP, so "
            "put a TLS reverse proxy in front of it (docs/serve.md) and say so with "
            "--public, or keep the loopback default and reach it through an SSH tunnel")

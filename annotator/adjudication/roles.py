"""Who may adjudicate. Until the team module lands this reads `team.curators` from
annotator.yaml itself; at merge it is wired to the team code's roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _team(root: Path) -> dict | None:
    path = root / "annotator.yaml"
    if not path.is_file():
        return None
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError):
        return None  # the project's own loading reports a broken file, with its line
    team = data.get("team") if isinstance(data, dict) else None
    return team if isinstance(team, dict) else None


def may_curate(project: Any, login: str) -> bool:
    """True on a project without a `team:` section (single-user); else only when
    `login` is one of `team.curators`, by name or by the login a curator's name maps
    to in `team.annotators`."""
    team = _team(Path(project.root))
    if team is None:
        return True
    curators = team.get("curators") or []
    if not isinstance(curators, list):
        return False
    logins = team.get("annotators") if isinstance(team.get("annotators"), dict) else {}
    return any(login == c or login == logins.get(c) for c in curators if isinstance(c, str))

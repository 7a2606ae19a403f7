"""Roles from the `team:` section of annotator.yaml: the lead (owns the project),
annotators (each name mapped to one login) and curators (names that may read every
journal and write the gold one)."""

from __future__ import annotations

import os
import pwd
from dataclasses import field

from annotator.errors import InputError
from annotator.records import record

GOLD = "gold"  # the curators' journal (adjudication builds on it)


@record(frozen=True)
class Team:
    """A team project's roles: the lead, annotators by login, curators."""

    lead: str
    annotators: dict[str, str] = field(default_factory=dict)  # name -> login
    curators: tuple[str, ...] = ()

    def uid(self, login: str) -> int | None:
        try:
            return pwd.getpwnam(login).pw_uid
        except KeyError:
            return None

    def lead_uid(self) -> int | None:
        return self.uid(self.lead)

    def names_of(self, login: str) -> list[str]:
        return [n for n, who in self.annotators.items() if who == login]

    def is_curator(self, login: str) -> bool:
        return any(self.annotators.get(n) == login for n in self.curators)

    def is_lead(self, login: str) -> bool:
        return login == self.lead

    def owner_of(self, name: str) -> str | None:
        return self.annotators.get(name)

    def act_as(self, login: str, requested: str | None) -> str:
        """The name `login` annotates as: `requested` if mapped to it (or `gold` for a
        curator), else the one name mapped to it. Anything else is refused."""
        mine = self.names_of(login)
        if requested is None:
            if len(mine) == 1:
                return mine[0]
            if not mine:
                raise InputError(f"your login {login!r} is not mapped to any annotator name in "
                                 "annotator.yaml (team: annotators:); ask the lead "
                                 f"({self.lead}) to add you")
            raise InputError(f"your login {login!r} is mapped to {', '.join(mine)}: choose "
                             "one with --as")
        if requested == GOLD:
            if self.is_curator(login):
                return GOLD
            raise InputError(f"only curators may write the {GOLD!r} journal; {login!r} is not "
                             "one (team: curators: in annotator.yaml)")
        if requested in mine:
            return requested
        who = self.annotators.get(requested)
        whose = f"it belongs to {who}" if who else "it is not in the team"
        raise InputError(f"you ({login}) may not annotate as {requested!r}: {whose}. Your "
                         f"name(s): {', '.join(mine) or 'none (ask the lead to map you)'}")


def current_login() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid{os.geteuid()}"


def parse_team(data: object, problem) -> tuple[Team | None, list]:
    """The team section as read from YAML; `problem(keys, message)` makes a located
    Problem. Returns (team or None, problems)."""
    from annotator.store.sqlite import ANNOTATOR_NAME

    problems = []
    if not isinstance(data, dict):
        return None, [problem(("team",), "'team' must be a mapping with lead, annotators "
                                         "and curators")]
    for k in data:
        if k not in ("lead", "annotators", "curators"):
            problems.append(problem(("team", k), f"unknown key {k!r} in team; allowed: "
                                                 "annotators, curators, lead"))
    lead = data.get("lead")
    if not isinstance(lead, str) or not lead:
        problems.append(problem(("team",), "team needs 'lead: LOGIN' (the project's owner)"))
    annotators = data.get("annotators") or {}
    if not isinstance(annotators, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotators.items()):
        problems.append(problem(("team", "annotators"), "'annotators' must map NAME: LOGIN"))
        annotators = {}
    for name in annotators:
        if name == GOLD:
            problems.append(problem(("team", "annotators", name),
                                    f"{GOLD!r} is reserved for the curators' journal"))
        elif not ANNOTATOR_NAME.match(name):
            problems.append(problem(("team", "annotators", name),
                                    f"invalid annotator name {name!r}: use letters, digits, "
                                    "'.', '_' or '-'"))
    curators = data.get("curators") or []
    if not isinstance(curators, list) or not all(isinstance(c, str) for c in curators):
        problems.append(problem(("team", "curators"), "'curators' must be a list of names"))
        curators = []
    for i, c in enumerate(curators):
        if c not in annotators:
            problems.append(problem(("team", "curators", i),
                                    f"curator {c!r} is not a name under annotators (map it "
                                    "to a login there; a curator need not annotate)"))
    if problems:
        return None, problems
    return Team(lead, dict(annotators), tuple(curators)), []

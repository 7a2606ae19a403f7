"""Assignment with overlap (PRODUCT.md "Assignment with overlap"): which annotator
annotates which document.

- `plan_assignment` is the algorithm, pure: each new document to exactly K annotators,
  the least loaded first (ties broken by a seeded random draw, so pairs mix), N
  calibration documents to everyone, existing assignments never moved.
- `assign_documents` plans and stores in one transaction of the corpus database (the
  lead's file: an annotator cannot change who annotates what).
- `DocumentScope` is what the annotation screen asks: which documents this annotator
  may open, in a stable order (import order).
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable, Sequence
from dataclasses import field
from typing import Any

from annotator.errors import InputError, UsageError
from annotator.records import record

Row = tuple[int, str, bool]  # (document key, annotator, calibration)


@record
class AssignmentPlan:
    """Assignment rows to add, and what they amount to."""

    rows: list[Row]  # the rows to add; existing ones are never changed
    documents: int  # new documents given to K annotators each
    calibration: list[int]  # document keys that became calibration documents now
    loads: dict[str, int]  # regular (non-calibration) documents per annotator, after
    calibration_total: int = 0  # calibration documents in the project, after
    per_document: int = 0
    annotators: list[str] = field(default_factory=list)


def check_names(names: Sequence[str], known: Sequence[str] | None,
                where: str = "the team in annotator.yaml") -> list[str]:
    """The annotators of one run, sorted (so the plan does not depend on the order they
    were listed in). `known`: the team's names (None: a single-user project, any valid
    name), as `where` has them."""
    from annotator.store.sqlite import ANNOTATOR_NAME

    out = [n.strip() for n in names if n.strip()]
    if not out:
        raise UsageError("no annotators to assign to")
    seen: set[str] = set()
    for n in out:
        if n in seen:
            raise UsageError(f"annotator {n!r} is listed twice")
        seen.add(n)
        if not ANNOTATOR_NAME.match(n):
            raise UsageError(f"invalid annotator name {n!r}: use letters, digits, '.', '_' "
                             "or '-' (at most 64 characters)")
        if known is not None and n not in known:
            raise UsageError(f"unknown annotator {n!r}: {where} has "
                             + (", ".join(known) if known else "no annotators"))
    return sorted(out)


def plan_assignment(doc_keys: Sequence[int], existing: Iterable[Row], annotators: Sequence[str],
                    per_document: int, calibration: int = 0, seed: int = 0) -> AssignmentPlan:
    """The rows that assign every document of `doc_keys` not yet assigned.

    `doc_keys` in import order; `existing`: rows stored by earlier runs. Calibration
    documents (`calibration` in all, counting earlier ones) go to every annotator of the
    run, also to one added since; they are left out of the loads, which are then the
    same for everyone, so balance holds for the totals too. Raises UsageError for bad
    arguments, InputError when the documents cannot be given out as asked."""
    names = sorted(annotators)
    k = per_document
    if k < 1:
        raise UsageError("--per-document must be 1 or more")
    if k > len(names):
        raise UsageError(f"--per-document {k} is more than the {len(names)} annotator(s) "
                         f"to assign to ({', '.join(names)})")
    if calibration < 0:
        raise UsageError("--calibration must be 0 or more")
    assigned: dict[int, set[str]] = {}
    calib: set[int] = set()
    loads = dict.fromkeys(names, 0)
    for doc, who, is_cal in existing:
        assigned.setdefault(doc, set()).add(who)
        if is_cal:
            calib.add(doc)
        elif who in loads:
            loads[who] += 1
    new = [d for d in doc_keys if d not in assigned]
    rng = random.Random(seed)
    need = max(0, calibration - len(calib))
    if need > len(new):
        raise InputError(f"cannot add {need} calibration document(s): only {len(new)} "
                         "document(s) are not assigned yet (import more, or ask for fewer)")
    picked = sorted(rng.sample(new, need)) if need else []
    rows: list[Row] = []
    for d in sorted(calib) + picked:
        have = assigned.get(d, ())
        rows.extend((d, n, True) for n in names if n not in have)
    picked_set = set(picked)
    regular = [d for d in new if d not in picked_set]
    rows.extend(_greedy(regular, names, loads, k, rng))
    if regular:
        lo, hi = min(loads.values()), max(loads.values())
        if hi - lo > 1:
            low = [n for n, v in loads.items() if v == lo]
            high = [n for n, v in loads.items() if v == hi]
            raise InputError(
                f"cannot balance the loads to within one document: after giving out "
                f"{len(regular)} new document(s), {', '.join(low)} would have {lo} and "
                f"{', '.join(high)} {hi} (existing assignments never move). Import more "
                "documents, or assign these to the annotators who are behind (--annotators)")
    return AssignmentPlan(rows, len(regular), picked, loads, len(calib) + len(picked), k, names)


def _greedy(docs: list[int], names: list[str], loads: dict[str, int], k: int,
            rng: random.Random) -> list[Row]:
    """Each document to the k least loaded annotators, ties broken at random.

    From loads within one of each other this keeps them within one: the k chosen are
    all of the lowest level before any of the next. In that (usual) case it runs in
    rounds: a random order of the annotators behind, consumed k at a time; at the end of
    a round, the rest come from those ahead, and a new random order begins. That is the
    same choice as sampling among the least loaded for every document, at O(k) per
    document instead of O(annotators)."""
    out: list[Row] = []
    level = min(loads.values(), default=0)
    behind = [n for n in names if loads[n] == level]
    ahead = [n for n in names if loads[n] == level + 1]
    if len(behind) + len(ahead) != len(names):  # more than one apart: the general path
        for d in docs:
            chosen = sorted(names, key=lambda n: (loads[n], rng.random()))[:k]
            for n in chosen:
                loads[n] += 1
                out.append((d, n, False))
        return out
    rng.shuffle(behind)
    rng.shuffle(ahead)
    order, pos = ahead + behind, len(ahead)  # order[:pos] are ahead, order[pos:] behind
    for d in docs:
        if k < len(order) - pos:
            chosen = order[pos:pos + k]
            pos += k
        else:
            chosen = order[pos:]  # everyone behind, now level with those ahead ...
            extra = rng.sample(order[:pos], k - len(chosen))  # ... and some ahead of it
            taken = set(extra)
            rest = [n for n in order[:pos] if n not in taken] + chosen
            rng.shuffle(rest)
            order, pos = extra + rest, len(extra)
            chosen = chosen + extra
        out.extend((d, n, False) for n in chosen)
    for _, n, _ in out:
        loads[n] += 1
    return out


# ---------------------------------------------------------------- the project's team

def team_names(config: Any) -> list[str] | None:
    """The annotator names of the project's `team:` section, or None without one
    (a single-user project). Read loosely: `team.annotators` as a mapping NAME ->
    LOGIN (or a list of names), on an object or a dict."""
    team = getattr(config, "team", None)
    if not team:
        return None
    members = team.get("annotators") if isinstance(team, dict) else getattr(
        team, "annotators", None)
    if not members:
        return []
    return sorted(members)


def team_lead(config: Any) -> str | None:
    team = getattr(config, "team", None)
    if not team:
        return None
    return team.get("lead") if isinstance(team, dict) else getattr(team, "lead", None)


# ---------------------------------------------------------------- with a store

def assign_documents(store: Any, annotators: Sequence[str], per_document: int,
                     calibration: int = 0, seed: int = 0) -> AssignmentPlan:
    """Plan and store, in one transaction of the corpus database (a concurrent import
    or a second run waits, and then sees these rows)."""
    holder: list[AssignmentPlan] = []

    def plan(doc_keys: list[int], existing: list[Row]) -> list[Row]:
        holder.append(plan_assignment(doc_keys, existing, annotators, per_document,
                                      calibration, seed))
        return holder[0].rows

    store.add_assignments(plan)
    return holder[0]


class DocumentScope:
    """The documents an annotator may open, in import order: every document when the
    project has no assignments, else the ones assigned to them.

    Positions count from 1 within the scope (what the position bar shows and what
    go-to takes as a number)."""

    def __init__(self, keys: Sequence[int] | None, total: int, annotator: str | None = None):
        self.keys = sorted(keys) if keys is not None else None
        self.total = total
        self.annotator = annotator

    @classmethod
    def for_annotator(cls, store: Any, annotator: str) -> DocumentScope:
        keys = store.assigned_documents(annotator)
        return cls(keys, store.document_count(), annotator if keys is not None else None)

    @property
    def restricted(self) -> bool:
        return self.keys is not None

    @property
    def count(self) -> int:
        return self.total if self.keys is None else len(self.keys)

    def __contains__(self, key: int) -> bool:
        if self.keys is None:
            return 1 <= key <= self.total
        i = bisect.bisect_left(self.keys, key)
        return i < len(self.keys) and self.keys[i] == key

    def position(self, key: int) -> int | None:
        """1-based position of a document in the scope (None when outside it)."""
        if key not in self:
            return None
        return key if self.keys is None else bisect.bisect_left(self.keys, key) + 1

    def key_at(self, position: int) -> int | None:
        """The document key at a 1-based position."""
        if not 1 <= position <= self.count:
            return None
        return position if self.keys is None else self.keys[position - 1]

    def first(self) -> int | None:
        return self.key_at(1)

    def step(self, key: int, step: int) -> int | None:
        """The key `step` documents after (or before) `key` within the scope."""
        if self.keys is None:
            nxt = key + step
            return nxt if 1 <= nxt <= self.total else None
        i = bisect.bisect_left(self.keys, key)
        here = i < len(self.keys) and self.keys[i] == key
        # outside the scope: the next one up is at i, the next one down at i - 1
        j = i + step - (1 if step > 0 and not here else 0)
        return self.keys[j] if 0 <= j < len(self.keys) else None


# ---------------------------------------------------------------- --show

MATRIX_ROWS = 40  # documents listed in full; a bigger corpus gets a summary


def assign_project(project: Any, per_document: int, annotators: Sequence[str] | None,
                   login: str, calibration: int = 0, seed: int = 0) -> AssignmentPlan:
    """`annotator assign --per-document K`: who may (the team's lead, when there is a
    team), to whom (`annotators`, else the team in annotator.yaml, else on PostgreSQL
    the annotators added to the database), then plan and store."""
    lead = team_lead(project.config)
    if lead and login != lead:
        raise InputError(f"only the project's lead ({lead}) may assign documents",
                         project.root / "annotator.yaml")
    known, where = team_names(project.config), "the team in annotator.yaml"
    if known is None and hasattr(project.store, "member_annotators"):
        known = project.store.member_annotators() or None  # PostgreSQL: its roles
        where = "the database (db add-annotator)"
    if annotators is None:
        if known is None:
            raise UsageError("--annotators a,b,c is needed: this project has no team "
                             "section in annotator.yaml (nor, on PostgreSQL, annotators "
                             "added with `db add-annotator`) to take them from")
        annotators = known
    names = check_names(annotators, known, where)
    return assign_documents(project.store, names, per_document, calibration=calibration,
                            seed=seed)


def describe_plan(plan: AssignmentPlan, documents: int) -> str:
    """One line on what `assign_project` did."""
    if not plan.rows:
        return f"nothing to assign: all {documents:,} document(s) are assigned already"
    parts = []
    if plan.documents:
        parts.append(f"assigned {plan.documents:,} document(s) to {plan.per_document} of "
                     f"{len(plan.annotators)} annotator(s) each")
    calib_rows = sum(1 for _, _, c in plan.rows if c)
    if calib_rows:
        parts.append(f"{plan.calibration_total} calibration document(s) ("
                     f"{len(plan.calibration)} new) given to everyone who lacked them "
                     f"({calib_rows:,} row(s))")
    loads = sorted(set(plan.loads.values()))
    parts.append("documents per annotator besides calibration: "
                 + " or ".join(f"{v:,}" for v in loads))
    return "; ".join(parts)


def assignment_overview(store: Any) -> dict:
    """Who has what: per annotator (documents, calibration, units), per pair (documents
    shared), and the first documents' rows of the matrix."""
    rows = store.assignments()
    names = sorted({who for _, who, _ in rows})
    per_doc: dict[int, dict[str, bool]] = {}
    for doc, who, cal in rows:
        per_doc.setdefault(doc, {})[who] = cal
    sizes = dict(zip(*(a.tolist() for a in store.document_sizes()), strict=True))
    people = {n: {"documents": 0, "calibration": 0, "units": 0} for n in names}
    pairs: dict[tuple[str, str], int] = {}
    for doc, who in per_doc.items():
        members = sorted(who)
        for n in members:
            p = people[n]
            p["documents"] += 1
            p["calibration"] += int(who[n])
            p["units"] += sizes.get(doc, 0)
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                pairs[(a, b)] = pairs.get((a, b), 0) + 1
    matrix = []
    for doc in sorted(per_doc)[:MATRIX_ROWS]:
        info = store.document_at(doc - 1)
        matrix.append({"doc_id": info.id if info else str(doc),
                       "annotators": {n: ("calibration" if per_doc[doc][n] else "assigned")
                                      for n in per_doc[doc]}})
    return {"documents": store.document_count(), "assigned_documents": len(per_doc),
            "annotators": people, "names": names,
            "pairs": [{"a": a, "b": b, "documents": v} for (a, b), v in sorted(pairs.items())],
            "matrix": matrix}


def format_overview(ov: dict) -> str:
    names = ov["names"]
    if not names:
        return "no assignments yet (annotator assign --per-document K)"
    lines = [f"{ov['assigned_documents']:,} of {ov['documents']:,} document(s) assigned", ""]
    lines.append(f"{'annotator':<20} {'documents':>10} {'calibration':>12} {'units':>10}")
    for n in names:
        p = ov["annotators"][n]
        lines.append(f"{n[:20]:<20} {p['documents']:>10,} {p['calibration']:>12,} "
                     f"{p['units']:>10,}")
    if len(names) > 1:
        lines += ["", "documents shared by each pair:"]
        lines.append(" " * 12 + " ".join(f"{n[:10]:>10}" for n in names[1:]))
        shared = {(p["a"], p["b"]): p["documents"] for p in ov["pairs"]}
        for i, a in enumerate(names[:-1]):
            cells = [" " * 10 if j <= i else f"{shared.get((a, b), 0):>10,}"
                     for j, b in enumerate(names) if j > 0]
            lines.append(f"{a[:12]:<12}" + " ".join(cells))
    lines += ["", "x assigned, C calibration, . not assigned"]
    lines.append(f"{'document':<30} " + " ".join(f"{n[:6]:>6}" for n in names))
    for row in ov["matrix"]:
        marks = {"assigned": "x", "calibration": "C"}
        lines.append(f"{row['doc_id'][:30]:<30} " + " ".join(
            f"{marks.get(row['annotators'].get(n, ''), '.'):>6}" for n in names))
    if ov["assigned_documents"] > len(ov["matrix"]):
        lines.append(f"... and {ov['assigned_documents'] - len(ov['matrix']):,} more "
                     "document(s)")
    return "\n".join(lines)

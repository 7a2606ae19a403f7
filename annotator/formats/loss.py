"""What a format cannot carry: collected record by record, reported, never dropped
silently.

Two kinds of entry:
- `lost`: an annotation (a label, a span, a relation, a skip, an annotated unit) that
  the conversion cannot carry. The import or export stops with an error listing them,
  unless the user passes `--allow-loss`; then they are printed as warnings.
- `changed`: carried, but not byte for byte (offsets read as UTF-16, whitespace at a
  span's edge dropped, a name made file-safe). Always printed as a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from annotator.errors import InputError, Problem


@dataclass
class _Kind:
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class LossReport:
    fmt: str
    lost: dict[str, _Kind] = field(default_factory=dict)
    changed: dict[str, _Kind] = field(default_factory=dict)
    examples: int = 3

    def lose(self, what: str, where: str, n: int = 1) -> None:
        """`n` annotations of kind `what` (a sentence) at `where` are not carried."""
        self._add(self.lost, what, where, n)

    def change(self, what: str, where: str, n: int = 1) -> None:
        self._add(self.changed, what, where, n)

    def _add(self, table: dict[str, _Kind], what: str, where: str, n: int) -> None:
        kind = table.setdefault(what, _Kind())
        kind.count += n
        if len(kind.examples) < self.examples:
            kind.examples.append(where)

    @property
    def lost_count(self) -> int:
        return sum(k.count for k in self.lost.values())

    def lines(self, table: dict[str, _Kind]) -> list[str]:
        out = []
        for what, kind in table.items():
            where = ", ".join(kind.examples)
            more = f" and {kind.count - len(kind.examples):,} more" if \
                kind.count > len(kind.examples) else ""
            out.append(f"{kind.count:,} x {what} (at {where}{more})")
        return out

    def warnings(self, include_lost: bool) -> list[str]:
        out = [f"{self.fmt}: {line}" for line in self.lines(self.changed)]
        if include_lost:
            out += [f"{self.fmt} could not carry: {line}" for line in self.lines(self.lost)]
        return out

    def check(self, allow_loss: bool, doing: str) -> None:
        """Raise InputError listing what would be lost, unless `allow_loss`."""
        if not self.lost or allow_loss:
            return
        problems = [Problem("", 0, 0, f"{self.fmt} cannot carry {self.lost_count:,} "
                                      f"annotation(s); {doing}:")]
        problems += [Problem("", 0, 0, f"  {line}") for line in self.lines(self.lost)]
        problems.append(Problem("", 0, 0, "give --allow-loss to go ahead without them "
                                          "(they are then listed as warnings)"))
        raise InputError(problems)

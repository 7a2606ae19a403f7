"""`annotator.records.record` behaves as `dataclasses.dataclass` for the classes it is
used on, and generates no method from source (the point of it: start-up time)."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from annotator.records import record


def pair(frozen: bool):
    """The same class as a dataclass and as a record."""
    made = []
    for deco in (dataclass(frozen=frozen), record(frozen=frozen)):
        @deco
        class Rec:
            id: str
            name: str
            tags: tuple[str, ...] = ()
            extra: dict = field(default_factory=dict, compare=False, hash=False)
            key: str | None = None

        made.append(Rec)
    return made


CALLS = [
    (("a", "b"), {}),
    (("a",), {"name": "b", "key": "k"}),
    ((), {"id": "a", "name": "b", "tags": ("x",), "extra": {"n": 1}}),
    (("a", "b", ("t",), {}, "k"), {}),
]
BAD_CALLS = [((), {}), (("a",), {}), (("a", "b", (), {}, "k", "z"), {}),
             (("a",), {"id": "b", "name": "c"}), (("a", "b"), {"nope": 1})]


@pytest.mark.parametrize("frozen", [True, False])
def test_construction_repr_equality_as_dataclass(frozen: bool) -> None:
    dc, rec = pair(frozen)
    for args, kwargs in CALLS:
        a, b = dc(*args, **kwargs), rec(*args, **kwargs)
        assert dataclasses.asdict(a) == dataclasses.asdict(b)
        assert repr(a).replace("pair.<locals>.", "") == repr(b).replace("pair.<locals>.", "")
        assert b == rec(*args, **kwargs)
        assert (b == a) is False  # another class: never equal, as a dataclass
    for args, kwargs in BAD_CALLS:
        with pytest.raises(TypeError):
            dc(*args, **kwargs)
        with pytest.raises(TypeError):
            rec(*args, **kwargs)
    # compare=False fields are left out of equality (and hash), others are not
    assert rec("a", "b", extra={"x": 1}) == rec("a", "b", extra={"y": 2})
    assert rec("a", "b") != rec("a", "c")
    # a default_factory makes a new object per instance
    assert rec("a", "b").extra is not rec("a", "b").extra
    assert [f.name for f in dataclasses.fields(rec)] == ["id", "name", "tags", "extra", "key"]
    assert rec.__match_args__ == dc.__match_args__


def test_frozen_record_is_frozen_hashable_replaceable_picklable() -> None:
    dc, rec = pair(True)
    r = rec("a", "b", extra={"x": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.id = "z"
    with pytest.raises(dataclasses.FrozenInstanceError):
        del r.name
    assert hash(r) == hash(dc("a", "b", extra={"y": 2}))  # the same fields' tuple
    assert {r, rec("a", "b")} == {r}
    changed = dataclasses.replace(r, key="k")
    assert changed == rec("a", "b", key="k") and changed.extra == {"x": 1} and r.key is None
    kept = Kept("a", ("b",))
    assert pickle.loads(pickle.dumps(kept)) == kept


@record(frozen=True)
class Kept:  # module level: pickle finds it by name
    id: str
    tags: tuple[str, ...] = ()


def test_unfrozen_record_is_mutable_and_unhashable() -> None:
    _, rec = pair(False)
    r = rec("a", "b")
    r.key = "k"
    assert r == rec("a", "b", key="k")
    with pytest.raises(TypeError):
        hash(r)


def test_a_record_without_docstring_is_named_by_its_fields() -> None:
    Plain = record(type("Plain", (), {"__annotations__": {"a": "int", "b": "str"}}))
    assert Plain.__doc__ == "Plain(a, b)"


def test_post_init_runs() -> None:
    @record(frozen=True)
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

    assert Checked(1).n == 1
    with pytest.raises(ValueError):
        Checked(-1)


@pytest.mark.skipif(not hasattr(dataclasses, "_create_fn"),
                    reason="Python 3.13 generates a dataclass's methods otherwise")
def test_no_method_is_generated_from_source(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = dataclasses._create_fn

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(dataclasses, "_create_fn", counting)
    pair(True)
    assert len(calls) == 6  # the dataclass's own: __init__ ... __delattr__
    calls.clear()
    record(frozen=True)(type("Plain", (), {"__annotations__": {"a": "int"}}))
    assert calls == []


def test_start_up_classes_are_records() -> None:
    """The classes imported before the annotation screen's first frame: their methods
    are records' (a plain @dataclass there costs ~0.4 ms of start-up each)."""
    from annotator.errors import Problem
    from annotator.project import ProjectConfig
    from annotator.schema import Attribute, Label, LabelSchema, Layer, Relation
    from annotator.store.base import ImportStats
    from annotator.team.assign import AssignmentPlan
    from annotator.team.roles import Team

    for cls in (Problem, ProjectConfig, Attribute, Label, LabelSchema, Layer, Relation,
                ImportStats, AssignmentPlan, Team):
        assert cls.__init__.__module__ == "annotator.records", cls

"""`record`: a dataclass whose methods are closures, not generated source.

On Python 3.11 `@dataclass` writes each method (`__init__`, `__repr__`, `__eq__`,
`__hash__`, and a frozen class's `__setattr__` / `__delattr__`) as source and `exec`s
it: ~0.08 ms a method, ~4 ms for the ten classes imported before the annotation
screen's first frame. `record` lets `dataclass` collect the fields (so `fields()`,
`replace()`, `asdict()` and pickling work as before) with no method generated, then
adds the same methods built once from closures over the field list. Behaviour is the
dataclass's: positional / keyword / default / `default_factory` arguments and the same
TypeErrors, `__post_init__`, equality on the `compare` fields between instances of the
same class, a frozen class's hash and `FrozenInstanceError`, an unfrozen one unhashable.

For classes built rarely (a schema's labels, a project's settings, an import's
counts): the generic `__init__` costs ~1 µs more per instance than the generated one.
No `slots`, no `order`, no `InitVar`, no `field(init=False)`, no inheritance between
records.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")
_MISSING = dataclasses.MISSING


@dataclass_transform()  # type checkers see a dataclass
def record(cls: type[T] | None = None, *, frozen: bool = False) -> Any:
    """`@record` / `@record(frozen=True)`: as `@dataclass` / `@dataclass(frozen=True)`."""
    if cls is None:
        return lambda c: _build(c, frozen)
    return _build(cls, frozen)


def _build(cls: type[T], frozen: bool) -> type[T]:
    for method in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__",
                   "__delattr__"):
        if method in cls.__dict__:  # a dataclass would keep or refuse it: not handled here
            raise TypeError(f"record {cls.__name__} defines {method}")
    if not cls.__doc__:
        # dataclass would make one from inspect.signature (which, with no generated
        # __init__ yet, parses object's text signature: ~1.5 ms)
        cls.__doc__ = f"{cls.__name__}({', '.join(cls.__dict__.get('__annotations__', ()))})"
    cls = dataclasses.dataclass(cls, init=False, repr=False, eq=False)
    fields = dataclasses.fields(cls)
    for f in fields:
        if not f.init:
            raise TypeError(f"record {cls.__name__}: field {f.name} must be an init field")
    names = tuple(f.name for f in fields)
    known = frozenset(names)
    count = len(names)
    defaults = {f.name: f.default for f in fields if f.default is not _MISSING}
    factories = {f.name: f.default_factory for f in fields
                 if f.default_factory is not _MISSING}
    required = [n for n in names if n not in defaults and n not in factories]
    shown = tuple(f.name for f in fields if f.repr)
    compared = tuple(f.name for f in fields if f.compare)
    hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
    post_init = getattr(cls, "__post_init__", None)
    qualname = cls.__qualname__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > count:
            raise TypeError(f"{qualname}.__init__() takes {count + 1} positional "
                            f"arguments but {len(args) + 1} were given")
        # the instance's dict, as object.__setattr__ would fill it (no slots, and
        # no descriptor on a field's name): a frozen record is written here too
        d = self.__dict__
        for name, value in zip(names, args, strict=False):
            d[name] = value
        if kwargs:
            for name in kwargs:
                if name not in known:
                    raise TypeError(f"{qualname}.__init__() got an unexpected keyword "
                                    f"argument {name!r}")
                if name in d:
                    raise TypeError(f"{qualname}.__init__() got multiple values for "
                                    f"argument {name!r}")
        for name in names[len(args):]:
            if name in kwargs:
                d[name] = kwargs[name]
            elif name in defaults:
                d[name] = defaults[name]
            elif name in factories:
                d[name] = factories[name]()
            else:
                missing = [n for n in required if n not in d and n not in kwargs]
                raise TypeError(f"{qualname}.__init__() missing {len(missing)} required "
                                f"positional argument(s): {', '.join(map(repr, missing))}")
        if post_init is not None:
            self.__post_init__()

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in shown)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        # tuples, as the dataclass compares (an object is equal to itself first)
        return tuple(getattr(self, n) for n in compared) == \
            tuple(getattr(other, n) for n in compared)

    cls.__init__ = __init__
    cls.__repr__ = __repr__
    cls.__eq__ = __eq__
    if frozen:
        def __hash__(self: Any) -> int:
            return hash(tuple(getattr(self, n) for n in hashed))

        def __setattr__(self: Any, name: str, value: Any) -> None:
            if type(self) is cls or name in names:
                raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
            object.__setattr__(self, name, value)

        def __delattr__(self: Any, name: str) -> None:
            if type(self) is cls or name in names:
                raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
            object.__delattr__(self, name)

        cls.__hash__ = __hash__
        cls.__setattr__ = __setattr__
        cls.__delattr__ = __delattr__
    else:
        cls.__hash__ = None  # as a dataclass with eq and not frozen: unhashable
    for method in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__",
                   "__delattr__"):
        fn = cls.__dict__.get(method)
        if fn is not None:
            fn.__qualname__ = f"{qualname}.{method}"
    return cls

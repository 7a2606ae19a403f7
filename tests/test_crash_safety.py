"""Crash safety of the real entry point: SIGKILL at random moments of one long
scripted session, and SIGHUP / SIGTERM exits.

The session is a seeded random sequence of keys over the demo corpus (label hotkeys,
j / k, spans made with v, l / w and a span label key, u undo, ctrl+r redo, enter),
typed into `python -m annotator annotate --as NAME` in tmux (tests/tmux_harness.py).
A model of what the journal holds (every unit's labels, spans and done mark, the undo
and redo stacks, the event count, the position, span mode and cursor) predicts the
screen after each key; a key counts as *confirmed on screen* once the screen shows
exactly that prediction. The generator only types keys whose result is visible, so
every confirmation is a real one.

A segment: launch (or relaunch) the app, check it reopened where the model says,
type a random number of keys, each confirmed on screen, then kill the app with SIGKILL
in one of three ways: right after sending one more key (the *in-flight* key), after
that key and a random 0-30 ms, or while idle. The pane is captured just before the
kill, and again once the process is dead (tmux keeps a dead pane's last frame: the
last thing the annotator saw). Then, through the core, with the process dead:

- every action confirmed on screen is in the store: the journal holds at least the
  confirmed events and at most one more, and only when the in-flight key was an
  action; every unit's stored state is the model's, or the model's plus exactly the
  in-flight action (and then the event is there);
- both captured frames are a screen the model allows (before or after the in-flight
  key), and the labels they show as on for the focused unit are the stored state of
  that unit, or the stored state is the shown one plus exactly the in-flight action;
  a frame showing the in-flight key's result means the action and its move are stored;
- `journal.verify()` finds nothing: the journal replays to the state it holds;
- the saved position is the unit on screen, or the unit the in-flight key moved to;
  the next launch must open exactly there (checked on its first screens).

The model is then re-read from the store and the session goes on in the relaunched
app: the kills are segments of one long session, and undo / redo reach back across
restarts (counted as `cross-restart undos`).

`bench/bench_crash.py` runs the same session for N kills and prints a table.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import shutil
import signal
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tmux_harness import (
    ROOT,
    Tmux,
    TmuxError,
    annotator_argv,
    child_pid,
    exit_recorder_argv,
    have_tmux,
    pid_gone,
    read_exit_file,
)

from annotator.project import Project
from annotator.schema import LabelSchema, load_schema

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(not have_tmux(), reason="tmux is not installed"),
]

SEED = int(os.environ.get("CRASH_SEED", "20261123"))
WIDTH, HEIGHT = 100, 50  # tall enough that the labels panel never scrolls
MAX_SPANS = 6  # per unit, so the span list stays within the panel
KEYS_PER_SEGMENT = (1, 14)
FIRST_PAINT_TIMEOUT = 60.0  # a loaded shared machine: generous, the waits poll
KEY_TIMEOUT = 30.0
WORD = re.compile(r"\w+|[^\w\s]+")  # vi-like words, as the screen's w moves over them

HEADER = re.compile(r"doc (\d+)/(\d+) (\S+)\s+(title|¶(\d+)/\d+)\s+annotated (\d+)/(\d+)"
                    r"\s+(✓ done|○ not yet)")
SPAN_MODE = re.compile(r"\bSPAN\s+\[(\d+),(\d+)\)")
TRACEBACK = re.compile(r"Traceback|Error:|exception")

Pos = tuple[str, int]


# --- the demo project ------------------------------------------------------------------

def make_project(base: Path) -> Path:
    """A project with copies of the demo corpus and the default schema."""
    project = base / "proj"
    shutil.copytree(ROOT / "corpora" / "demo", project / "corpora" / "demo")
    (project / "schemas").mkdir(parents=True)
    shutil.copy(ROOT / "schemas" / "framing-devices.yaml", project / "schemas")
    (project / "annotator.yaml").write_text(
        "schema: schemas/framing-devices.yaml\ncorpus:\n  - corpora/demo\n", encoding="utf-8")
    return project


# --- what a unit's state looks like to the model ---------------------------------------

@dataclass(frozen=True)
class UnitState:
    multi: frozenset[str] = frozenset()
    single: str | None = None
    spans: tuple[tuple[str, int, int], ...] = ()  # sorted (label, start, end)
    done: bool = False

    def counts(self) -> tuple[tuple[str, int], ...]:
        out: dict[str, int] = {}
        for label, _, _ in self.spans:
            out[label] = out.get(label, 0) + 1
        return tuple(sorted(out.items()))


EMPTY = UnitState()


@dataclass(frozen=True)
class Event:
    pos: Pos
    before: UnitState
    after: UnitState
    old: bool = False  # made by an earlier process (read back from the store)


@dataclass(frozen=True)
class Shown:
    """What the screen shows (or should show): the focused unit and what it holds."""
    pos: Pos
    done: bool
    done_total: int
    multi: frozenset[str]
    single: str | None
    counts: tuple[tuple[str, int], ...]
    span: tuple[int, int] | None  # span mode: [start, end) in the status line

    def labels(self) -> tuple:
        return self.multi, self.single, self.counts, self.done

    def cells(self, keys: Keys) -> dict:
        """The screen as independent pieces (a header field, one label line ...): tmux
        may show a frame half drawn (the app writes it in pieces), each piece from
        the frame before or from the new one."""
        counts = dict(self.counts)
        return {"pos": self.pos, "done": self.done, "done_total": self.done_total,
                "span": self.span,
                **{("multi", label): label in self.multi for label in keys.multi_keys.values()},
                **{("single", label): label == self.single
                   for label in keys.single_keys.values()},
                **{("count", label): counts.get(label, 0) for label in keys.span_keys.values()}}


class Keys:
    """The schema's layers and hotkeys as the generator and the screen parser use
    them: one multi layer, one single layer, one span layer (the default schema)."""

    def __init__(self, schema: LabelSchema):
        def layer(kind: str):
            return next(lay for lay in schema.layers if lay.kind == kind)

        self.multi, self.single, self.span = layer("multi"), layer("single"), layer("span")
        self.multi_keys = {lab.key: lab.id for lab in self.multi.labels if lab.key}
        self.single_keys = {lab.key: lab.id for lab in self.single.labels if lab.key}
        self.span_keys = {lab.key: lab.id for lab in self.span.labels if lab.key}
        ok = re.compile(r"^[A-Za-z0-9]$")  # keys tmux sends as themselves
        assert all(ok.match(k) for k in (*self.multi_keys, *self.single_keys, *self.span_keys))
        self._multi_line = re.compile(r"^\s*(\S+) \[(x| )\] ")
        self._single_line = re.compile(r"^\s*(\S+) \((•| )\) ")
        self._span_lines = {
            lab.id: re.compile(rf"^\s*{re.escape(lab.key)} (?:\S: )?{re.escape(lab.name)}"
                               r"(?: \((\d+)\))?\s*$")
            for lab in self.span.labels if lab.key}

    def parse(self, screen: str) -> Shown | None:
        """The screen as a `Shown`, or None while it is not (fully) drawn."""
        m = HEADER.search(screen)
        if m is None:
            return None
        unit = 0 if m.group(4) == "title" else int(m.group(5))
        multi: dict[str, bool] = {}
        single: dict[str, bool] = {}
        counts: dict[str, int] = {}
        for line in screen.splitlines():
            if "▏" not in line:
                continue
            panel = line.rsplit("▏", 1)[1]
            if (x := self._multi_line.match(panel)) and x.group(1) in self.multi_keys:
                multi[self.multi_keys[x.group(1)]] = x.group(2) == "x"
            elif (x := self._single_line.match(panel)) and x.group(1) in self.single_keys:
                single[self.single_keys[x.group(1)]] = x.group(2) == "•"
            else:
                for label, rx in self._span_lines.items():
                    if x := rx.match(panel):
                        counts[label] = int(x.group(1) or 0)
        if (len(multi) != len(self.multi_keys) or len(single) != len(self.single_keys)
                or len(counts) != len(self._span_lines)):
            return None
        on = [label for label, v in single.items() if v]
        if len(on) > 1:
            return None
        span = SPAN_MODE.search(screen)
        return Shown(
            pos=(m.group(3), unit), done=m.group(8) == "✓ done", done_total=int(m.group(6)),
            multi=frozenset(k for k, v in multi.items() if v), single=on[0] if on else None,
            counts=tuple(sorted((k, v) for k, v in counts.items() if v)),
            span=(int(span.group(1)), int(span.group(2))) if span else None)

    def unit_state(self, state: dict | None) -> UnitState:
        """A stored unit state (journal JSON) as the model sees it."""
        if not state:
            return EMPTY
        labels = state.get("labels") or {}
        return UnitState(
            multi=frozenset(labels.get(self.multi.id) or ()),
            single=labels.get(self.single.id),
            spans=tuple(sorted((s["label"], s["start"], s["end"])
                               for s in state.get("spans") or [] if s["layer"] == self.span.id)),
            done=state.get("status") == "done")


# --- the model ---------------------------------------------------------------------------

@dataclass
class Model:
    """The journal and the screen as they must be after the keys confirmed so far."""
    keys: Keys
    order: list[Pos]  # every unit, in corpus order
    texts: dict[Pos, str]
    states: dict[Pos, UnitState] = field(default_factory=dict)
    active: list[Event] = field(default_factory=list)  # undo stack (top last)
    undone: list[Event] = field(default_factory=list)  # redo stack (top last)
    events: int = 0  # rows in the journal's events table (undo / redo included)
    pos: Pos = ("", 0)
    span_mode: bool = False
    cursor: int = 0

    def copy(self) -> Model:
        return dataclasses.replace(self, states=dict(self.states), active=list(self.active),
                                   undone=list(self.undone))

    def state(self, pos: Pos | None = None) -> UnitState:
        return self.states.get(pos or self.pos, EMPTY)

    def shown(self) -> Shown:
        st = self.state()
        return Shown(self.pos, st.done, sum(s.done for s in self.states.values()), st.multi,
                     st.single, st.counts(), (self.cursor, self.cursor + 1)
                     if self.span_mode else None)

    def text(self) -> str:
        return self.texts[self.pos]

    # -- keys -----------------------------------------------------------------------
    def press(self, key: str) -> tuple[Model, bool]:
        """The model after `key`, and whether the key stores an event."""
        m = self.copy()
        k = self.keys
        st = m.state()
        if key in k.multi_keys:
            label = k.multi_keys[key]
            return m._act(dataclasses.replace(st, multi=st.multi ^ {label}, done=True)), True
        if key in k.single_keys:
            label = k.single_keys[key]
            single = None if st.single == label else label
            return m._act(dataclasses.replace(st, single=single, done=True)), True
        if key in k.span_keys:
            assert m.span_mode and not m.text()[m.cursor].isspace()
            span = (k.span_keys[key], m.cursor, m.cursor + 1)
            m._act(dataclasses.replace(st, spans=tuple(sorted((*st.spans, span))), done=True))
            m.span_mode = False
            return m, True
        if key == "v":
            m.span_mode = not m.span_mode
        elif key == "l":
            m.cursor = min(m.cursor + 1, len(m.text()) - 1)
        elif key == "w":
            text = m.text()
            w = WORD.match(text, m.cursor)
            n = WORD.search(text, w.end() if w else m.cursor + 1)
            m.cursor = min(n.start(), len(text) - 1) if n else m.cursor
        elif key in ("j", "k"):
            assert not m.span_mode, "j/k in span mode move a visual row"
            i = m.order.index(m.pos) + (1 if key == "j" else -1)
            if 0 <= i < len(m.order):
                m._go(m.order[i])
        elif key == "Enter":
            m._act(dataclasses.replace(st, done=True))
            i = m.order.index(m.pos) + 1
            if i < len(m.order):
                m._go(m.order[i])
            return m, True
        elif key in ("u", "C-r"):
            source, target = (m.active, m.undone) if key == "u" else (m.undone, m.active)
            ev = source.pop()
            target.append(ev)
            m.states[ev.pos] = ev.before if key == "u" else ev.after
            m.events += 1
            if ev.pos != m.pos:
                m._go(ev.pos)
            return m, True
        else:
            raise ValueError(key)
        return m, False

    def _act(self, after: UnitState) -> Model:
        self.active.append(Event(self.pos, self.state(), after))
        self.undone.clear()
        self.states[self.pos] = after
        self.events += 1
        return self

    def _go(self, pos: Pos) -> None:
        self.pos, self.cursor, self.span_mode = pos, 0, False

    # -- the script -------------------------------------------------------------------
    def choose(self, rng: random.Random) -> str:
        """A random next key whose result shows on screen (so it can be confirmed)."""
        k = self.keys
        now = self.shown()
        for _ in range(200):
            key = self._draw(rng, k)
            if key is None:
                continue
            nxt, _ = self.press(key)
            if nxt.shown() != now:
                return key
        raise AssertionError(f"no visible key to type at {self.pos}")

    def _draw(self, rng: random.Random, k: Keys) -> str | None:
        choices: list[tuple[float, str]] = [
            (3.0, rng.choice(sorted(k.multi_keys))),
            (1.0, rng.choice(sorted(k.single_keys))),
            (1.0 if self.active else 0.0, "u"),
            (0.5 if self.undone else 0.0, "C-r"),
        ]
        if self.span_mode:
            text, c = self.text(), self.cursor
            can_span = not text[c].isspace() and len(self.state().spans) < MAX_SPANS
            # (j/k in span mode move the cursor a visual row: the model does not wrap
            # text, so it leaves them out; tests/test_tui_spans.py covers them)
            choices += [(3.0, "l"), (3.0, "w"), (0.4, "v"),
                        (3.5 if can_span else 0.0, rng.choice(sorted(k.span_keys)))]
        else:
            choices += [(1.5, "j"), (0.8, "k"), (1.0, "Enter"),
                        (1.5 if self.texts[self.pos] else 0.0, "v")]
        weights = [w for w, _ in choices]
        return rng.choices([key for _, key in choices], weights)[0]

    # -- from the store -----------------------------------------------------------------
    def reload(self, rows: dict) -> None:
        """Take the journal's content (see `read_journal`): after a kill, the store is
        the truth about the in-flight key."""
        self.states = {p: s for p, s in rows["states"].items() if s != EMPTY}
        self.active, self.undone = rows["active"], rows["undone"]
        self.events = rows["events"]
        self.pos = rows["position"] or self.pos
        self.span_mode, self.cursor = False, 0


def read_journal(project: Path, who: str, keys: Keys) -> dict:
    """Everything the checks need from the journal, through the core, then closed."""
    proj = Project(project)
    try:
        journal = proj.store.journal(who)
        conn = journal.conn
        states = {(d, u): keys.unit_state(s) for d, u, s, _ in journal.iter_states()}
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]

        def stack(where: str, order: str) -> list[Event]:
            return [Event((d, u), keys.unit_state(json.loads(b) if b else None),
                          keys.unit_state(json.loads(a)), old=True)
                    for d, u, b, a in conn.execute(
                        f"SELECT doc_id, unit, before, after FROM events WHERE {where} "
                        f"AND kind NOT IN ('undo', 'redo') ORDER BY {order}")]

        return {"states": states, "events": events,
                "active": stack("undone = 0", "seq"),
                "undone": stack("undone = 1", "undone_by"),
                "position": journal.position(), "problems": journal.verify()}
    finally:
        proj.close()


def read_corpus(project: Path) -> tuple[list[Pos], dict[Pos, str]]:
    proj = Project(project)
    try:
        store = proj.store
        order, texts = [], {}
        for doc in store.iter_documents():
            for u in store.units(doc.id):
                order.append((doc.id, u.index))
                texts[(doc.id, u.index)] = u.text
        return order, texts
    finally:
        proj.close()


# --- the run ------------------------------------------------------------------------------

class CrashError(AssertionError):
    pass


@dataclass
class Stats:
    kills: int = 0
    keys_sent: int = 0
    actions_sent: int = 0  # keys that store an event (in-flight ones included)
    confirmed: int = 0  # of those, shown on screen before the kill
    events_stored: int = 0
    events_lost: int = 0
    inflight_stored: int = 0  # in-flight actions found in the store
    inflight_not_stored: int = 0
    inflight_shown: int = 0  # in-flight keys whose result made it to the screen
    torn_frames: int = 0  # frames captured half drawn (before the kill, or at death)
    replay_problems: int = 0
    reopen_mismatches: int = 0
    state_mismatches: int = 0
    screen_mismatches: int = 0
    cross_restart_undos: int = 0
    first_paint: list[float] = field(default_factory=list)
    kill_modes: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        relaunches = self.first_paint[1:]  # the first launch imports the corpus too
        paint = statistics.mean(relaunches) if relaunches else float("nan")
        modes = ", ".join(f"{k} {v}" for k, v in sorted(self.kill_modes.items()))
        return (f"crash safety: {self.kills} kills ({modes}), "
                f"{self.keys_sent} keys / {self.actions_sent} actions sent, "
                f"{self.confirmed} actions confirmed on screen, {self.events_stored} events "
                f"stored, {self.events_lost} lost, in-flight actions stored "
                f"{self.inflight_stored} / not stored {self.inflight_not_stored} "
                f"(in-flight results shown {self.inflight_shown}), {self.torn_frames} torn frames, "
                f"{self.replay_problems} replay problems, "
                f"{self.reopen_mismatches} reopen mismatches, {self.state_mismatches} state "
                f"mismatches, {self.screen_mismatches} screen mismatches, "
                f"{self.cross_restart_undos} cross-restart undos/redos, relaunch to first "
                f"paint {paint:.2f} s mean, {self.seconds:.1f} s")


class CrashRun:
    """One long scripted session in tmux, killed with SIGKILL `kills` times.
    `strict`: raise at the first problem (tests); else count it, re-read the store and
    go on (the bench)."""

    def __init__(self, project: Path, tmux: Tmux, who: str = "alice", seed: int = SEED,
                 strict: bool = True, log=None):
        self.project, self.tmux, self.who = project, tmux, who
        self.rng = random.Random(seed)
        self.strict = strict
        self.log = log or (lambda msg: None)
        self.stats = Stats()
        self.keys = Keys(load_schema(project / "schemas" / "framing-devices.yaml"))
        self.model: Model | None = None
        self.pid: int | None = None

    def problem(self, kind: str, message: str, count: int = 1) -> None:
        setattr(self.stats, kind, getattr(self.stats, kind) + count)
        self.stats.problems.append(message)
        self.log(f"PROBLEM {message}")
        if self.strict:
            raise CrashError(message)

    # -- the app -----------------------------------------------------------------------
    def argv(self) -> list[str]:
        return annotator_argv("annotate", "--project", str(self.project), "--as", self.who)

    def launch(self, report_exit: bool = False, argv: list[str] | None = None) -> Shown:
        """Start the app and wait for its first screen; check it opened where the model
        says (first launch: builds the model)."""
        t0 = time.monotonic()
        pid = self.tmux.start(argv or self.argv(), report_exit=report_exit)
        if argv is not None:  # a wrapper: the app is its child
            pid = child_pid(pid)
            self.tmux.pids.append(pid)
        self.pid = pid
        first = self.tmux.wait_for(lambda s: self.keys.parse(s) is not None,
                                   timeout=FIRST_PAINT_TIMEOUT)
        self.stats.first_paint.append(time.monotonic() - t0)
        shown = self.keys.parse(first)
        if self.model is None:
            # A new journal (not opened here while the app holds it): no states, and
            # the app opens at the first unit it has not annotated, the first one.
            order, texts = read_corpus(self.project)
            self.model = Model(self.keys, order, texts, pos=order[0])
        expected = self.model.shown()
        try:
            return self.wait_shown(expected)
        except TmuxError:
            shown = self.keys.parse(self.tmux.capture()) or shown
            if shown.pos != expected.pos:
                self.problem("reopen_mismatches", f"reopened at {shown.pos}, the saved "
                             f"position is {expected.pos}")
            else:
                self.problem("state_mismatches", f"reopened showing {shown}, the store "
                             f"holds {expected}")
            self.model.pos = shown.pos  # go on from where it is (not strict)
            self.model.span_mode = False
            return shown

    def wait_shown(self, expected: Shown, timeout: float = KEY_TIMEOUT) -> Shown:
        screen = self.tmux.wait_for(lambda s: self.keys.parse(s) == expected, timeout=timeout)
        return self.keys.parse(screen)

    def type_confirmed(self, n: int) -> None:
        """n keys, each once the screen shows its result."""
        for _ in range(n):
            key = self.model.choose(self.rng)
            nxt, event = self.model.press(key)
            self._count_undo(key)
            self.tmux.send(key)
            self.stats.keys_sent += 1
            self.stats.actions_sent += event
            try:
                self.wait_shown(nxt.shown())
            except TmuxError as exc:
                raise CrashError(f"key {key!r}: the screen never showed {nxt.shown()}; "
                                 f"{exc}") from None
            self.stats.confirmed += event
            self.model = nxt

    def _count_undo(self, key: str) -> None:
        stack = {"u": self.model.active, "C-r": self.model.undone}.get(key)
        if stack and stack[-1].old:
            self.stats.cross_restart_undos += 1

    # -- a segment ---------------------------------------------------------------------
    def segment(self) -> None:
        """Type some keys, kill the app at a random moment, check, relaunch."""
        rng = self.rng
        n = rng.randint(*KEYS_PER_SEGMENT)
        mode = rng.choices(["at once", "after 0-30 ms", "idle"], [0.35, 0.45, 0.2])[0]
        self.type_confirmed(n - 1 if mode != "idle" else n)
        inflight, nxt, event = None, None, False
        if mode != "idle":
            inflight = self.model.choose(rng)
            nxt, event = self.model.press(inflight)
            self._count_undo(inflight)
        delay = rng.uniform(0, 0.030) if mode == "after 0-30 ms" else 0.0
        if mode == "at once":
            pre = self.tmux.capture()
            self.tmux.send(inflight)
        elif inflight is not None:
            self.tmux.send(inflight)
            time.sleep(delay)
            pre = self.tmux.capture()
        else:
            pre = self.tmux.capture()
        os.kill(self.pid, signal.SIGKILL)
        if not pid_gone(self.pid, timeout=30):
            raise CrashError(f"pid {self.pid} survived SIGKILL")
        self.stats.kills += 1
        self.stats.kill_modes[mode] = self.stats.kill_modes.get(mode, 0) + 1
        if inflight is not None:
            self.stats.keys_sent += 1
            self.stats.actions_sent += event
        self.tmux.wait_dead(timeout=30)
        post = self.tmux.wait_stable(quiet=0.15, timeout=5)  # the dead pane's last frame
        self.log(f"kill {self.stats.kills}: {n} keys, {mode}"
                 f"{f' {delay * 1000:.0f} ms' if delay else ''}, in flight {inflight!r}")
        self.check_after_exit(inflight, nxt, event, [("before the kill", pre),
                                                     ("after death", post)])
        self.launch()

    def check_after_exit(self, inflight: str | None, nxt: Model | None, event: bool,
                         frames: list[tuple[str, str]], what: str | None = None) -> None:
        """The checks of the module docstring, the app being gone; then the model is
        re-read from the store."""
        m, k = self.model, self.keys
        rows = read_journal(self.project, self.who, k)
        stored = rows["states"]
        base = m.events  # events of the actions confirmed on screen
        extra = rows["events"] - base
        where = f"{what or f'kill {self.stats.kills}'} (in flight {inflight!r})"
        if rows["problems"]:
            self.problem("replay_problems", f"{where}: verify(): {rows['problems'][:5]}")
        if extra < 0:
            self.problem("events_lost", f"{where}: {-extra} confirmed event(s) not stored "
                         f"({rows['events']} stored, {base} confirmed)", count=-extra)
        if extra > int(event):
            self.problem("state_mismatches", f"{where}: {extra} event(s) beyond the "
                         f"confirmed ones; the in-flight key stores {int(event)}")
        took = event and extra == 1
        if event:
            self.stats.inflight_stored += took
            self.stats.inflight_not_stored += not took
        expect = nxt if took else m

        def same(a: dict, b: dict) -> bool:
            return ({p: s for p, s in a.items() if s != EMPTY}
                    == {p: s for p, s in b.items() if s != EMPTY})

        if not same(stored, expect.states):
            diff = {p: (expect.states.get(p, EMPTY), stored.get(p, EMPTY))
                    for p in stored.keys() | expect.states.keys()
                    if expect.states.get(p, EMPTY) != stored.get(p, EMPTY)}
            self.problem("state_mismatches", f"{where}: stored states differ from the "
                         f"confirmed actions{' + the in-flight one' if took else ''}: "
                         f"(expected, stored) {diff}")
        if [e.pos for e in rows["active"]] != [e.pos for e in expect.active] or \
                [e.pos for e in rows["undone"]] != [e.pos for e in expect.undone]:
            self.problem("state_mismatches", f"{where}: the undo / redo stacks differ")

        # the frames: a screen the model allows; what they show is stored
        before, after = m.shown(), nxt.shown() if nxt is not None else None
        was, now = before.cells(k), after.cells(k) if after is not None else {}
        shown_inflight = False
        for name, frame in frames:
            if TRACEBACK.search(frame):
                self.problem("screen_mismatches", f"{where}: an error on screen:\n{frame}")
            shown = k.parse(frame)
            if shown is None:  # torn mid-line: nothing to read, nothing to hold it to
                self.stats.torn_frames += 1
                continue
            cells = shown.cells(k)
            odd = {c: v for c, v in cells.items() if v != was[c] and v != now.get(c, v)}
            if after is None:
                odd = {c: v for c, v in cells.items() if v != was[c]}
            if odd:
                self.problem("screen_mismatches", f"{where}: the frame {name} shows {odd}, "
                             f"which is neither {before} nor, after the in-flight key, "
                             f"{after}:\n{frame}")
                continue
            new = {c for c, v in cells.items() if after is not None and v == now[c] != was[c]}
            whole = shown in (before, after)
            self.stats.torn_frames += not whole
            if whole:
                # the labels shown on the focused unit are the stored ones, or the
                # stored ones are those plus exactly the in-flight action
                unit_stored = _labels(stored.get(shown.pos, EMPTY))
                plus_inflight = (took and shown.labels() == _labels(m.state(shown.pos))
                                 and unit_stored == _labels(nxt.state(shown.pos)))
                if unit_stored != shown.labels() and not plus_inflight:
                    self.problem("state_mismatches", f"{where}: the frame {name} shows "
                                 f"{shown.labels()} on {shown.pos}; the store holds "
                                 f"{unit_stored}")
            if new:  # some of the in-flight key's result was on screen: it is stored
                if event and not took and not shown_inflight:
                    self.problem("events_lost", f"{where}: the frame {name} shows the "
                                 f"in-flight action ({sorted(map(str, new))}), the store "
                                 "does not hold it")
                shown_inflight = True
                if "pos" in new and rows["position"] != after.pos:
                    self.problem("reopen_mismatches", f"{where}: the frame {name} shows "
                                 f"{after.pos}, the saved position is {rows['position']}")

        self.stats.inflight_shown += shown_inflight
        # the position the next launch opens at
        allowed = {before.pos} | ({after.pos} if after is not None else set())
        if rows["position"] not in allowed:
            self.problem("reopen_mismatches", f"{where}: saved position "
                         f"{rows['position']}, the screen was at {before.pos}"
                         f"{f' or, after the in-flight key, {after.pos}' if after else ''}")
        elif event and not took and after is not None and rows["position"] == after.pos \
                and after.pos != before.pos:
            self.problem("reopen_mismatches", f"{where}: the in-flight key's move was saved "
                         "but not its action")
        m.reload(rows)
        self.stats.events_stored = rows["events"]

    def run(self, kills: int) -> Stats:
        t0 = time.monotonic()
        self.launch()
        while self.stats.kills < kills:
            self.segment()
        self.stats.events_stored = self.model.events
        self.stats.seconds = time.monotonic() - t0
        return self.stats


def _labels(state: UnitState) -> tuple:
    return state.multi, state.single, state.counts(), state.done


# --- tests ----------------------------------------------------------------------------------

@pytest.fixture
def tmux(request: pytest.FixtureRequest):
    with Tmux.for_test(request, width=WIDTH, height=HEIGHT) as t:
        yield t


def _crash_run(tmp_path: Path, tmux: Tmux, kills: int, seed: int) -> Stats:
    run = CrashRun(make_project(tmp_path), tmux, seed=seed, strict=True)
    try:
        stats = run.run(kills)
    finally:
        print(f"seed {seed}: {run.stats.summary()}")
    assert stats.kills == kills
    assert stats.events_lost == stats.replay_problems == stats.reopen_mismatches == 0
    assert stats.state_mismatches == stats.screen_mismatches == 0
    assert stats.problems == []
    assert stats.confirmed > 0 and stats.events_stored >= stats.confirmed
    return stats


def test_sigkill_at_random_moments(tmp_path: Path, tmux: Tmux) -> None:
    _crash_run(tmp_path, tmux, kills=5, seed=SEED)


@pytest.mark.stress
def test_sigkill_at_random_moments_50(tmp_path: Path, tmux: Tmux) -> None:
    stats = _crash_run(tmp_path, tmux, kills=50, seed=SEED + 50)
    assert stats.cross_restart_undos > 0
    assert stats.inflight_stored > 0 and stats.inflight_not_stored > 0


def _after_signal(run: CrashRun, frame: str, inflight: str, nxt: Model, event: bool) -> None:
    """The store checks of a kill, then a relaunch at the same unit."""
    run.check_after_exit(inflight, nxt, event, [("at exit", frame)], what="exit")
    run.launch()


def _type_then_inflight(run: CrashRun) -> tuple[str, Model, bool, str]:
    """Eight keys confirmed on screen, then one more sent: (that key, the model after
    it, whether it stores an event, the screen right after sending it)."""
    run.type_confirmed(8)
    inflight = run.model.choose(run.rng)
    nxt, event = run.model.press(inflight)
    run.tmux.send(inflight)
    return inflight, nxt, event, run.tmux.capture()


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_signal_exits_cleanly_and_keeps_everything(tmp_path: Path, tmux: Tmux,
                                                   sig: signal.Signals) -> None:
    """SIGHUP / SIGTERM to the app, one key still in flight: exit status 0, no
    traceback, every shown action stored, the journal sound, reopened at the unit."""
    run = CrashRun(make_project(tmp_path), tmux, seed=SEED + sig)
    run.launch(report_exit=True)
    inflight, nxt, event, frame = _type_then_inflight(run)
    os.kill(run.pid, sig)
    status = tmux.exit_status(timeout=30)
    screen = tmux.capture()
    assert status == 0, screen
    assert not TRACEBACK.search(screen), screen
    _after_signal(run, frame, inflight, nxt, event)
    assert run.stats.problems == []


def _terminal_closes(tmp_path: Path, tmux: Tmux, seed: int, forward_hangup: bool,
                     gone_within: float) -> None:
    """The app under a wrapper that outlives its pane (and passes the hang-up on to it
    or not), one key in flight; tmux closes the pane. The app must be gone within
    `gone_within` s with exit status 0, nothing shown lost, and reopen at the unit."""
    run = CrashRun(make_project(tmp_path), tmux, seed=seed)
    status_file = tmp_path / "exit-status"
    run.launch(argv=exit_recorder_argv(status_file, run.argv(), forward_hangup=forward_hangup))
    inflight, nxt, event, frame = _type_then_inflight(run)
    tmux.kill_session()
    assert pid_gone(run.pid, timeout=gone_within), "the app outlived its terminal"
    assert read_exit_file(status_file, timeout=30) == 0
    _after_signal(run, frame, inflight, nxt, event)
    assert run.stats.problems == []


def test_terminal_hangup_exits_cleanly_and_keeps_everything(tmp_path: Path,
                                                            tmux: Tmux) -> None:
    """The SSH link drops: tmux closes the pane, the app gets SIGHUP with its terminal
    gone. It exits 0 (recorded by a wrapper that outlives the pane), and nothing shown
    is lost."""
    _terminal_closes(tmp_path, tmux, SEED + 99, forward_hangup=True, gone_within=30)


def test_terminal_gone_without_sighup_the_app_exits(tmp_path: Path, tmux: Tmux) -> None:
    """The terminal goes away but no SIGHUP comes: the kernel sends it to the session
    leader only, and this one (a wrapper, as some launchers and shells are) lives on
    without passing it on. Reads of the dead terminal then return end-of-file at once;
    the app must notice and leave (exit 0, everything stored), not spin on it for ever
    (Textual's input thread does: half a core) holding the annotator's session lock."""
    _terminal_closes(tmp_path, tmux, SEED + 7, forward_hangup=False, gone_within=15)

"""An export read over two processes (`validate.read_export`, so `annotator validate`
and `annotator agreement FILE`): at 200,000 units reading and checking the file is
most of either command, one core's worth of Python, and the machine has two.

The file is cut at the first line start after `SHARE` of its bytes. This process
reads and checks the lines before the cut; a child (`python -P -m
annotator.read_split`, the job pickled on its stdin) reads and checks the rest with
the same `validate.ExportReader`, numbering its lines from 1, and returns its columns
in a compact form on its stdout (arrays of integers, each distinct name or document
id once; lists only for what is rare: problems, spans, statuses). `join` adds them to
this process's reader as if it had read on: lines, annotations and value codes
shifted, the schemas named merged in order. The checks that span records (a unit
twice, one schema for all records, names differing only by case or normalisation)
run after the join (`ExportReader.finish`), so problems and messages, and the ratings,
are those of one pass (tests/test_read_split.py compares them).

When the child cannot start or fails, or checked its records against another label
schema than one pass would have (a file naming two schemas: an error anyway), its
part is read again here.

`ANNOTATOR_READ_WORKERS=1` reads every export in one process; `=2` splits any file
of two lines or more (tests use it on small files). By default a file is split from
`MIN_BYTES` on, when two cores are usable and not all taken already (`_busy`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import threading
from array import array
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

WORKERS_ENV = "ANNOTATOR_READ_WORKERS"
# Below this, what the split costs (0.1-0.15 s of CPU: the child's interpreter,
# msgspec and label schema, its columns packed, sent and joined) is more than half the
# reading saves. Measured (`bench_agreement_export.py --crossover`, the bench's records
# of ~1 KB, 2026-12-03, bench/RESULTS.md): at 10, 20 and 39 MB one process is as fast
# or faster (39 MB at load 1.9: validate 0.45 s vs 0.49 s, agreement 0.53 s vs
# 0.61 s); at 197 MB two processes win (agreement 1.26 s vs 1.73 s, load 1.9).
MIN_BYTES = 64 << 20
# Where the cut is: the child's share is less than half, as it starts later (~0.07 s
# of CPU) and packs and sends its columns at the end (~0.06 s at 100 MB) ...
SHARE = 0.55
# ... and half when it starts before the caller's imports (`start_early`, ~0.1 s)
EARLY_SHARE = 0.5


def cut(path: Path, total: int, share: float = SHARE) -> int | None:
    """Where the child's part starts (a line's start), or None: one process."""
    from annotator.child import usable_cores

    env = os.environ.get(WORKERS_ENV, "").strip()
    if env.isdigit() and int(env) < 2:
        return None
    forced = env.isdigit() and int(env) >= 2
    if not forced and (total < MIN_BYTES or usable_cores() < 2 or _busy()):
        return None
    with open(path, "rb") as fh:
        fh.seek(int(total * share))
        fh.readline()  # to the next line's start
        at = fh.tell()
    return at if 0 < at < total else None


def _busy() -> bool:
    """Whether the cores are taken already (1-minute load average at least one more
    than the cores): the child then only adds its CPU. Measured on 2 cores, 200,000
    units, `agreement`: at load 3.7 2.92 s in two processes, 2.41 s in one; at load
    1.2-2.3 1.22-1.53 s in two, 1.73-1.86 s in one (bench/RESULTS.md, 2026-12-03)."""
    from annotator.child import usable_cores

    try:
        return os.getloadavg()[0] >= usable_cores() + 1
    except (OSError, AttributeError):
        return False


def read_all(reader: Any, total: int, progress: Callable[[int, int], None] | None) -> int:
    """Read the whole file into `reader` (a validate.ExportReader at its start): in two
    processes when `cut` says so, else in this one. Returns how many read it."""
    at, proc = _adopt(reader, total)
    if proc is None:
        at = cut(reader.path, total)
        proc = None if at is None else _start(_job(reader, at, total))
    if proc is None:
        reader.read(total, progress, total)
        return 1
    # this process's bytes stand for the whole file's progress
    part = None if progress is None else (lambda n, t: progress(n * t // at, t))
    try:
        reader.read(at, part, total)
        result = _result(proc)
    except BaseException:
        _stop(proc)
        raise
    if result is None or not _same_schema(reader, result):
        reader.read(total, progress, total)  # the rest here, as if never split
        return 1
    join(reader, result)
    return 2


def _job(reader: Any, at: int, total: int) -> dict:
    return {"path": str(reader.path), "start": at, "end": total,
            "record_schema": reader.checker.name, "given": reader.given, "given_path": None,
            "project_dir": None if reader.project_dir is None else str(reader.project_dir),
            "coded": getattr(reader.col, "values", None) is not None}


# A child started by `start_early`, waiting for the read it was started for:
# (what that read must match, where the child's part starts, the child).
_early: list[tuple[tuple, int, subprocess.Popen]] = []


def _early_key(path: Path, record_schema: str, project_dir: Any, coded: bool,
               given: bool) -> tuple:
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns, record_schema,
            None if project_dir is None else str(project_dir), coded, given)


def start_early(path: Path, schema: str | Path | None, project_dir: Any,
                coded: bool) -> None:
    """Start the child for a read of `path` that is about to come (`agreement FILE`
    calls this before importing the agreement package and numpy, ~0.1 s that then
    overlap the child's start and part). The read adopts it if the file and its
    options are the ones it was started for (`_adopt`); else it is stopped."""
    stop_early()
    with contextlib.suppress(OSError):
        if not path.is_file():
            return
        from annotator.validate import first_record_schema

        total = path.stat().st_size
        record_schema = first_record_schema(path)
        at = None if record_schema is None else cut(path, total, EARLY_SHARE)
        if at is None:
            return
        job = {"path": str(path), "start": at, "end": total, "record_schema": record_schema,
               "given": None, "given_path": None if schema is None else str(schema),
               "project_dir": None if project_dir is None else str(project_dir),
               "coded": coded}
        proc = _start(job)
        if proc is not None:
            _early.append((_early_key(path, record_schema, project_dir, coded,
                                      schema is not None), at, proc))


def stop_early() -> None:
    """Stop a child `start_early` started that no read adopted."""
    while _early:
        _stop(_early.pop()[2])


def _adopt(reader: Any, total: int) -> tuple[int, subprocess.Popen | None]:
    if not _early:
        return 0, None
    key, at, proc = _early.pop()
    stop_early()
    try:
        mine = _early_key(reader.path, reader.checker.name, reader.project_dir,
                          getattr(reader.col, "values", None) is not None,
                          reader.given is not None)
    except OSError:
        mine = None
    if mine != key or key[1] != total:
        _stop(proc)
        return 0, None
    return at, proc


def _start(job: dict) -> subprocess.Popen | None:
    from annotator.child import spawn

    try:
        data = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None
    try:
        proc = spawn("annotator.read_split", [], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:
        return None
    # a thread: a job larger than the pipe's buffer would block until the child reads
    threading.Thread(target=_send, args=(proc.stdin, data), daemon=True).start()
    return proc


def _send(pipe: Any, data: bytes) -> None:
    with contextlib.suppress(OSError, ValueError), pipe:
        pipe.write(data)


def _result(proc: subprocess.Popen) -> dict | None:
    """The child's part, or None when it failed."""
    try:
        data = proc.stdout.read()
    finally:
        proc.stdout.close()
    if proc.wait() != 0 or not data:
        return None
    try:
        return pickle.loads(data)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError):
        return None


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(OSError, ValueError):
        proc.stdout.close()
    proc.wait()


def _same_schema(reader: Any, result: dict) -> bool:
    """Whether the child checked its records against the label schema one pass would
    have: the schema given, or the first found of those the file names."""
    if reader.given is not None:
        return result["given_sha"] == reader.given.sha256
    mine = reader.first_found()
    # the schema found, not the reference to it (which may name no sha256, or a wrong one)
    return mine is None or result["first_found"] in (None, _found(reader.resolved[mine]))


def _found(schema: Any) -> tuple[str, str, str]:
    return (schema.id, str(schema.version), schema.sha256)


# ---------------------------------------------------------------- the child's part


def _ints(values: Any) -> array | list:
    """Integers as an array (pickled as bytes), or the list itself when one is not a
    machine integer (a paragraph number as 1.0 through the lax path, a huge one)."""
    values = list(values)
    try:
        return array("q", values)
    except (TypeError, OverflowError):
        return values


def compact(reader: Any) -> dict:
    """What `join` needs of a reader's part, in a form that pickles fast."""
    col = reader.col
    first = reader.first_found()
    docs = list(reader.doc_ids)
    doc_code = {d: k for k, d in enumerate(docs)}
    names = list(dict.fromkeys(col.ann_name))
    name_code = {n: k for k, n in enumerate(names)}
    kept = None
    if len(reader.rec_lines) != len(reader.all_lines):  # some name another schema
        collected = set(reader.rec_lines)
        kept = bytes(line in collected for line in reader.all_lines)
    return {
        "lines": reader.lines, "offset": reader.offset, "records": reader.records,
        "problems": reader.problems, "refs": reader.refs,
        "first_found": None if first is None else _found(reader.resolved[first]),
        "replaced": sorted(reader.replaced),
        "docs": docs, "key_doc": array("q", [doc_code[k[0]] for k in reader.all_keys]),
        "key_par": _ints(k[1] for k in reader.all_keys), "all_lines": array("q", reader.all_lines),
        "kept": kept,
        "lengths": _ints(-1 if n is None else n for n in col.unit_lengths),
        "first_ann": array("q", col.first_ann),
        "names": names, "ann_name": array("q", map(name_code.__getitem__, col.ann_name)),
        "lab_ann": array("q", col.lab_ann), "lab_code": array("q", col.lab_code),
        "values": None if col.values is None else list(col.values),
        "span_anns": col.span_anns, "not_done": col.not_done, "skipped": col.skipped,
        "decided": col.decided,
    }


def join(reader: Any, part: dict) -> None:
    """Add a part read after `reader`'s lines (`compact` of another reader) to it. The
    columns of integers become numpy arrays (RatingsCollector makes them so anyway);
    validate's throw-away columns (`_Columns.ratings`) are left out."""
    import numpy as np

    col = reader.col
    lines, g = reader.lines, len(col.ann_name)

    def ints(values: Any) -> np.ndarray:
        return np.frombuffer(values, np.int64) if len(values) else np.zeros(0, np.int64)

    def joined(mine: Any, theirs: Any, by: int) -> np.ndarray:
        return np.concatenate([np.asarray(mine, np.int64), ints(theirs) + by])

    reader.problems.extend((ln + lines, replace(p, line=p.line + lines) if p.line else p)
                           for ln, p in part["problems"])
    for key, (line, n) in part["refs"].items():
        if key in reader.refs:
            reader.refs[key][1] += n
        else:
            reader.refs[key] = [line + lines, n]
            reader.resolved[key] = reader.resolve(key)
    reader.replaced.update(ln + lines for ln in part["replaced"])
    docs = [reader.doc_ids.setdefault(d, d) for d in part["docs"]]
    pars = part["key_par"]
    pars = ints(pars).tolist() if isinstance(pars, array) else pars
    keys = list(zip(map(docs.__getitem__, part["key_doc"]), pars, strict=True))
    all_lines = (ints(part["all_lines"]) + lines).tolist()
    reader.all_keys.extend(keys)
    reader.all_lines.extend(all_lines)
    if part["kept"] is not None:
        keys = [k for k, on in zip(keys, part["kept"], strict=True) if on]
        all_lines = [ln for ln, on in zip(all_lines, part["kept"], strict=True) if on]
    reader.rec_lines.extend(all_lines)
    col.first_ann = joined(col.first_ann, part["first_ann"], g)
    # the annotator codes of both parts, for the checks of names (and the collector)
    mine = list(dict.fromkeys(col.ann_name))
    index = {n: k for k, n in enumerate(mine)}
    code_mine = np.fromiter(map(index.__getitem__, col.ann_name), np.int64, g)
    names = [reader.names.setdefault(n, n) for n in part["names"]]
    remap = np.array([index.setdefault(n, len(index)) for n in names] or [0], np.int64)
    reader.ann_codes = (list(index), np.concatenate([code_mine, remap[ints(part["ann_name"])]]))
    col.ann_name.extend(map(names.__getitem__, part["ann_name"]))
    reader.records += part["records"]
    reader.lines += part["lines"]
    reader.offset = part["offset"]
    if not getattr(col, "ratings", True):
        return
    col.unit_keys.extend(keys)
    col.unit_lengths.extend(None if n == -1 else n for n in part["lengths"])
    col.lab_ann = joined(col.lab_ann, part["lab_ann"], g)
    code = np.array([col.value_code(layer, key) for layer, key in part["values"]] or [0],
                    np.int64)
    col.lab_code = np.concatenate([np.asarray(col.lab_code, np.int64),
                                   code[ints(part["lab_code"])]])
    col.span_anns.extend((i + g, sp, rel) for i, sp, rel in part["span_anns"])
    col.not_done.extend(i + g for i in part["not_done"])
    col.skipped.extend(i + g for i in part["skipped"])
    col.decided.extend((i + g, d) for i, d in part["decided"])


def main() -> int:
    import gc

    gc.disable()  # as in the reader: no cycles, and collections would cost time
    job = pickle.load(sys.stdin.buffer)
    from annotator.validate import ExportReader, _Columns, record_checker

    given = job["given"]
    if job["given_path"] is not None:
        from annotator.errors import InputError
        from annotator.schema import load_schema

        try:
            given = load_schema(job["given_path"])
        except InputError:
            return 1  # the parent reports it
    reader = ExportReader(Path(job["path"]), record_checker(job["record_schema"]),
                          given, job["project_dir"], _Columns(coded=job["coded"]))
    reader.offset = job["start"]
    reader.read(job["end"])
    part = compact(reader)
    part["given_sha"] = None if given is None else given.sha256
    sys.stdout.buffer.write(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

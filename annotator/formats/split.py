"""An export split over two processes: at 1,000,000 units an export is 15-25 s of
single-threaded Python (reading states, building each format's records), and the
machine has more than one core.

The documents are split into two ranges of keys. This process writes the first range
as the export always does; a child (`python -m annotator.formats.split JOB RESULT`)
writes the second into a folder of its own, and the two parts are joined: a file
format's bytes appended (its header lines once), a folder format's files moved in, and
the files every document adds a line to (`SPLIT["append"]` of the format's module)
appended. The result is byte for byte the one-process output (tests/test_export_split.py).

Each process reads a snapshot of its own. Both take `SQLiteStore.snapshot_mark`; when
the marks differ (an annotator or an import wrote between the two starts), or the
child failed, or a format's ids would collide across the parts (`SPLIT["distinct"]`),
the parts are dropped and the export runs again in one process: never a mix of two
moments, never a different output.

`ANNOTATOR_EXPORT_WORKERS=1` keeps every export in one process; `=2` splits any export
of a format that allows it (tests use it on small projects). By default an export is
split when the store holds at least `MIN_DOCS` documents and there are two cores.
"""

from __future__ import annotations

import fnmatch
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from annotator.child import usable_cores
from annotator.formats.loss import LossReport, _Kind

WORKERS_ENV = "ANNOTATOR_EXPORT_WORKERS"
# Below this, the child's start (~0.3 s of imports) is not worth it.
MIN_DOCS = 5_000


class Mismatch(Exception):
    """The parts cannot be joined into the one-process output: export in one process."""


@dataclass
class Job:
    """What the child needs to write its part: how to open the store, the schema, the
    export's options and its range of document keys."""

    root: Path
    blind: bool
    team: object
    project_root: Path | None
    schema: object  # LabelSchema
    fmt: str | None  # None: the default export's records (`iter_records`)
    annotator: str | None
    gold: bool | str  # records: "with" / "only"; formats: --gold
    offsets: str | None
    keys: tuple[int, int]
    dest: Path
    kind: str  # "file", "dir" or "zip" (a folder until the parent zips it)


def key_ranges(store, fmt: str | None, spec=None) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """(this process's keys, the child's keys), or None: one process."""
    from annotator.store.sqlite import SQLiteStore

    if not isinstance(store, SQLiteStore):
        return None
    if spec is not None:
        import importlib

        if getattr(importlib.import_module(spec.write.__module__), "SPLIT", None) is None:
            return None
    env = os.environ.get(WORKERS_ENV, "").strip()
    forced = env.isdigit() and int(env) >= 2
    if env.isdigit() and int(env) < 2:
        return None
    lo, hi = store.conn.execute("SELECT min(key), max(key) FROM documents").fetchone()
    if lo is None or hi <= lo:
        return None
    if not forced and (usable_cores() < 2 or hi - lo + 1 < MIN_DOCS):
        return None
    mid = (lo + hi) // 2
    return (lo, mid), (mid + 1, hi)


def _rules(spec) -> dict:
    import importlib

    return getattr(importlib.import_module(spec.write.__module__), "SPLIT", None) or {}


def start(job: Job, work: Path) -> subprocess.Popen | None:
    """Start the child on `job`; its result goes to `work`/result.pickle. None: it
    could not be started (the export then runs in one process)."""
    from annotator.child import spawn

    try:
        (work / "job.pickle").write_bytes(pickle.dumps(job))
    except (pickle.PicklingError, TypeError, AttributeError, OSError):
        return None  # e.g. a store option that does not pickle
    try:
        with open(work / "stderr.txt", "wb") as err:
            return spawn("annotator.formats.split",
                         [str(work / "job.pickle"), str(work / "result.pickle")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    except OSError:
        return None


def start_part(job: Job, work: Path, mine: tuple[int, int], theirs: tuple[int, int],
               progress: Callable[[int, int], None] | None,
               ) -> tuple[subprocess.Popen, Callable[[int, int], None] | None] | None:
    """`start`, and the progress callback for this process's part (its documents count
    for the whole export's share); None (the work directory removed): no child."""
    proc = start(job, work)
    if proc is None:
        shutil.rmtree(work, ignore_errors=True)
        return None
    share = (mine[1] - mine[0] + 1) / (theirs[1] - mine[0] + 1)
    part_progress = None if progress is None else (
        lambda n, total: progress(min(total, round(n / share)), total))
    return proc, part_progress


def finish(proc: subprocess.Popen, work: Path, mark: list) -> dict:
    """The child's result ({"n", "mark", "lost", "changed"}); raises Mismatch when it
    failed or read another snapshot than this process's `mark`."""
    if proc.wait() != 0 or not (work / "result.pickle").exists():
        raise Mismatch("the second process failed")
    result = pickle.loads((work / "result.pickle").read_bytes())
    if not mark or result["mark"] != mark[0]:
        raise Mismatch("the store changed between the two snapshots")
    return result


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def merge_loss(loss: LossReport, result: dict) -> None:
    """Add the child's entries as if its documents had come after this process's."""
    for table, other in ((loss.lost, result["lost"]), (loss.changed, result["changed"])):
        for what, kind in (other or {}).items():
            mine = table.setdefault(what, _Kind())
            mine.count += kind.count
            room = loss.examples - len(mine.examples)
            if room > 0:
                mine.examples.extend(kind.examples[:room])


def append_file(src: Path, dst_fh, header: int = 0) -> None:
    """`src`'s bytes, without its first `header` lines, written to `dst_fh`."""
    with open(src, "rb") as fh:
        for _ in range(header):
            fh.readline()
        shutil.copyfileobj(fh, dst_fh, 1 << 20)


def join_file(dest: Path, part: Path, split: dict, n: int) -> None:
    """Append the child's file to this process's (`n` records): with its header lines
    left out, or by the format's own `join(dest, part, n)` (Label Studio numbers its
    tasks)."""
    if "join" in split:
        split["join"](dest, part, n)
        return
    with open(dest, "ab") as out:
        append_file(part, out, split.get("header", 0))


def join_dir(dest: Path, part: Path, split: dict) -> None:
    """Move the child's files into this process's folder: files of `append` appended
    (without their header lines), files both wrote the same kept once, any other
    replaced (the later document's, as one process writing both would leave it)."""
    appends: dict[str, int] = split.get("append", {})
    distinct = split.get("distinct")
    if distinct is not None:
        name, header = distinct
        if (part / name).exists() and (dest / name).exists():
            def first_column(path: Path) -> set[bytes]:
                with open(path, "rb") as fh:
                    lines = fh.read().split(b"\n")[header:]
                return {line.split(b"\t", 1)[0] for line in lines if line}
            if first_column(part / name) & first_column(dest / name):
                raise Mismatch(f"ids in {name} repeat across the parts")
    for top, dirs, names in os.walk(part):
        rel_top = os.path.relpath(top, part)
        target_top = dest if rel_top == "." else dest / rel_top
        for d in dirs:
            os.makedirs(target_top / d, exist_ok=True)
        for name in names:
            rel = name if rel_top == "." else f"{rel_top}/{name}"
            src, dst = os.path.join(top, name), target_top / name
            header = next((h for pat, h in appends.items() if fnmatch.fnmatchcase(rel, pat)),
                          None)
            if header is not None and dst.exists():
                with open(dst, "ab") as out:
                    append_file(Path(src), out, header)
            elif header is None and dst.exists() and _same(Path(src), dst):
                continue
            else:
                os.replace(src, dst)


def _same(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def run(job: Job) -> dict:
    """The child's part: `job.keys` of the export, written to `job.dest`."""
    from annotator.export import _write_lines, iter_records
    from annotator.formats.exporting import choose_sources, iter_export_docs
    from annotator.formats.model import ExportContext, LabelIndex
    from annotator.formats.registry import get_format
    from annotator.store.sqlite import SQLiteStore

    store = SQLiteStore(job.root, blind=job.blind, team=job.team,
                        project_root=job.project_root)
    mark: list = []
    try:
        if job.fmt is None:
            records = iter_records(store, job.schema, gold=str(job.gold), keys=job.keys,
                                   mark=mark)
            with open(job.dest, "wb") as fh:
                n = _write_lines(records, fh.write)
            lost = changed = None
        else:
            spec = get_format(job.fmt)
            sources = choose_sources(store, job.annotator, bool(job.gold))
            loss = LossReport(job.fmt)
            ctx = ExportContext(job.schema, LabelIndex(job.schema), loss,
                                [name for name, _ in sources], job.offsets or "",
                                bool(job.gold))
            if job.kind != "file":
                job.dest.mkdir()
            if _rules(spec).get("inline"):
                ctx.part = "child"
            docs = iter_export_docs(store, sources, job.schema, loss, None, job.keys, mark)
            n = spec.write(docs, job.dest, ctx)
            lost, changed = loss.lost, loss.changed
    finally:
        store.close()
    if not mark:  # no document read at all: the snapshot was never taken
        raise Mismatch("nothing read")
    return {"n": n, "mark": mark[0], "lost": lost, "changed": changed}


def main(argv: list[str]) -> int:
    job = pickle.loads(Path(argv[0]).read_bytes())
    result = run(job)
    Path(argv[1]).write_bytes(pickle.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""`parquet`: the `csv` table (annotator.formats.csv_table) as Parquet, with types
(paragraph, start, end integers; flag boolean; seconds float). Needs pyarrow:
`pip install 'annotator[parquet]'`. Written in row groups, so memory stays flat.

    pd.read_parquet("x.parquet").query("kind == 'span'")
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from annotator.errors import InputError
from annotator.formats.csv_table import COLUMNS, rows
from annotator.formats.model import ExportContext, ExportDoc

OUTPUT = "file"
EXTENSION = ".parquet"
BINARY = True
BATCH = 20_000  # rows held before a row group is written: memory stays flat
# split over processes (formats/split.py): the child writes its rows as Arrow IPC,
# this process cuts them into its own row groups (`_write_rest`)
SPLIT = {"inline": True}

_TYPES = {"paragraph": "int32", "start": "int32", "end": "int32", "flag": "bool_",
          "seconds": "float64"}


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("the parquet format needs pyarrow, which is not installed: "
                         "pip install 'annotator[parquet]' (or pip install pyarrow)") from None
    return pa, pq


def write(docs: Iterator[ExportDoc], dest: Path, ctx: ExportContext) -> int:
    pa, pq = _pyarrow()
    schema = pa.schema([(c, getattr(pa, _TYPES.get(c, "string"))()) for c in COLUMNS])
    if ctx.part == "child":
        return _write_part(docs, dest, ctx, pa, schema)
    n = 0
    with pq.ParquetWriter(dest, schema, compression="zstd") as writer:
        batch: list[tuple] = []

        def table():
            cols = list(zip(*batch, strict=True)) if batch else [[] for _ in COLUMNS]
            batch.clear()
            return pa.Table.from_arrays(
                [pa.array(c, type=schema.field(i).type) for i, c in enumerate(cols)],
                schema=schema)

        for row in rows(docs, ctx):
            batch.append(row)
            n += 1
            if len(batch) >= BATCH:
                writer.write_table(table())
        if ctx.rest is not None:
            # split over processes: the child's rows follow, cut into the same row
            # groups of BATCH rows one process would have written
            _write_rest(writer, table() if batch else None, ctx.rest(), pa, n)
        elif batch or n == 0:
            writer.write_table(table())
    return n


def _write_part(docs: Iterator[ExportDoc], dest: Path, ctx: ExportContext, pa, schema) -> int:
    """The child's rows as an Arrow IPC file (no compression: the parent writes them)."""
    n = 0
    batch: list[tuple] = []
    with pa.OSFile(str(dest), "wb") as sink, pa.ipc.new_file(sink, schema) as out:
        def flush() -> None:
            cols = list(zip(*batch, strict=True))
            out.write_batch(pa.record_batch(
                [pa.array(c, type=schema.field(i).type) for i, c in enumerate(cols)],
                schema=schema))
            batch.clear()

        for row in rows(docs, ctx):
            batch.append(row)
            n += 1
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
    return n


def _write_rest(writer, head, part: Path, pa, n_before: int) -> None:
    """Row groups of BATCH rows from `head` (this process's last rows, or None) and
    then the part's batches; the last group may be shorter (or empty when there are
    no rows at all, as one process writes it)."""
    pending = [head] if head is not None else []
    size = head.num_rows if head is not None else 0
    wrote = False
    # read, not memory-mapped: mapped pages of the whole part would count as this
    # process's memory (measured 481 MB at 1,000,000 units)
    with pa.OSFile(str(part), "rb") as source:
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            pending.append(pa.Table.from_batches([reader.get_batch(i)]))
            size += pending[-1].num_rows
            while size >= BATCH:
                joined = pa.concat_tables(pending).combine_chunks()
                writer.write_table(joined.slice(0, BATCH))
                wrote = True
                rest = joined.slice(BATCH)
                pending, size = [rest], rest.num_rows
        if size or not (wrote or n_before):
            writer.write_table(pa.concat_tables(pending).combine_chunks() if pending
                               else pa.Table.from_batches([], schema=writer.schema))

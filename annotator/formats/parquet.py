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
    n = 0
    with pq.ParquetWriter(dest, schema, compression="zstd") as writer:
        batch: list[tuple] = []

        def flush() -> None:
            cols = list(zip(*batch, strict=True)) if batch else [[] for _ in COLUMNS]
            writer.write_table(pa.Table.from_arrays(
                [pa.array(c, type=schema.field(i).type) for i, c in enumerate(cols)],
                schema=schema))
            batch.clear()

        for row in rows(docs, ctx):
            batch.append(row)
            n += 1
            if len(batch) >= BATCH:
                flush()
        if batch or n == 0:
            flush()
    return n

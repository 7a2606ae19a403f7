"""Import and random-access benchmark at corpus scale.

    .venv/bin/python bench/bench_import.py            # 100,000 documents, 1,000,000 paragraphs
    .venv/bin/python bench/bench_import.py --quick    # 2,000 documents, 20,000 paragraphs

Method
- Generates N documents x 10 body paragraphs (plus a title each) as JSONL, with
  paragraph lengths of about 200-400 characters drawn from news-like sentences, some
  of them non-ASCII (Spanish, French, German, Russian, curly quotes, no-break
  spaces). The file is cached under bench/out/ (gitignored) and reused.
- Times the real CLI, `python -m annotator import FILE --project DIR`, in a
  subprocess into a fresh project directory: wall time, and peak resident memory of
  the child from `resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` (what
  `/usr/bin/time -v` reports as "Maximum resident set size"). The import is the first
  child this process waits for, so the figure is the import's own.
- Opens the store afresh (`SQLiteStore(dir/'.annotator')`: open time), then fetches
  10,000 random units by (document id, paragraph) with `store.unit(doc_id, idx)`
  and reports median, p99 and max milliseconds. The page cache is warm from the
  import, as it is on a server where annotators work all day.

Targets: import < 20 s and < 500 MB peak RSS; fetch < 5 ms (p99); open < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))

PLACES = ["Caracas", "Valdoria", "Kestrania", "Ostrava", "Havana", "Minsk", "Hanoi",
          "Pretoria", "La Paz", "Teheran", "Managua", "Pyongyang", "Asmara", "Brasília",
          "Ciudad de México", "Moskva", "Bogotá", "Zürich", "Québec", "Düsseldorf"]
PEOPLE = ["Foreign Minister Elena Rusk", "the Vice Minister", "President Aurelio Mendaña",
          "Ambassador Piotr Novák", "the ministry's spokeswoman", "Deputy Minister Søren Ålund",
          "canciller José Ñúñez", "le ministre François Lefèvre", "министр Андрей Волков"]
SENTENCES = [
    "{p} said that the unilateral coercive measures amount to economic warfare against "
    "an entire people.",
    "“We will not bow to pressure from certain countries,” {p} told reporters in {c}.",
    "The two delegations signed a memorandum on energy cooperation and new rail links.",
    "Bilateral trade grew by {n} percent last year, bringing new jobs to both peoples.",
    "The first shipment of medicines arrived in {c} as a gesture of brotherly solidarity.",
    "{c}, {d} April 2022 (TDI): the talks were held in a warm and friendly atmosphere.",
    "Certain Western capitals continue to use the language of threats and blackmail.",
    "“Our friendship has stood the test of seventy years,” said {p}.",
    "The era of a unipolar world dominated by one power is coming to an end.",
    "«Seguiremos defendiendo nuestra soberanía», dijo {p} en {c}.",
    "« Nous ne céderons pas aux pressions », a déclaré {p} à {c}.",
    "„Wir lassen uns nicht erpressen“, sagte {p} in {c}.",
    "«Мы не отступим», — заявил {p} в {c}.",
    "Related\u00a0\u00a0Articles: the delegation will also visit the port of {c}.",
    "The meeting reaffirmed the principles of the UN Charter and genuine multilateralism.",
    "Officials discussed agriculture, pharmaceuticals and the joint production of vaccines.",
]


def make_paragraph(rng: random.Random) -> str:
    parts: list[str] = []
    target = rng.randint(200, 400)
    length = 0
    while length < target:
        s = rng.choice(SENTENCES).format(p=rng.choice(PEOPLE), c=rng.choice(PLACES),
                                         n=rng.randint(2, 90), d=rng.randint(1, 30))
        parts.append(s)
        length += len(s) + 1
    text = " ".join(parts)
    if len(text) > 400:  # cut at a word boundary, keep the paragraph realistic
        text = text[:400].rsplit(" ", 1)[0] + "."
    return text


def generate_corpus(path: Path, docs: int, paragraphs: int = 10, seed: int = 1) -> Path:
    """Write `docs` documents x `paragraphs` body paragraphs as JSONL (cached)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    # A pool of distinct paragraphs, varied per use with a document number so that
    # texts (and their hashes) differ; building each of 1,000,000 from scratch would
    # make the generator, not the importer, the slow part.
    pool = [make_paragraph(rng) for _ in range(20_000)]
    tmp = path.with_suffix(".part")
    with open(tmp, "w", encoding="utf-8") as fh:
        for d in range(docs):
            paras = [f"{pool[rng.randrange(len(pool))]} ({d}.{i})" for i in range(paragraphs)]
            obj = {"id": f"doc-{d:06d}", "title": f"Report {d}: {rng.choice(PLACES)} talks",
                   "paragraphs": paras,
                   "meta": {"source": "bench", "date": "2022-04-23",
                            "language": "en", "url": f"https://example.org/a/{d}"}}
            fh.write(json.dumps(obj, ensure_ascii=False))
            fh.write("\n")
    os.replace(tmp, path)
    return path


def run_import(corpus: Path, project: Path) -> tuple[float, float]:
    """Import with the real CLI. Returns (seconds, peak RSS MB of the child)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "annotator", "import", str(corpus),
                           "--project", str(project)], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"import failed ({proc.returncode}):\n{proc.stderr}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, peak_kb / 1024


def fetch_times(store_dir: Path, docs: int, paragraphs: int, n: int = 10_000,
                seed: int = 2) -> tuple[float, list[float]]:
    from annotator.store.sqlite import SQLiteStore

    t0 = time.perf_counter()
    store = SQLiteStore(store_dir)
    open_ms = (time.perf_counter() - t0) * 1000
    rng = random.Random(seed)
    times = []
    for _ in range(n):
        doc_id, idx = f"doc-{rng.randrange(docs):06d}", rng.randint(0, paragraphs)
        t = time.perf_counter()
        u = store.unit(doc_id, idx)
        times.append((time.perf_counter() - t) * 1000)
        assert u is not None and u.text, (doc_id, idx)
    store.close()
    return open_ms, times


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def row(name: str, value: str, target: str, ok: bool) -> None:
    print(f"{name:<44} {value:>14}   {target:<14} {'PASS' if ok else 'FAIL'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2,000 documents instead of 100,000")
    ap.add_argument("--docs", type=int, default=None)
    args = ap.parse_args()
    docs = args.docs or (2_000 if args.quick else 100_000)
    paragraphs = 10
    t0 = time.perf_counter()
    corpus = generate_corpus(OUT / f"corpus-{docs}x{paragraphs}.jsonl", docs, paragraphs)
    gen = time.perf_counter() - t0
    size_mb = corpus.stat().st_size / 1e6
    print(f"corpus: {docs:,} documents, {docs * paragraphs:,} paragraphs "
          f"(+{docs:,} titles), {size_mb:,.0f} MB JSONL ({gen:.1f} s to generate or load)")
    tmp = Path(tempfile.mkdtemp(prefix="annotator-bench-import-"))
    try:
        seconds, peak = run_import(corpus, tmp)
        open_ms, times = fetch_times(tmp / ".annotator", docs, paragraphs)
        db_mb = (tmp / ".annotator" / "corpus.db").stat().st_size / 1e6
        print(f"store: {db_mb:,.0f} MB corpus.db\n")
        print(f"{'measure':<44} {'value':>14}   {'target':<14} result")
        print("-" * 84)
        row("import (CLI, wall time)", f"{seconds:.1f} s", "< 20 s", seconds < 20)
        row("import peak RSS", f"{peak:.0f} MB", "< 500 MB", peak < 500)
        row("store open", f"{open_ms:.1f} ms", "< 100 ms", open_ms < 100)
        med, p99, mx = statistics.median(times), pct(times, 0.99), max(times)
        row("fetch unit by (doc, paragraph), median", f"{med:.3f} ms", "< 5 ms", med < 5)
        row("fetch unit by (doc, paragraph), p99", f"{p99:.3f} ms", "< 5 ms", p99 < 5)
        row("fetch unit by (doc, paragraph), max", f"{mx:.3f} ms", "(info)", True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""PTC / SemEval-2020 Task 11: articles written here in the corpus layout, TC and SI
label files, whole-article offsets with a BOM, CRLF and NFC-changing text; the rows
as the task's scorers read them (4 / 3 tab-separated columns, integers, start < end,
names from the technique list, no overlapping SI spans)."""

from __future__ import annotations

from pathlib import Path

from util import REPO, run_cli

from annotator.store import SQLiteStore

PTC = REPO / "schemas" / "ptc2020.yaml"
ART = ("\ufeffThe cafe\u0301 regime lies\r\n\r\n"
       "They are traitors, criminals and thugs.\r\n"
       "Everyone knows it.\r\n\r\n"
       "Make our nation great again!\r\n")


def _write(root: Path) -> tuple[Path, str]:
    root.mkdir()
    (root / "article700001.txt").write_bytes(ART.encode("utf-8"))
    src = ART.replace("\r\n", "\n")  # newline counts 1; the BOM is character 0
    rows = []
    for label, needle in (("Name_Calling,Labeling", "traitors, criminals and thugs"),
                          ("Loaded_Language", "criminals"),
                          ("Slogans", "Make our nation great again!"),
                          ("Bandwagon,Reductio_ad_hitlerum", "Everyone knows it")):
        a = src.index(needle)
        rows.append(f"700001\t{label}\t{a}\t{a + len(needle)}\n")
    labels = root / "article700001.task2-TC.labels"
    labels.write_text("".join(rows))
    return root, "".join(rows)


def check_rows(path: Path, cols: int, names: list[str]) -> list[str]:
    problems, spans = [], {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        row = line.rstrip().split("\t")
        if len(row) != cols:
            problems.append(f"{n}: {len(row)} columns")
            continue
        a, b = int(row[-2]), int(row[-1])
        if not 0 <= a < b:
            problems.append(f"{n}: bad span")
        if cols == 4 and row[1] not in names:
            problems.append(f"{n}: {row[1]!r} not a technique")
        if cols == 3:
            for x, y in spans.get(row[0], []):
                if a < y and x < b:
                    problems.append(f"{n}: overlaps")
            spans.setdefault(row[0], []).append((a, b))
    return problems


def test_import_and_export_tc_si(tmp_path: Path, project: Path):
    data, rows = _write(tmp_path / "ptc")
    r = run_cli("import", "--format", "ptc", str(data), "--as", "ptc", "--schema", str(PTC),
                cwd=project)
    assert r.returncode == 0, r.stderr
    store = SQLiteStore(project / ".annotator")
    assert store.unit("700001", 0).text == "The caf\u00e9 regime lies"
    j = store.journal("ptc")
    texts = sorted(sp["text"] for _d, _u, st, _i in j.iter_states() for sp in st["spans"])
    assert texts == ["Everyone knows it", "Make our nation great again!", "criminals",
                     "traitors, criminals and thugs"]
    assert j.verify() == []
    out = tmp_path / "out"
    r = run_cli("export", "--format", "ptc", "--out", str(out), "--schema", str(PTC),
                cwd=project)
    assert r.returncode == 0, r.stderr
    names = (out / "propaganda-techniques-names.txt").read_text().splitlines()
    assert check_rows(out / "labels-TC.labels", 4, names) == []
    assert check_rows(out / "labels-SI.labels", 3, names) == []
    # the exported article (no BOM, LF, NFC) with its offsets reads back the same spans
    art = (out / "articles" / "article700001.txt").read_text(encoding="utf-8")
    for line in (out / "labels-TC.labels").read_text().splitlines():
        _i, label, a, b = line.split("\t")
        assert art[int(a):int(b)] in texts
    assert len((out / "labels-SI.labels").read_text().splitlines()) == 3  # overlap merged
    again = tmp_path / "again"
    again.mkdir()
    r = run_cli("import", "--format", "ptc", str(out / "articles"), str(out / "labels-TC.labels"),
                "--as", "ptc", "--schema", str(PTC), cwd=again)
    assert r.returncode == 0, r.stderr
    assert SQLiteStore(again / ".annotator").journal("ptc").states("700001") == j.states("700001")


def test_hostile_labels_are_located(tmp_path: Path, project: Path):
    data, _ = _write(tmp_path / "ptc")
    bad = data / "article700001.task2-TC.labels"
    bad.write_text("700001\tLoaded_Language\t5\t999\n"   # past the end
                   "700001\tNo_Such\t1\t4\n"
                   "700001\tSlogans\tx\t4\n"
                   "700001\tSlogans\t9\t4\n"
                   "700001\tSlogans\n")
    r = run_cli("import", "--format", "ptc", str(data), "--as", "p", "--schema", str(PTC),
                cwd=project)
    assert r.returncode == 1
    e = r.stderr
    assert f"{bad}:1:1: offsets [5, 999) outside article 700001" in e
    assert f"{bad}:2:1: no label 'No_Such'" in e
    assert f"{bad}:3:1: start and end must be integers" in e
    assert f"{bad}:4:1: offsets must satisfy 0 <= start < end" in e
    assert f"{bad}:5:1: expected <ID>TAB<technique>" in e
    assert SQLiteStore(project / ".annotator").document_count() == 0

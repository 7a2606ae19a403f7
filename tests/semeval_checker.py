"""A format checker for SemEval-2023 Task 3 (subtasks 2 and 3) label files, written
from reading the official scorers (scorer-subtask-2.py, scorer-subtask-3.py); no code
of theirs is copied. Their checks, reproduced:

subtask 3: every line, right-stripped, splits on TAB into 2 or 3 columns (article id,
  paragraph id, techniques); the techniques column split on "," gives strings each in
  the techniques list (so no space after a comma); the set of "<id>_<paragraph>" keys
  equals the gold (here: the template) set and has the same size.
subtask 2: every line holds a TAB; an empty frame list is a line ending in TAB + "\\n"
  (a last line without its newline becomes [""], which is not a frame); frames split
  on "," each in the frames list; ids equal the gold's.

Checks the scorers do not do, added because they silently hide mistakes: no duplicate
key (the scorers keep the last), LF line endings, every article id has its
article<ID>.txt, and the template's paragraphs are exactly the article's non-empty
lines, numbered by line.
"""

from __future__ import annotations

from pathlib import Path


def _lines(path: Path) -> list[str]:
    data = path.read_bytes()
    assert b"\r" not in data, f"{path}: CR in the file (LF line endings only)"
    return data.decode("utf-8").splitlines(keepends=True)


def check_subtask3(labels: Path, template: Path, techniques: Path) -> list[str]:
    classes = [x.rstrip() for x in techniques.read_text(encoding="utf-8").splitlines()]
    problems = []
    keys = {}
    for n, line in enumerate(_lines(labels), 1):
        cols = line.rstrip().split("\t")
        if not 2 <= len(cols) <= 3:
            problems.append(f"{labels}:{n}: {len(cols)} columns")
            continue
        key = f"{cols[0]}_{cols[1]}"
        if key in keys:
            problems.append(f"{labels}:{n}: duplicate key {key} (line {keys[key]})")
        keys[key] = n
        for t in (cols[2].split(",") if len(cols) == 3 else []):
            if t not in classes:
                problems.append(f"{labels}:{n}: {t!r} not in the techniques list")
    gold = {}
    for n, line in enumerate(_lines(template), 1):
        cols = line.rstrip("\n").split("\t")
        gold[f"{cols[0]}_{cols[1]}"] = n
    if set(keys) != set(gold) or len(keys) != len(gold):
        problems.append(f"ids differ from the template: {sorted(set(keys) ^ set(gold))[:5]}")
    return problems


def check_template_against_articles(template: Path, articles: Path) -> list[str]:
    problems = []
    expected = {}
    for f in sorted(articles.glob("article*.txt")):
        aid = f.stem[len("article"):]
        for n, line in enumerate(f.read_text(encoding="utf-8").split("\n"), 1):
            if line.strip():
                expected[(aid, str(n))] = line
    got = {}
    for line in _lines(template):
        aid, para, text = line.rstrip("\n").split("\t", 2)
        got[(aid, para)] = text
        if not (articles / f"article{aid}.txt").exists():
            problems.append(f"no article{aid}.txt for id {aid}")
    if got != expected:
        problems.append(f"template paragraphs differ from the articles' non-empty lines: "
                        f"{sorted(set(got.items()) ^ set(expected.items()))[:3]}")
    return problems


def check_subtask2(labels: Path, frames: Path, gold_ids: set[str]) -> list[str]:
    classes = [x.rstrip() for x in frames.read_text(encoding="utf-8").splitlines()]
    problems, ids = [], set()
    for n, line in enumerate(_lines(labels), 1):
        ind = line.find("\t")
        if ind < 0:
            problems.append(f"{labels}:{n}: no TAB")
            continue
        ids.add(line[:ind])
        values = [] if ind == len(line) - 2 else line[ind + 1:].rstrip().split(",")
        for f in values:
            if f not in classes:
                problems.append(f"{labels}:{n}: {f!r} not in the frames list")
    if ids != gold_ids:
        problems.append(f"ids differ: {sorted(ids ^ gold_ids)[:5]}")
    return problems

"""SemEval-2023 Task 3: articles written here in the official layout (the real data
may not be redistributed), imported in line mode, exported and checked against a
checker written from the official scorers (tests/semeval_checker.py)."""

from __future__ import annotations

from pathlib import Path

from semeval_checker import check_subtask2, check_subtask3, check_template_against_articles
from util import REPO, run_cli

from annotator.store import SQLiteStore

PERSUASION = REPO / "schemas" / "semeval2023-persuasion.yaml"
PTC = REPO / "schemas" / "ptc2020.yaml"

ARTICLE_1 = ("Sanctions are war, says minister\n\n"
             "The minister said the measures amount to economic warfare.\n\n"
             "“We will never surrender,” he added.\n"
             "Our enemies are weak and they know it.\n\n\n"
             "Read more\n")
ARTICLE_2 = ("\ufeffCafe\u0301 talks \U0001F600 end in deadlock\r\n\r\n"
             "Officials said nothing was agreed.\r\n")
LABELS = ("900001\t1\tLoaded_Language\n"
          "900001\t3\tAppeal_to_Authority,Exaggeration-Minimisation\n"
          "900001\t5\tSlogans\n"
          "900001\t6\tName_Calling-Labeling,Loaded_Language\n"
          "900001\t9\t\n"
          "900002\t1\t\n"
          "900002\t3\tDoubt\n")


def semeval_dir(root: Path) -> Path:
    arts = root / "data" / "en" / "train-articles-subtask-3"
    arts.mkdir(parents=True)
    (arts / "article900001.txt").write_text(ARTICLE_1, encoding="utf-8")
    (arts / "article900002.txt").write_bytes(ARTICLE_2.encode("utf-8"))
    (root / "data" / "en" / "train-labels-subtask-3.txt").write_text(LABELS, encoding="utf-8")
    return root / "data" / "en"


def test_import_line_mode_and_export_passes_the_scorer_checks(tmp_path: Path, project: Path):
    data = semeval_dir(tmp_path)
    r = run_cli("import", "--format", "semeval2023-t3", str(data), "--as", "semeval",
                "--schema", str(PERSUASION), cwd=project)
    assert r.returncode == 0, r.stderr
    assert "2 new" in r.stderr and "annotations of semeval: 7 unit(s) stored" in r.stderr
    store = SQLiteStore(project / ".annotator")
    texts = {u.index: u.text for u in store.units("900001")}
    # title = paragraph 1 = unit 0; each non-empty line a unit; empty lines skipped
    assert texts == {0: "Sanctions are war, says minister",
                     1: "The minister said the measures amount to economic warfare.",
                     2: "“We will never surrender,” he added.",
                     3: "Our enemies are weak and they know it.", 4: "Read more"}
    # BOM dropped, CRLF read as one newline, NFC applied: the title is 'Café ...'
    assert store.unit("900002", 0).text == "Caf\u00e9 talks \U0001F600 end in deadlock"
    j = store.journal("semeval")
    assert j.state("900001", 3)["labels"] == {
        "techniques": ["Name_Calling-Labeling", "Loaded_Language"]}
    assert j.state("900001", 4)["labels"] == {} and j.state("900001", 4)["status"] == "done"
    assert j.verify() == []
    store.close()
    out = tmp_path / "out"
    r = run_cli("export", "--format", "semeval2023-t3", "--out", str(out),
                "--schema", str(PERSUASION), cwd=project)
    assert r.returncode == 0, r.stderr
    labels = out / "labels-subtask-3.txt"
    # the same rows as the official file: same paragraph numbers, no space after commas
    assert labels.read_text(encoding="utf-8") == LABELS
    assert check_subtask3(labels, out / "labels-subtask-3.template",
                          out / "techniques_subtask3.txt") == []
    assert check_template_against_articles(out / "labels-subtask-3.template",
                                           out / "articles") == []
    # the exported articles read back to the same units
    again = tmp_path / "again"
    again.mkdir()
    r = run_cli("import", "--format", "semeval2023-t3", str(out / "articles"), str(labels),
                "--as", "x", "--schema", str(PERSUASION), cwd=again)
    assert r.returncode == 0, r.stderr
    a, b = SQLiteStore(project / ".annotator"), SQLiteStore(again / ".annotator")
    for doc in ("900001", "900002"):
        assert [u.text for u in a.units(doc)] == [u.text for u in b.units(doc)]
        assert a.journal("semeval").states(doc) == b.journal("x").states(doc)


def test_unannotated_paragraphs_are_listed_not_hidden(tmp_path: Path, project: Path):
    data = semeval_dir(tmp_path)
    (data / "train-labels-subtask-3.txt").write_text(
        "".join(x + "\n" for x in LABELS.splitlines() if not x.startswith("900001\t5")))
    r = run_cli("import", "--format", "semeval2023-t3", str(data), "--as", "s",
                "--schema", str(PERSUASION), cwd=project)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    r = run_cli("export", "--format", "semeval2023-t3", "--out", str(out),
                "--schema", str(PERSUASION), cwd=project)
    assert r.returncode == 1
    assert "paragraph not annotated, written as 'no technique'" in r.stderr
    assert "900001 unit 2 (s)" in r.stderr and not out.exists()
    r = run_cli("export", "--format", "semeval2023-t3", "--out", str(out), "--allow-loss",
                "--schema", str(PERSUASION), cwd=project)
    assert r.returncode == 0 and "warning" in r.stderr
    assert "900001\t5\t\n" in (out / "labels-subtask-3.txt").read_text()


def test_hostile_label_files_are_located_and_nothing_is_imported(tmp_path: Path,
                                                                 project: Path):
    data = semeval_dir(tmp_path)
    bad = data / "train-labels-subtask-3.txt"
    bad.write_text("900001\t1\tLoaded_Language, Slogans\n"   # a space after the comma
                   "900001\t2\tSlogans\n"                   # line 2 is empty
                   "900001\t3\tNo_Such_Technique\n"
                   "900001\t99\t\n"                          # past the end
                   "900001\t5\n"                             # two columns in a 3-col file
                   "900001\tfive\tx\ty\tz\n", encoding="utf-8")
    r = run_cli("import", "--format", "semeval2023-t3", str(data), "--as", "s",
                "--schema", str(PERSUASION), cwd=project)
    assert r.returncode == 1, r.stderr
    err = r.stderr
    assert f"{bad}:1:1: no label ' Slogans'" in err
    assert f"{bad}:2:1: article 900001 has no paragraph 2" in err
    assert f"{bad}:3:1: no label 'No_Such_Technique'" in err
    assert f"{bad}:4:1: article 900001 has no paragraph 99" in err
    assert f"{bad}:5:1: a frames row in a file of labels rows" in err
    assert f"{bad}:6:1: expected <ID>TAB<paragraph>" in err
    assert "Traceback" not in err
    assert SQLiteStore(project / ".annotator").document_count() == 0


def test_spans_with_bom_and_nfc_map_into_their_paragraph(tmp_path: Path, project: Path):
    data = semeval_dir(tmp_path)
    (data / "train-labels-subtask-3.txt").unlink()
    src = ARTICLE_2.replace("\r\n", "\n")  # offsets count a newline once, the BOM as 0
    start = src.index("deadlock")
    spans = data / "train-labels-subtask-3-spans.txt"
    spans.write_text(f"900002\tLoaded_Language\t{start}\t{start + 8}\n"
                     f"900002\tDoubt\t{src.index('nothing')}\t{src.index('nothing') + 7}\n")
    r = run_cli("import", "--format", "semeval2023-t3", str(data), "--as", "s",
                "--schema", str(PTC), cwd=project)
    assert r.returncode == 0, r.stderr
    j = SQLiteStore(project / ".annotator").journal("s")
    (sp,) = j.state("900002", 0)["spans"]
    assert (sp["label"], sp["text"]) == ("Loaded_Language", "deadlock")
    assert j.state("900002", 1)["spans"][0]["text"] == "nothing"
    # with a paragraph-level schema the spans become the paragraphs' labels
    other = tmp_path / "p2"
    other.mkdir()
    r = run_cli("import", "--format", "semeval2023-t3", str(data), "--as", "s",
                "--schema", str(PERSUASION), cwd=other)
    assert r.returncode == 0, r.stderr
    j = SQLiteStore(other / ".annotator").journal("s")
    assert j.state("900002", 0)["labels"] == {"techniques": ["Loaded_Language"]}
    assert j.state("900002", 1)["labels"] == {"techniques": ["Doubt"]}


def test_one_set_of_annotations_per_file(tmp_path: Path, project: Path):
    data = semeval_dir(tmp_path)
    for name in ("a", "b"):
        assert run_cli("import", "--format", "semeval2023-t3", str(data), "--as", name,
                       "--schema", str(PERSUASION), cwd=project).returncode == 0
    r = run_cli("export", "--format", "semeval2023-t3", "--out", str(tmp_path / "o"),
                "--schema", str(PERSUASION), cwd=project)
    assert r.returncode == 2 and "give --annotator NAME or --gold" in r.stderr
    r = run_cli("export", "--format", "semeval2023-t3", "--out", str(tmp_path / "o"),
                "--gold", "--schema", str(PERSUASION), cwd=project)
    assert r.returncode == 1 and "no gold journal: adjudicate first" in r.stderr
    r = run_cli("export", "--format", "semeval2023-t3", "--out", str(tmp_path / "o"),
                "--annotator", "b", "--schema", str(PERSUASION), cwd=project)
    assert r.returncode == 0, r.stderr


def test_frames_subtask2(tmp_path: Path, project: Path):
    frames = REPO / "schemas" / "semeval2023-frames.yaml"
    data = semeval_dir(tmp_path)
    (data / "train-labels-subtask-3.txt").write_text(
        "900001\t1\tEconomic\n900001\t3\tEconomic,Political\n900001\t5\t\n900001\t6\t\n"
        "900001\t9\t\n900002\t1\t\n900002\t3\t\n")
    r = run_cli("import", "--format", "semeval2023-t3", str(data), "--as", "s",
                "--schema", str(frames), cwd=project)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    r = run_cli("export", "--format", "semeval2023-t3", "--out", str(out),
                "--schema", str(frames), cwd=project)
    assert r.returncode == 0, r.stderr
    assert "written as its article's frames" in r.stderr
    st2 = out / "labels-subtask-2.txt"
    assert st2.read_text() == "900001\tEconomic,Political\n900002\t\n"
    assert check_subtask2(st2, out / "frames_subtask2.txt", {"900001", "900002"}) == []
    # the scorer's trap: an empty last row without its newline reads as frame ""
    cut = tmp_path / "cut.txt"
    cut.write_text("900001\tEconomic\n900002\t")
    assert check_subtask2(cut, out / "frames_subtask2.txt", {"900001", "900002"})


def test_the_checker_rejects_what_the_scorer_rejects(tmp_path: Path):
    tech = tmp_path / "t.txt"
    tech.write_text("Slogans\nDoubt\n")
    tpl = tmp_path / "x.template"
    tpl.write_text("1\t1\tA\n1\t3\tB\n")
    lab = tmp_path / "l.txt"
    for bad in ("1\t1\tSlogans, Doubt\n1\t3\t\n",   # space after a comma
                "1\t1\tSlogans\n",                  # a template paragraph missing
                "1\t1\t\n1\t3\t\n1\t3\t\n",         # a duplicate row
                "1\t1\t\n1\t3\t\tx\n",              # four columns
                "1\t1\t\r\n1\t3\t\r\n"):            # CRLF
        lab.write_bytes(bad.encode())
        try:
            assert check_subtask3(lab, tpl, tech), bad
        except AssertionError as exc:
            assert "CR" in str(exc) or not check_subtask3(lab, tpl, tech)
            assert "\r" in bad
    lab.write_text("1\t1\tSlogans,Doubt\n1\t3\t\n")
    assert check_subtask3(lab, tpl, tech) == []

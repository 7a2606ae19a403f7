"""The annotation screen on the PostgreSQL store: through Textual's Pilot, and the real
entry point in a real terminal (tmux), with the server killed mid-session."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from test_store_faults import settled
from test_tui_helpers import DOCS, keys, main
from tmux_harness import ROOT, Tmux, annotator_argv, have_tmux
from util import run_cli

from annotator.schema import default_schema_path, load_schema
from annotator.store.postgres import PostgresStore, add_annotator
from annotator.tui.app import AnnotatorApp

psycopg = pytest.importorskip("psycopg")
POSITION = re.compile(r"doc \d+/\d+ ")
SOVEREIGNTY_ON = re.compile(r"s \[x\] Sover")
SOVEREIGNTY_OFF = re.compile(r"s \[ \] Sover")


def _as(pg_server, url: str, user: str) -> str:
    return pg_server.url(psycopg.conninfo.conninfo_to_dict(url)["dbname"], user=user)


async def test_pilot_on_postgres_with_the_server_killed(pg_server, pg_url):
    lead = PostgresStore(pg_url)
    lead.import_documents(DOCS)
    add_annotator(pg_url, "alice")
    store = PostgresStore(_as(pg_server, pg_url, "alice"))
    schema = load_schema(default_schema_path())
    journal = store.journal("alice", schema)
    journal.claim()
    app = AnnotatorApp(store, journal, schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "j", "s", "c")
        assert journal.state("doc-a", 1)["labels"]["devices"] == ["sovereignty",
                                                                  "certain_countries"]
        await keys(app, pilot, "u")  # undo
        assert journal.state("doc-a", 1)["labels"]["devices"] == ["sovereignty"]
        screen = main(app)
        pg_server.kill()
        try:
            await keys(app, pilot, "c")
            text = await settled(app, pilot, lambda t: "NOT SAVED" in t, tries=400)
            assert "NOT SAVED" in text and screen.save_error
            assert "c [x] Hostility" not in text  # the screen shows what is stored
        finally:
            pg_server.start()
        await keys(app, pilot, "c")  # reconnects
        text = await settled(app, pilot, lambda t: "c [x] Hostility" in t, tries=400)
        assert app.store_failure is None, app.store_failure
        assert screen.save_error is None and "c [x] Hostility" in text and "NOT SAVED" not in text
    stored = PostgresStore(pg_url).journal("alice")
    assert stored.state("doc-a", 1)["labels"]["devices"] == ["sovereignty",
                                                             "certain_countries"]
    assert [e["kind"] for e in reversed(stored.events())] == [
        "toggle_label", "toggle_label", "undo", "toggle_label"]
    assert stored.verify() == []


@pytest.mark.tmux
@pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")
def test_real_terminal_on_postgres(pg_server, pg_url, tmp_path: Path, request):
    project = tmp_path / "proj"
    shutil.copytree(ROOT / "corpora" / "demo", project / "corpora" / "demo")
    (project / "annotator.yaml").write_text("corpus:\n  - corpora/demo\n", encoding="utf-8")
    # the lead imports and adds alice; alice annotates as her role (no --as needed)
    r = run_cli("import", "corpora/demo", "--store", pg_url, cwd=project)
    assert r.returncode == 0, r.stderr
    r = run_cli("db", "add-annotator", "alice", "--store", pg_url, cwd=project)
    assert r.returncode == 0, r.stderr
    alice_url = _as(pg_server, pg_url, "alice")
    with Tmux.for_test(request) as tmux:
        tmux.start(annotator_argv("annotate", "--project", str(project), "--store",
                                  alice_url), cwd=project)
        tmux.wait_for(POSITION, timeout=30)
        tmux.send("s")
        tmux.wait_for(SOVEREIGNTY_ON)
        pg_server.kill()
        try:
            tmux.send("s")
            screen = tmux.wait_for("NOT SAVED", timeout=30)
            assert SOVEREIGNTY_ON.search(screen)  # still what is stored
        finally:
            pg_server.start()
        tmux.send("s")
        tmux.wait_for(SOVEREIGNTY_OFF, timeout=30)
        tmux.send("q")
    lead = PostgresStore(pg_url)
    events = lead.journal("alice").events()
    assert [e["kind"] for e in events] == ["toggle_label", "toggle_label"]
    doc = lead.document_at(0)
    assert lead.journal("alice").state(doc.id, doc.first_unit)["labels"]["devices"] == []
    lead.close()


@pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")
def test_a_curator_adjudicates_on_postgres_in_a_real_terminal(pg_server, pg_url,
                                                               tmp_path: Path, request):
    """`annotator adjudicate` as a curator's role: the pre-fill (the bulk write through
    the database's triggers), a decision by key, the gold stored under the `gold` name."""
    from annotator.corpus import Document

    project = tmp_path / "proj"
    project.mkdir()
    lead = PostgresStore(pg_url)
    lead.import_documents([Document("doc-a", None, ["Everyone agrees.", "Stance differs."])])
    schema = load_schema(default_schema_path())
    for name, stance in (("alice", "positive"), ("bob", "negative")):
        add_annotator(pg_url, name)
        s = PostgresStore(_as(pg_server, pg_url, name))
        j = s.journal(name, schema)
        j.apply("doc-a", 1, {"type": "toggle_label", "layer": "devices", "label": "solidarity"})
        j.apply("doc-a", 2, {"type": "toggle_label", "layer": "stance", "label": stance})
        s.close()
    add_annotator(pg_url, "carol", curator=True)
    with Tmux.for_test(request, width=100, height=30) as tmux:
        tmux.start(annotator_argv("adjudicate", "--as", "carol", "--project", str(project),
                                  "--store", _as(pg_server, pg_url, "carol")), cwd=project)
        screen = tmux.wait_for("Stance ≠", timeout=60)
        assert "decided 1 · left 1" in screen  # the unanimous unit was pre-filled
        tmux.send("Tab", "t", "1")
        tmux.wait_for(re.compile(r"\(•\) Positive"), timeout=30)
        tmux.send("q")
    gold = lead.journal("gold")
    assert gold.state("doc-a", 2)["labels"]["stance"] == "positive"
    assert gold.state("doc-a", 2)["decided_by"] == ["alice"]
    assert gold.state("doc-a", 1)["auto"] == "unanimous"
    assert gold.verify() == []
    lead.close()
    # the gold leaves the tool from PostgreSQL as from SQLite: export and agreement
    carol = _as(pg_server, pg_url, "carol")
    r = run_cli("export", "--gold", "--out", "-", "--store", carol, cwd=project)
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(x["paragraph"], [a["annotator"] for a in x["annotations"]],
             x["annotations"][0]["labels"]["stance"]) for x in records] == [
        (1, ["gold"], None), (2, ["gold"], "positive")]
    r = run_cli("export", "--out", "-", "--store", carol, cwd=project)
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert [[a["annotator"] for a in x["annotations"]] for x in records] == [
        ["alice", "bob"], ["alice", "bob"]]  # the gold is not an annotator
    assert records[1]["gold"]["labels"]["stance"] == "positive"
    r = run_cli("agreement", "--against", "gold", "--json", "--store", carol, cwd=project)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["annotators"] == ["alice", "bob"], report

"""The CLI as users and CI scripts run it: exit codes, messages, --help."""

from __future__ import annotations

from pathlib import Path

import pytest
from util import REPO, run_cli

COMMANDS = ["annotate", "import", "export", "agreement", "validate", "status", "assign"]


def test_help_lists_every_command():
    r = run_cli("--help")
    assert r.returncode == 0
    for c in COMMANDS:
        assert c in r.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str):
    r = run_cli(command, "--help")
    assert r.returncode == 0 and "usage: annotator " + command in r.stdout


def test_usage_error_exit_2():
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("agreement", "--bootstrap", "x").returncode == 2


def test_validate_shipped_schemas_and_project_file():
    files = sorted(str(p.relative_to(REPO)) for p in (REPO / "schemas").glob("*.yaml"))
    assert len(files) >= 5
    r = run_cli("validate", *files, "annotator.yaml", cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr


def test_validate_broken_schema_lines():
    broken = REPO / "tests" / "data" / "schemas" / "broken" / "duplicate-hotkey.yaml"
    r = run_cli("validate", str(broken))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    expect = next(line for line in broken.read_text().splitlines() if "expect-line" in line)
    line = int(expect.split(":")[1])
    assert f"{broken}:{line}:" in r.stdout


def test_validate_bad_project_file(project: Path):
    (project / "annotator.yaml").write_text("schema: nope.yaml\ncorpus: [missing]\ncolour: 1\n")
    r = run_cli("validate", "annotator.yaml", cwd=project)
    assert r.returncode == 1
    assert "annotator.yaml:1:" in r.stdout and "annotator.yaml:3:" in r.stdout


def test_status_on_empty_project(project: Path):
    r = run_cli("status", cwd=project)
    assert r.returncode == 0 and "no annotations yet" in r.stdout
    assert not (project / ".annotator").exists()


def test_reading_commands_need_a_store_and_create_none(project: Path):
    for args in (["export"], ["agreement"]):
        r = run_cli(*args, cwd=project)
        assert r.returncode == 1 and "no documents imported here yet" in r.stderr, args
    assert not (project / ".annotator").exists()


def test_missing_schema_is_input_error(project: Path):
    r = run_cli("status", "--schema", "nope.yaml", cwd=project)
    assert r.returncode == 1 and "nope.yaml" in r.stderr and "Traceback" not in r.stderr


def test_a_reader_that_leaves_is_not_an_error(project: Path, monkeypatch):
    """`annotator status | head`: the pipe closing under a write ends the command
    quietly with exit 0 (a BrokenPipeError is an OSError too: it must not be reported
    as one)."""
    import io
    import sys

    from annotator import cli

    class Gone(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    err = io.StringIO()
    monkeypatch.setattr(sys, "stdout", Gone())
    monkeypatch.setattr(sys, "stderr", err)
    assert cli.main(["status", "--project", str(project)]) == 0
    sys.stdout.close()  # main swapped in os.devnull
    assert err.getvalue() == ""


def test_an_unknown_option_gets_the_commands_own_usage(tmp_path: Path):
    r = run_cli("export", "--bogus", "x", cwd=tmp_path)
    assert r.returncode == 2
    assert "usage: annotator export" in r.stderr and "--bogus x" in r.stderr


def test_export_takes_output_as_well_as_out(tmp_path: Path):
    (tmp_path / "a.txt").write_text("Title\n\nOne.\n", encoding="utf-8")
    assert run_cli("import", str(tmp_path / "a.txt"), "--project", str(tmp_path),
                   cwd=tmp_path).returncode == 0
    out = tmp_path / "x.jsonl"
    r = run_cli("export", "--output", str(out), "--project", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert out.exists()

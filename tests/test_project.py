"""Project files: annotator.yaml and the parse cache used at start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from util import REPO

from annotator.errors import InputError
from annotator.project import Project

SCHEMA = REPO / "schemas" / "framing-devices.yaml"


def _project(root: Path) -> Path:
    (root / "schemas").mkdir()
    (root / "schemas" / "s.yaml").write_bytes(SCHEMA.read_bytes())
    (root / "docs").mkdir()
    (root / "docs" / "a.txt").write_text("T\n\nbody\n", encoding="utf-8")
    (root / "annotator.yaml").write_text("schema: schemas/s.yaml\ncorpus: [docs]\n")
    (root / ".annotator").mkdir()
    return root


def test_cached_parse_equals_fresh_and_skips_yaml(project: Path, tmp_path: Path,
                                                  monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # empty: count entries
    _project(project)
    from annotator.parse_cache import user_cache_dir

    before = set(user_cache_dir().glob("*.json")) if user_cache_dir().exists() else set()
    fresh = Project(project).load_schema()
    assert len(set(user_cache_dir().glob("*.json")) - before) == 2
    assert not (project / ".annotator" / "cache").exists()  # never in the project
    cached = Project(project).load_schema()
    assert cached == fresh and cached.sha256 == fresh.sha256
    code = ("import sys; from annotator.project import Project; "
            "s = Project('.').load_schema(); "
            "print('yaml' in sys.modules, 'jsonschema' in sys.modules, s.id)")
    r = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                       text=True)
    assert r.stdout.split() == ["False", "False", "framing-devices"], r.stderr


def test_changed_file_is_validated_again(project: Path):
    _project(project)
    Project(project).load_schema()
    path = project / "schemas" / "s.yaml"
    path.write_text(path.read_text().replace("kind: single", "kind: singular"))
    with pytest.raises(InputError, match="s.yaml:.*'singular' is not one of"):
        Project(project).load_schema()


def test_a_cached_config_is_no_cached_schema(project: Path):
    """The same bytes given as the schema too (`--schema annotator.yaml`) are checked as
    a schema: a config cached as valid is not a valid schema."""
    _project(project)
    Project(project)
    Project(project)  # the config is read back from the cache
    with pytest.raises(InputError, match="annotator.yaml"):
        Project(project).load_schema(project / "annotator.yaml")


def test_cached_config_still_checks_paths(project: Path):
    _project(project)
    Project(project)
    (project / "docs" / "a.txt").unlink()
    (project / "docs").rmdir()
    with pytest.raises(InputError, match=r"annotator.yaml:2:.*no such file or directory: docs"):
        Project(project)


def test_cache_entries_of_other_rules_are_misses(project: Path, monkeypatch):
    """A file cached as valid under earlier checks is checked again by new ones."""
    from annotator import parse_cache

    _project(project)
    Project(project).load_schema()
    cache = parse_cache.user_parse_cache("schema")
    raw = Path(Project(project).schema_path()).read_bytes()
    assert cache.get(raw) is not None
    monkeypatch.setattr(parse_cache, "_salt", b"other rules")
    assert cache.get(raw) is None

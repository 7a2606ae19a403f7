"""A user keymap: `keys:` in annotator.yaml or ~/.config/annotator/keys.yaml remaps any
binding id (the screen's actions, label and attribute hotkeys); `validate` and the
launch check it against the schema's hotkeys (collisions are located errors)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_helpers import keys, make_store, screen_text, where
from util import run_cli

from annotator.errors import InputError
from annotator.keys import keymap_problems
from annotator.project import Project
from annotator.schema import default_schema_path, load_schema
from annotator.tui.app import AnnotatorApp
from annotator.tui.dialogs import HelpScreen


async def test_remapped_actions_and_labels_take_their_new_keys(tmp_path: Path) -> None:
    store, journal, schema = make_store(tmp_path)
    app = AnnotatorApp(store, journal, schema, keymap={
        "next_unit": ("ctrl+n",), "label.devices.sovereignty": ("7",)})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await keys(app, pilot, "j")
        assert where(app) == ("doc-a", 0)  # j is no longer "next"
        await keys(app, pilot, "ctrl+n")
        assert where(app) == ("doc-a", 1)
        await keys(app, pilot, "7")
        assert journal.state("doc-a", 1)["labels"]["devices"] == ["sovereignty"]
        await keys(app, pilot, "s")  # s is free now: nothing toggles
        assert journal.state("doc-a", 1)["labels"]["devices"] == ["sovereignty"]
        assert " 7 [x] Sovereignty" in screen_text(app)  # the panel shows the new key
        await keys(app, pilot, "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "ctrl+n" in screen_text(app)


def test_collisions_and_unknown_ids_are_found() -> None:
    schema = load_schema(default_schema_path())
    assert keymap_problems({"next_unit": ("ctrl+n",)}, schema) == []
    found = dict(keymap_problems({"mark_done": ("s",)}, schema))
    assert "key 's' is also bound to 'label.devices.sovereignty'" in found["mark_done"]
    found = dict(keymap_problems({"next_unti": ("ctrl+n",)}, schema))
    assert "did you mean 'next_unit'?" in found["next_unti"]
    found = dict(keymap_problems({"label.devices.sovereignty": ("j",)}, schema))
    assert "also bound to 'next_unit'" in found["label.devices.sovereignty"]
    # two remapped bindings on one key
    found = keymap_problems({"undo": ("ctrl+z",), "redo": ("ctrl+z",)}, schema)
    assert {b for b, _ in found} == {"undo", "redo"}


def _project(tmp_path: Path, keys_yaml: str) -> Path:
    (tmp_path / "annotator.yaml").write_text(f"corpus: []\nkeys:\n{keys_yaml}",
                                             encoding="utf-8")
    return tmp_path


def test_validate_locates_a_collision_in_annotator_yaml(tmp_path: Path) -> None:
    root = _project(tmp_path, "  next_unit: ctrl+n\n  mark_done: s\n  flg: F\n")
    r = run_cli("validate", str(root / "annotator.yaml"))
    assert r.returncode == 1
    assert f"{root / 'annotator.yaml'}:4:3: 'mark_done'" in r.stdout  # its line
    assert "key 's' is also bound to 'label.devices.sovereignty'" in r.stdout
    assert f"{root / 'annotator.yaml'}:5:3: no binding 'flg': did you mean 'flag'?" in r.stdout
    with pytest.raises(InputError) as err:
        Project(root).keymap(Project(root).load_schema())
    assert "annotator.yaml:4:3" in str(err.value)
    ok = _project(tmp_path, "  next_unit: [ctrl+n, down]\n")
    assert run_cli("validate", str(ok / "annotator.yaml")).returncode == 0
    assert Project(ok).keymap(Project(ok).load_schema()) == {"next_unit": ("ctrl+n", "down")}
    bad = _project(tmp_path, "  next_unit: 3\n")
    r = run_cli("validate", str(bad / "annotator.yaml"))
    assert r.returncode == 1 and "annotator.yaml:3:3:" in r.stdout


def test_the_users_keymap_and_the_projects_over_it(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    (config / "annotator").mkdir(parents=True)
    (config / "annotator" / "keys.yaml").write_text(
        "next_unit: ctrl+n\nprev_unit: ctrl+p\n", encoding="utf-8")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    (tmp_path / "p").mkdir()
    root = _project(tmp_path / "p", "  prev_unit: ctrl+b\n")
    project = Project(root)
    assert project.keymap(project.load_schema()) == {"next_unit": ("ctrl+n",),
                                                     "prev_unit": ("ctrl+b",)}
    (config / "annotator" / "keys.yaml").write_text("keys:\n  undo: s\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        project.keymap(project.load_schema())
    assert f"{config / 'annotator' / 'keys.yaml'}:2:3:" in str(err.value)

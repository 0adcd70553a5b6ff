"""Scenario names from users (API, CLI): only plain .yml files inside the folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scrai.scenario.loader import ScenarioError, list_scenarios, resolve_scenario_name

REFUSED = [
    ("../etc/passwd.yml", "'..' is not allowed"),
    ("town/../../secret.yml", "'..' is not allowed"),
    ("/etc/passwd.yml", "absolute paths are not allowed"),
    ("//server/share.yml", "absolute paths are not allowed"),
    ("evil.py", "only .yml files are scenarios"),
    ("default.yml.exe", "only .yml files are scenarios"),
    ("..\\outside.yml", "backslashes and drive letters are not allowed"),
    ("C:town.yml", "backslashes and drive letters are not allowed"),
    ("", "empty or contains NUL"),
    ("town\x00.yml", "empty or contains NUL"),
    (".hidden.yml", "hidden files are not allowed"),
    ("town/.git/config.yml", "hidden files are not allowed"),
]


@pytest.mark.parametrize(("name", "reason"), REFUSED, ids=[r[0] or "<empty>" for r in REFUSED])
def test_refused_names(tmp_path: Path, name: str, reason: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        resolve_scenario_name(name, tmp_path)
    assert str(caught.value) == f"{name!r}: not a scenario name: {reason}"


def test_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "scenarios"
    base.mkdir()
    outside = tmp_path / "outside.yml"
    outside.write_text("name: x\n")
    os.symlink(outside, base / "link.yml")
    with pytest.raises(ScenarioError, match="leads outside the scenarios directory"):
        resolve_scenario_name("link.yml", base)


def test_accepted_names(tmp_path: Path) -> None:
    base = tmp_path.resolve()
    assert resolve_scenario_name("default", tmp_path) == base / "default.yml"
    assert resolve_scenario_name("default.yml", tmp_path) == base / "default.yml"
    assert resolve_scenario_name("towns/river.yml", tmp_path) == base / "towns" / "river.yml"
    assert resolve_scenario_name("./default.yml", tmp_path) == base / "default.yml"


def test_list_scenarios(tmp_path: Path) -> None:
    for name in ("b.yml", "a.yml", ".hidden.yml", "notes.txt"):
        (tmp_path / name).write_text("name: x\n")
    (tmp_path / "dir.yml").mkdir()
    assert list_scenarios(tmp_path) == ["a.yml", "b.yml"]

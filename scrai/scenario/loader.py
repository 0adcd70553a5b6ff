"""Load a scenario file: safe YAML, the model, references, expansion.

``load_scenario_file`` and ``parse_scenario`` return the *expanded* scenario
(grid cells as places, templates as agents), ready for ``save_scenario``. Any
problem raises ``ScenarioError`` listing every reason as
``file:line: field.path: reason``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from pydantic import ValidationError

from scrai.scenario.errors import Loc, Problem, ScenarioError, format_loc
from scrai.scenario.expand import expand_scenario
from scrai.scenario.model import Scenario
from scrai.scenario.references import check_references, check_size
from scrai.scenario.yamlsafe import MAX_BYTES, load_yaml, locate

__all__ = [
    "MAX_BYTES",
    "Problem",
    "ScenarioError",
    "list_scenarios",
    "load_scenario_file",
    "parse_scenario",
    "resolve_scenario_name",
    "schema_json",
    "summary",
]

SUFFIX = ".yml"


def _problems(source: str, node: Any, findings: Iterable[tuple[Loc, str]]) -> list[Problem]:
    return [Problem(source, format_loc(loc), locate(node, loc), msg) for loc, msg in findings]


def _pydantic_findings(exc: ValidationError) -> list[tuple[Loc, str]]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append((tuple(err["loc"]), msg))
    return out


def parse_scenario(text: str, source: str = "<string>", *, seed: int | None = None) -> Scenario:
    """Validate YAML text and return the expanded scenario, or raise ScenarioError.

    ``seed`` replaces the file's seed before templates are expanded (``--seed``).
    """
    node, data = load_yaml(text, source)
    if not isinstance(data, dict):
        what = "an empty document" if data is None else f"a {type(data).__name__}"
        line = locate(node, ())
        raise ScenarioError.single(
            source, f"the top level must be a mapping, not {what}", line=line
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_problems(source, node, _pydantic_findings(exc))) from None
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": seed})
    findings = check_size(scenario)
    if findings:
        raise ScenarioError(_problems(source, node, findings))
    expanded = expand_scenario(scenario)
    findings = check_references(scenario, expanded)
    if findings:
        raise ScenarioError(_problems(source, node, findings))
    return expanded


def load_scenario_file(path: str | Path, *, seed: int | None = None) -> Scenario:
    """Read, validate and expand a scenario file (at most 2 MiB of UTF-8 YAML).

    ``seed`` replaces the file's seed before templates are expanded.
    """
    source = str(path)
    try:
        with open(path, "rb") as f:
            # Read one byte past the cap rather than trusting stat: pipes and /dev files lie.
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError.single(source, "no such file") from None
    except IsADirectoryError:
        raise ScenarioError.single(source, "is a directory, not a scenario file") from None
    except OSError as exc:
        raise ScenarioError.single(source, f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise ScenarioError.single(
            source, f"file too large: more than {MAX_BYTES:,} bytes (limit 2 MiB)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError.single(source, "not UTF-8 text", line=line) from None
    return parse_scenario(text, source, seed=seed)


def resolve_scenario_name(name: str, base_dir: str | Path) -> Path:
    """The file under ``base_dir`` that a user-supplied scenario name refers to.

    ``"default"`` and ``"default.yml"`` (or ``"town/default.yml"``) are fine;
    absolute paths, ``..``, other suffixes and anything escaping ``base_dir``
    (through a symlink too) are refused with ScenarioError. The file need not exist.
    """

    def refuse(reason: str) -> ScenarioError:
        return ScenarioError.single(repr(name), f"not a scenario name: {reason}")

    if not name or "\x00" in name:
        raise refuse("empty or contains NUL")
    rel = PurePosixPath(name)
    if rel.is_absolute():
        raise refuse("absolute paths are not allowed")
    if "\\" in name or PureWindowsPath(name).drive:
        raise refuse("backslashes and drive letters are not allowed")
    if ".." in rel.parts:
        raise refuse("'..' is not allowed")
    if any(part.startswith(".") for part in rel.parts):
        raise refuse("hidden files are not allowed")
    if not rel.suffix:
        rel = rel.with_suffix(SUFFIX)
    if rel.suffix != SUFFIX:
        raise refuse(f"only {SUFFIX} files are scenarios")
    base = Path(base_dir).resolve()
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise refuse("it leads outside the scenarios directory")
    return path


def list_scenarios(base_dir: str | Path) -> list[str]:
    """Names (``default.yml``, ...) of the scenario files directly in ``base_dir``.

    A link that leads out of ``base_dir`` is not listed, as :func:`resolve_scenario_name`
    would refuse it.
    """
    base = Path(base_dir).resolve()
    return sorted(
        p.name
        for p in base.glob(f"*{SUFFIX}")
        if p.is_file() and not p.name.startswith(".") and p.resolve().is_relative_to(base)
    )


def summary(source: str, scenario: Scenario) -> str:
    """One line for ``scrai validate``: name and the size of the expanded world."""
    w = scenario.world
    return (
        f"{source}: ok: {scenario.name!r}: {len(w.places)} places, "
        f"{len(w.objects)} objects, {len(scenario.agents)} agents"
    )


def validate_files(paths: Iterable[str | Path]) -> tuple[list[str], bool]:
    """The lines ``scrai validate`` prints, and whether every file is valid."""
    lines: list[str] = []
    ok = True
    for path in paths:
        try:
            lines.append(summary(str(path), load_scenario_file(path)))
        except ScenarioError as exc:
            ok = False
            lines += [str(p) for p in exc.problems]
    return lines, ok


def schema_json() -> str:
    """The JSON Schema of the scenario format, for editors (yaml-language-server)."""
    schema = Scenario.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return json.dumps(schema, indent=2, sort_keys=False)

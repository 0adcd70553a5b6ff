"""Whatever text arrives, parse_scenario answers with a Scenario or a ScenarioError.

``SCRAI_FUZZ_EXAMPLES`` sets the number of cases, as for the event-payload fuzz
(default 300, what CI runs; the full run uses 10,000).
"""

from __future__ import annotations

import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrai.scenario.loader import ScenarioError, parse_scenario
from scrai.scenario.model import Scenario

from .test_broken import BASE

EXAMPLES = int(os.environ.get("SCRAI_FUZZ_EXAMPLES", "300"))
YAML_CHARS = [*"abcxyz019.-_:,[]{}&*!|>'\"#?%@`~<=$ \n\t\\", "\u00e9", "\u2028"]
FIELDS = [
    "name", "seed", "world", "places", "objects", "agents", "templates", "id", "position",
    "neighbors", "capacity", "place", "target", "kind", "relationships", "goals", "traits",
    "count", "archetype", "grid", "rows", "cols", "rules", "<<", "simulation",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["home", "park", "ann", "bob", "bench", "", "-1", "1e999", "2001-02-30"]),
    st.text(max_size=12),
)
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), scalars), inner, max_size=5),
    ),
    max_leaves=30,
)


@st.composite
def mutated_base(draw: st.DrawFn) -> str:
    """BASE with a few characters or lines changed: close to valid, so deep code runs."""
    text = BASE
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["insert", "delete", "line"]))
        if how == "insert":
            text = text[:pos] + draw(st.sampled_from(YAML_CHARS)) + text[pos:]
        elif how == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 8)) :]
        else:
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(draw(st.integers(0, len(lines))), lines[i])
            text = "".join(lines)
    return text


def _dump(tree: object) -> str:
    try:
        return yaml.safe_dump(tree, allow_unicode=True)
    except yaml.YAMLError:
        return str(tree)


inputs = st.one_of(
    st.lists(st.sampled_from([*YAML_CHARS, "id", "place", "- "]), max_size=150).map("".join),
    st.text(max_size=200),
    trees.map(_dump),
    st.fixed_dictionaries({"name": scalars, "world": trees, "agents": trees}).map(_dump),
    mutated_base(),
)


def check(text: str) -> None:
    try:
        result = parse_scenario(text, "fuzz.yml")
    except ScenarioError as exc:
        lines = [str(p) for p in exc.problems]
        assert lines and all(line.startswith("fuzz.yml") and "\n" not in line for line in lines)
    else:
        assert isinstance(result, Scenario)


# The timeout is for the full size (10,000 cases take minutes on a busy machine).
@pytest.mark.timeout(1_800)
@settings(
    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
@given(inputs)
def test_parse_raises_only_scenario_error(text: str) -> None:
    check(text)

"""Choosing a brain per agent, and splitting a cast over worker processes (no server)."""

from __future__ import annotations

import pytest

from scrai.agents.brains import RuleBrain, make_brain
from scrai.agents.worker import shard
from tests.scenarios import social_town


async def test_each_agent_gets_the_brain_its_scenario_names():
    scenario = social_town(
        bob={"brain": {"type": "llm", "model": "tiny", "base_url": "http://127.0.0.1:9/v1"}}
    )
    ann, bob = scenario.agents[0], scenario.agents[1]
    assert isinstance(make_brain(scenario, ann), RuleBrain)
    llm = make_brain(scenario, bob)
    assert llm.name == "llm" and not isinstance(llm, RuleBrain)
    await llm.aclose()


def test_shards_cover_the_cast_once():
    ids = [f"a{i:03d}" for i in range(103)]
    parts = [shard(ids, i, 4) for i in range(4)]
    assert sorted(a for part in parts for a in part) == ids
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    with pytest.raises(ValueError):
        shard(ids, 4, 4)

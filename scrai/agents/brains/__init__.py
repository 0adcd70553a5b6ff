"""Brains: the rule brain (default, offline, deterministic) and the LLM brain."""

from __future__ import annotations

import logging
from typing import Any

from scrai.agents.brains.rule import RuleBrain
from scrai.agents.decision import Brain
from scrai.scenario.model import Agent, Scenario

log = logging.getLogger(__name__)

__all__ = ["RuleBrain", "make_brain"]


def make_brain(scenario: Scenario, agent: Agent, **llm_options: Any) -> Brain:
    """The brain the scenario chose for ``agent`` (``llm_options`` go to the LLM brain)."""
    if agent.brain.type == "llm":
        try:
            from scrai.agents.brains.llm import LLMBrain
        except ImportError:
            log.warning("%s: no LLM brain in this build; using the rule brain", agent.id)
        else:
            return LLMBrain(scenario, agent, **llm_options)  # type: ignore[no-any-return]
    return RuleBrain(scenario, agent)

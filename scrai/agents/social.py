"""Affinity between agents: where ties start, what strengthens and weakens them (pure).

Affinity runs from -1 (hostile) to 1 (devoted). It starts from the scenario's
relationships, rises with conversations and time spent together, falls with
confrontations and contests over objects, and drifts back toward its baseline
when two agents stop meeting, so ties form and fade over a run.
"""

from __future__ import annotations

from scrai.scenario.model import Agent

# Where an unattended tie settles, as a share of the scenario's stated strength.
BASELINE_SHARE = 0.5
# Per-tick pull back toward the baseline (ties fade without contact).
DRIFT = 0.004

HOSTILE_KINDS = frozenset({"rival", "enemy"})
CLOSE_KINDS = frozenset({"friend", "family", "partner"})


def initial_affinity(spec: Agent) -> dict[str, float]:
    return {r.target: float(r.strength) for r in spec.relationships}


def baselines(spec: Agent) -> dict[str, float]:
    return {r.target: BASELINE_SHARE * float(r.strength) for r in spec.relationships}


def kinds(spec: Agent) -> dict[str, str]:
    return {r.target: r.kind for r in spec.relationships}


def _clamp(value: float) -> float:
    return -1.0 if value < -1.0 else 1.0 if value > 1.0 else value


def adjust(affinity: dict[str, float], other: str, delta: float) -> float:
    """Move a tie by ``delta``, with diminishing returns as it nears either end."""
    now = affinity.get(other, 0.0)
    room = 1.0 - now if delta > 0 else 1.0 + now
    affinity[other] = _clamp(now + delta * max(room, 0.05))
    return affinity[other]


def conversation(
    affinity: dict[str, float], other: str, agreeableness: float, hostile: bool
) -> float:
    """A line exchanged with ``other``: friendly talk warms, confrontation cools."""
    if hostile:
        return adjust(affinity, other, -0.05 * (1.5 - agreeableness))
    return adjust(affinity, other, 0.03 * (0.5 + agreeableness))


def contest(affinity: dict[str, float], other: str, kind: str | None) -> float:
    """Competing with ``other`` for an object (and losing, or sharing when it was scarce)."""
    return adjust(affinity, other, -0.05 if kind in HOSTILE_KINDS else -0.02)


def together(affinity: dict[str, float], other: str) -> float:
    """A tick spent in the same place: familiarity grows slowly, even with strangers."""
    return adjust(affinity, other, 0.004 if affinity.get(other, 0.0) >= 0 else 0.001)


def drift(affinity: dict[str, float], base: dict[str, float], touched: set[str]) -> None:
    """Untouched ties this tick relax toward their baseline; tiny stranger ties are forgotten."""
    for other in list(affinity):
        if other in touched:
            continue
        target = base.get(other, 0.0)
        value = affinity[other] + (target - affinity[other]) * DRIFT
        if other not in base and abs(value) < 0.005:
            del affinity[other]
        else:
            affinity[other] = value


def label(affinity: float, kind: str | None) -> str:
    """How the agent thinks of the tie now (for dialogue and the dashboard)."""
    if affinity <= -0.3:
        return "rival" if kind not in ("enemy",) else "enemy"
    if kind in CLOSE_KINDS and affinity > 0.1:
        return kind
    if affinity >= 0.45:
        return "friend"
    if affinity >= 0.15:
        return "acquaintance"
    if kind == "colleague":
        return "colleague"
    return "stranger"

"""How an agent's needs grow with time and fall with what it does (pure).

Needs run from 0 (met) to 1 (urgent). Traits set how fast each one grows, so a
sociable agent gets lonely sooner and an energetic one tires later.
"""

from __future__ import annotations

from scrai.scenario.model import Traits


def initial_needs(traits: Traits) -> dict[str, float]:
    return {
        "social": round(0.2 + 0.3 * traits.sociability, 4),
        "rest": 0.1,
        "curiosity": round(0.2 + 0.3 * traits.curiosity, 4),
        "goal": 0.5,
        "hunger": 0.1,
    }


def _clamp(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


def grow(needs: dict[str, float], traits: Traits) -> None:
    """One tick of time passing."""
    needs["social"] = _clamp(needs["social"] + 0.012 * (0.5 + traits.sociability))
    needs["rest"] = _clamp(needs["rest"] + 0.008 * (1.25 - 0.5 * traits.energy))
    needs["curiosity"] = _clamp(needs["curiosity"] + 0.01 * (0.5 + traits.curiosity))
    needs["hunger"] = _clamp(needs.get("hunger", 0.0) + 0.004)


def satisfy(needs: dict[str, float], need: str, amount: float) -> None:
    """Lower ``need`` by ``amount`` (a negative amount raises it)."""
    if need in needs:
        needs[need] = _clamp(needs[need] - amount)


def goal_pressure(goals: list[dict[str, object]], ticks_since_progress: int) -> float:
    """The goal need: weight of unreached goals, rising the longer nothing moves."""
    active = [float(g.get("priority", 0.5)) for g in goals if g.get("status") == "active"]  # type: ignore[arg-type]
    if not active:
        return 0.0
    return _clamp(max(active) * (0.6 + min(ticks_since_progress, 60) / 100))

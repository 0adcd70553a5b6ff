"""Events for tests, built the way the agent workers and the world system build them.

Ids follow the contract's formulas, so that a test log deduplicates and links up as a
real one does: an action's id is ``uuid5("scrai:{run_id}:{agent}:{sequence}")``, the
committed event's ``uuid5("commit:{action id}")``, the rejected one's
``uuid5("reject:{action id}")`` and a tick's ``uuid5("tick:{run_id}:{tick}")``.
One home for these, so that a change of the contract is one change here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from scrai.events import (
    ActionEvent,
    ActionPayload,
    CommittedPayload,
    Idle,
    RejectedPayload,
    RejectReason,
    TickEvent,
    TickPayload,
    WorldStateCommittedEvent,
    WorldStateRejectedEvent,
)

RUN = "run"


def _uuid5(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, name)


def _envelope(trace_id: str | None, timestamp: float | None) -> dict[str, Any]:
    # Left out when not given: the model's own defaults (no trace, the current time).
    out: dict[str, Any] = {"trace_id": trace_id}
    if timestamp is not None:
        out["timestamp"] = timestamp
    return out


def action_id(agent_id: str, sequence: int, run_id: str = RUN) -> uuid.UUID:
    """The id an agent worker gives its ``sequence``-th action in run ``run_id``."""
    return _uuid5(f"scrai:{run_id}:{agent_id}:{sequence}")


def action(
    agent_id: str,
    sequence: int,
    tick: int,
    act: Any = None,
    *,
    run_id: str = RUN,
    trace_id: str | None = None,
) -> ActionEvent:
    """An agent's action event (``Idle()`` unless ``act`` is given)."""
    return ActionEvent(
        event_id=action_id(agent_id, sequence, run_id),
        entity_id=agent_id,
        sequence=sequence,
        tick=tick,
        trace_id=trace_id,
        payload=ActionPayload(action=act if act is not None else Idle()),
    )


def committed(
    agent_id: str,
    sequence: int,
    tick: int,
    act: Any,
    *,
    before: dict[str, Any],
    after: dict[str, Any] | None = None,
    observers: Iterable[str] = (),
    action_event_id: uuid.UUID | None = None,
    trace_id: str | None = None,
    timestamp: float | None = None,
) -> WorldStateCommittedEvent:
    """The world's committed event for an action (``after`` defaults to ``before``).

    ``sequence`` is the agent's commit sequence; ``action_event_id`` defaults to the id
    of its action of the same sequence (the two match while nothing was rejected).
    """
    if action_event_id is None:
        action_event_id = action_id(agent_id, sequence)
    return WorldStateCommittedEvent(
        event_id=_uuid5(f"commit:{action_event_id}"),
        entity_id=agent_id,
        sequence=sequence,
        tick=tick,
        payload=CommittedPayload(
            action_event_id=action_event_id,
            action=act,
            before=before,
            after=before if after is None else after,
            observers=sorted(observers),
        ),
        **_envelope(trace_id, timestamp),
    )


def rejected(
    agent_id: str,
    sequence: int,
    tick: int,
    act: Any,
    reason: RejectReason,
    message: str | None = None,
    *,
    action_event_id: uuid.UUID | None = None,
    trace_id: str | None = None,
    timestamp: float | None = None,
) -> WorldStateRejectedEvent:
    """The world's rejection of an action (``sequence``: the action's; message: the reason)."""
    if action_event_id is None:
        action_event_id = action_id(agent_id, sequence)
    return WorldStateRejectedEvent(
        event_id=_uuid5(f"reject:{action_event_id}"),
        entity_id=agent_id,
        sequence=sequence,
        tick=tick,
        payload=RejectedPayload(
            action_event_id=action_event_id,
            action=act,
            reason=reason,
            message=reason.value if message is None else message,
        ),
        **_envelope(trace_id, timestamp),
    )


def tick_event(tick: int, *, run_id: str = RUN, **payload: Any) -> TickEvent:
    """The world's last event of a tick; ``payload``: TickPayload fields (state, counts)."""
    return TickEvent(
        event_id=_uuid5(f"tick:{run_id}:{tick}"),
        entity_id="world",
        sequence=tick,
        tick=tick,
        payload=TickPayload(**{"state": "running", **payload}),
    )

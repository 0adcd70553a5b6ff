"""Every Redis key and stream name ScrAI uses, under one optional namespace.

The default (empty) namespace keeps the canonical stream names
``action_events`` and ``world_state_committed_events``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    namespace: str = ""

    def _k(self, name: str) -> str:
        return f"{self.namespace}:{name}" if self.namespace else name

    # -- streams ---------------------------------------------------------------
    @property
    def action_events(self) -> str:
        return self._k("action_events")

    @property
    def committed_events(self) -> str:
        return self._k("world_state_committed_events")

    @property
    def rejected_events(self) -> str:
        return self._k("world_state_rejected_events")

    def dead_letter(self, stream: str) -> str:
        """Dead-letter stream for entries of ``stream`` that could not be handled."""
        return f"{stream}:dead_letter"

    # -- consumer bookkeeping ----------------------------------------------------
    def seen(self, stream: str, group: str) -> str:
        """Sorted set of event ids a group has applied (score: when), for idempotency.

        Members are the 16 raw bytes of each event's UUID (``event_id.bytes``).
        """
        return f"{stream}:seen:{group}"

    def seen_bucket(self, stream: str, group: str, bucket: int) -> str:
        """Set of the event ids a group applied in one time bucket, for idempotency.

        Members are the 16 raw bytes of each event's UUID; ``bucket`` is the epoch
        second divided by the dedupe window (see ``scrai.bus.consumer``).
        """
        return f"{stream}:seen:{group}:{bucket}"

    def failures(self, stream: str, group: str) -> str:
        """Hash stream-id -> failed deliveries, so poison entries are found across restarts."""
        return f"{stream}:failures:{group}"

    # -- scenario and world state (written by the world system only) -------------
    @property
    def scenario(self) -> str:
        return self._k("scenario")

    @property
    def world_meta(self) -> str:
        return self._k("world:meta")

    @property
    def clock(self) -> str:
        return self._k("world:clock")

    @property
    def clock_control(self) -> str:
        """Hash of requested clock changes (state, speed, steps), applied by the world system."""
        return self._k("world:clock:control")

    def staged_actions(self, tick: int) -> str:
        """Hash agent_id -> action event fields (JSON) received for ``tick``, not yet committed."""
        return self._k(f"world:staged:{tick}")

    @property
    def agents_state(self) -> str:
        return self._k("world:agents")

    @property
    def objects_state(self) -> str:
        return self._k("world:objects")

    @property
    def tick_channel(self) -> str:
        """Pub/sub channel announcing each opened tick (a wake-up; the clock hash is the truth)."""
        return self._k("world:ticks")

    # -- agents and memory -------------------------------------------------------
    def memories(self, agent_id: str) -> str:
        return self._k(f"agent:{agent_id}:memories")

    def memory_pending(self, agent_id: str) -> str:
        """List of facts (JSON) the consolidator has not summarised yet, for one agent."""
        return self._k(f"agent:{agent_id}:memories:pending")

    @property
    def memory_pending_agents(self) -> str:
        """Set of agents with unsummarised facts (the time trigger walks it)."""
        return self._k("memory:pending_agents")

    @property
    def memory_progress(self) -> str:
        """Last tick whose events (and TickEvent) the consolidator has fully written."""
        return self._k("memory:progress")

    @property
    def memory_batch(self) -> str:
        """Id of the last batch the consolidator wrote: its in-memory view is of that batch."""
        return self._k("memory:batch")

    @property
    def memory_places(self) -> str:
        """Hash agent_id -> place as of the last committed event the consolidator applied."""
        return self._k("memory:places")

    def agent_mind(self, agent_id: str) -> str:
        """Hash of an agent's inner state: needs, plan, last decision trace, sequence."""
        return self._k(f"agent:{agent_id}:mind")

    def health(self, component: str) -> str:
        """Heartbeat key with a TTL, e.g. ``health("world")``, ``health("worker-alice")``."""
        return self._k(f"health:{component}")

    @property
    def agents_alive(self) -> str:
        """Sorted set agent_id -> expiry (epoch s), kept fresh by the workers hosting them."""
        return self._k("world:alive")

    @property
    def worker_status(self) -> str:
        """Hash agent_id -> JSON status (running, restarting, failed, restarts), by the spawner."""
        return self._k("spawner:workers")

    @property
    def spawner_meta(self) -> str:
        """Hash: run_id, backend, scenario, started_at of the spawner.

        Kept so that a restarted spawner adopts its workers.
        """
        return self._k("spawner:meta")

    @property
    def spawner_lease(self) -> str:
        """Token of the one spawner running this namespace, with a short TTL it keeps renewing."""
        return self._k("spawner:lease")

    @property
    def llm_cache(self) -> str:
        return self._k("llm:cache")

    # -- analytics ---------------------------------------------------------------
    def analytics(self, name: str) -> str:
        return self._k(f"analytics:{name}")

    @property
    def analytics_updates(self) -> str:
        """Stream of analytics updates for the live dashboard."""
        return self._k("analytics_updates")

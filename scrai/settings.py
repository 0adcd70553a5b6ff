"""Every environment variable ScrAI reads, in one place, built on demand."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process settings, read from ``SCRAI_*`` environment variables.

    Build with :func:`get_settings` (or ``Settings()``) where a process starts,
    never at import time, so tests and sub-processes can set the environment first.
    """

    model_config = SettingsConfigDict(env_prefix="SCRAI_", extra="ignore", populate_by_name=True)

    # Where Redis is. Unset means: start a private embedded server (``scrai up``).
    redis_url: str | None = None
    # Prefix of every key and stream name, so several simulations share one Redis.
    namespace: str = ""
    data_dir: Path = Path(".data")

    # Streams: entries kept per stream (approximate), never trimming unread entries.
    stream_retention_max_len: int = Field(default=1_000_000, ge=1_000)
    # The committed log is kept whole unless this is set (``scrai analytics rebuild``
    # replays it from the start): about a kilobyte per entry in a crowd, so a long run
    # of a large cast sets it to bound Redis' memory, read entries only, as above.
    committed_retention_max_len: int | None = Field(default=None, ge=1_000)

    # Consumer tuning.
    consumer_batch_size: int = Field(default=500, ge=1)
    consumer_block_ms: int = Field(default=1_000, ge=1)
    consumer_claim_idle_ms: int = Field(default=30_000, ge=100)
    consumer_max_deliveries: int = Field(default=5, ge=1)
    # How long a consumer remembers an event id to skip a republished copy. A copy comes
    # from a publisher retrying after a lost reply, within its reconnect backoff (seconds),
    # and the world's sequence rule refuses a later one anyway; markers cost Redis about
    # 40 bytes per event and consumer, so an hour of them was most of a crowd's memory.
    consumer_dedupe_window_s: int = Field(default=600, ge=1)
    reconnect_max_backoff_s: float = Field(default=5.0, gt=0)
    # The analytics consumer reads bigger batches: a tie or node touched many times in a
    # batch is written once, so its write cost falls as batches grow.
    analytics_batch_size: int = Field(default=2_000, ge=1)
    # The memory consolidator writes each agent's memories and pending facts once per
    # batch; a batch of a large cast touches thousands of agents, so bigger batches
    # cut its commands per event (it reads big batches only when it has fallen behind).
    memory_batch_size: int = Field(default=2_000, ge=1)
    # Backpressure: the world holds the clock while a live reader of the committed log in
    # one of these groups is more than this many ticks' worth of entries behind (0: never).
    world_max_consumer_lag_ticks: int = Field(default=10, ge=0)
    world_paced_groups: list[str] = Field(default_factory=lambda: ["memory", "analytics"])

    # API server.
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_token: str | None = None
    cors_origins: list[str] = Field(default_factory=list)

    # LLM brain defaults (a scenario may override per agent).
    llm_base_url: str = "http://127.0.0.1:11434/v1"
    llm_model: str = "llama3.1"
    llm_api_key_env: str = "OPENAI_API_KEY"
    llm_timeout_s: float = 10.0
    # Replay a run from the LLM call cache only: never call the model (misses fall back).
    llm_replay_only: bool = False

    # Worker health key lifetime; a container healthcheck reads it.
    health_ttl_s: int = 15

    # Spawner (``python -m spawner``): which backend runs the workers and how.
    spawner_backend: Literal["process", "docker", "swarm"] = "process"
    # Scenario file the spawner (and ``docker compose up``) starts; plain ``SCENARIO`` works too.
    scenario: str | None = Field(
        default=None, validation_alias=AliasChoices("SCENARIO", "SCRAI_SCENARIO")
    )
    image: str = "scrai:latest"  # the ScrAI image worker containers run
    docker_network: str | None = None  # unset: the spawner's own container's network
    # Redis URL handed to workers when it differs from the spawner's own (e.g. host vs. network).
    worker_redis_url: str | None = None
    worker_mem_limit: str = "256m"
    worker_cpus: float = Field(default=0.5, gt=0)
    worker_labels: dict[str, str] = Field(default_factory=dict)  # extra labels on every worker
    spawner_reconcile_interval_s: float = Field(default=1.0, gt=0)
    # Agents per worker: 1 is one worker per agent; more multiplexes a large cast in shards.
    spawner_agents_per_worker: int = Field(default=1, ge=1)
    spawner_backoff_base_s: float = Field(default=0.5, gt=0)
    spawner_backoff_max_s: float = Field(default=30.0, gt=0)
    # A worker up this long has its consecutive-crash count (and so its backoff) reset.
    spawner_backoff_reset_s: float = Field(default=60.0, gt=0)
    # One spawner per namespace: a crashed one's successor takes over within this.
    spawner_lease_ttl_s: float = Field(default=10.0, ge=1.0)


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]

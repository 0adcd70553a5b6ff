"""The worker container spec both Docker backends use (pure: no engine needed)."""

from __future__ import annotations

import logging

import pytest

from scrai.settings import Settings
from spawner.backends.spec import HEALTH, warn_if_loopback_redis, worker_spec


def test_one_agent_worker_spec(settings: Settings) -> None:
    custom = settings.model_copy(
        update={"worker_labels": {"team": "x", "scrai.run-id": "forged"}, "image": "scrai:t"}
    )
    spec = worker_spec(custom, "run123456789", "mara", network="net1")
    assert spec.image == "scrai:t"
    assert spec.command == ["python", "run_agent_worker.py", "--agent-id", "mara"]
    assert spec.name == f"scrai-{settings.namespace}-run12345-mara"
    # ScrAI's own labels win over the caller's extra ones.
    assert spec.labels["scrai.run-id"] == "run123456789" and spec.labels["team"] == "x"
    assert spec.labels["scrai.agent-id"] == "mara" and spec.labels["scrai.managed"] == "true"
    assert spec.env["SCRAI_AGENT_ID"] == "mara" and spec.env["SCRAI_SPAWNER_RUN_ID"]
    assert spec.env["SCRAI_NAMESPACE"] == settings.namespace
    assert spec.mem_bytes == 256 * 1024 * 1024 and spec.nano_cpus == 500_000_000
    assert spec.healthcheck["test"][-1] == "mara"
    assert {k: spec.healthcheck[k] for k in HEALTH} == HEALTH
    assert spec.network == "net1"


def test_a_shard_runs_its_agents_and_probes_the_first(settings: Settings) -> None:
    spec = worker_spec(settings, "r1", "shard-0000-of-0002", ["ann", "bob"])
    assert spec.command[-4:] == ["--agents", "ann,bob", "--name", "shard-0000-of-0002"]
    assert spec.healthcheck["test"][-1] == "ann"


def test_names_keep_only_what_engines_accept(settings: Settings) -> None:
    odd = settings.model_copy(update={"namespace": "lab:one"})
    assert worker_spec(odd, "r1", "ann/b").name == "scrai-lab_one-r1-ann_b"


@pytest.mark.parametrize(
    ("redis_url", "worker_url", "network", "warned"),
    [
        ("redis://127.0.0.1:6379/0", None, "scrai", True),
        ("redis://localhost:6379/0", None, None, True),
        ("redis://127.0.0.1:6379/0", None, "host", False),  # the host's loopback is right
        ("redis://127.0.0.1:6379/0", "redis://10.0.0.5:6379/0", "scrai", False),
        ("redis://redis:6379/0", None, "scrai", False),
    ],
)
def test_a_loopback_redis_for_containers_is_called_out(
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    redis_url: str,
    worker_url: str | None,
    network: str | None,
    warned: bool,
) -> None:
    s = settings.model_copy(update={"redis_url": redis_url, "worker_redis_url": worker_url})
    log = logging.getLogger("tests.spawner.loopback")
    with caplog.at_level(logging.WARNING, logger=log.name):
        warn_if_loopback_redis(s, network, log)
    said = [r.getMessage() for r in caplog.records]
    assert bool(said) is warned, said
    if warned:
        assert "SCRAI_WORKER_REDIS_URL" in said[0]

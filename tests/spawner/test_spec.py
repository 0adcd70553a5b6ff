"""The worker container spec both Docker backends use (pure: no engine needed)."""

from __future__ import annotations

from scrai.settings import Settings
from spawner.backends.spec import HEALTH, worker_spec


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

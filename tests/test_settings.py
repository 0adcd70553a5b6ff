"""Settings come from SCRAI_* variables when built, never at import."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from scrai.keys import Keys
from scrai.settings import Settings, get_settings


def test_reads_prefixed_environment_when_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRAI_REDIS_URL", "redis://example:6379/2")
    monkeypatch.setenv("SCRAI_NAMESPACE", "sim1")
    monkeypatch.setenv("SCRAI_DATA_DIR", "/tmp/scrai-data")
    monkeypatch.setenv("SCRAI_CONSUMER_BATCH_SIZE", "64")
    monkeypatch.setenv("SCRAI_STREAM_RETENTION_MAX_LEN", "5000")
    monkeypatch.setenv("REDIS_URL", "redis://not-ours")  # unprefixed: ignored
    settings = Settings()
    assert settings.redis_url == "redis://example:6379/2"
    assert settings.namespace == "sim1"
    assert settings.data_dir == Path("/tmp/scrai-data")
    assert settings.consumer_batch_size == 64
    assert settings.stream_retention_max_len == 5000


def test_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SCRAI_REDIS_URL", "SCRAI_NAMESPACE", "SCRAI_CONSUMER_BLOCK_MS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.redis_url is None  # unset: scrai starts an embedded server
    assert settings.namespace == ""
    assert get_settings(consumer_block_ms=250).consumer_block_ms == 250


def test_rejects_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRAI_CONSUMER_BATCH_SIZE", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_keys_are_namespaced_and_keep_default_names() -> None:
    assert Keys().action_events == "action_events"
    assert Keys().committed_events == "world_state_committed_events"
    ns = Keys("sim1")
    names = [ns.action_events, ns.committed_events, ns.rejected_events, ns.clock, ns.scenario]
    assert all(name.startswith("sim1:") for name in names)
    assert ns.dead_letter(ns.action_events).startswith("sim1:")
    assert ns.seen(ns.action_events, "g").startswith("sim1:")

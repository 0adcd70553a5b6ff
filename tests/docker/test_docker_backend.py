"""The docker backend on a real engine: create/start/stop, a name in use, two deployments."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from scrai.settings import Settings
from spawner.backends.docker import DockerBackend
from tests.docker.engine import SESSION, SESSION_LABEL, cleanup_session

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def networks(docker_client: Any) -> Iterator[list[str]]:
    """Two bridge networks, as two compose projects on one engine would have."""
    label = {SESSION_LABEL: SESSION}
    made = [
        docker_client.networks.create(f"scraitest{SESSION}{uuid.uuid4().hex[:6]}", labels=label)
        for _ in range(2)
    ]
    yield [n.name for n in made]
    cleanup_session(docker_client)


def backend(settings: Settings, image: str, network: str, run_id: str) -> DockerBackend:
    # The workers find no Redis here and wait for one: running, as far as the engine knows.
    custom = settings.model_copy(
        update={
            "image": image,
            "docker_network": network,
            "worker_labels": {SESSION_LABEL: SESSION},
            "worker_redis_url": "redis://nowhere.invalid:6379/0",
            "namespace": "",  # the default namespace, shared by both deployments
        }
    )
    return DockerBackend(custom, run_id)


def test_two_deployments_on_one_engine_see_only_their_own_workers(
    docker_client: Any, scrai_image: str, settings: Settings, networks: list[str]
) -> None:
    first = backend(settings, scrai_image, networks[0], "runaaaaaaaaa")
    second = backend(settings, scrai_image, networks[1], "runbbbbbbbbb")
    try:
        ann = first.start("ann")
        other = second.start("ann")
        assert [w.handle for w in first.list()] == [ann.handle]
        assert [w.handle for w in second.list()] == [other.handle]

        # A start whose name is taken (a dead predecessor, here a live one) replaces it.
        again = first.start("ann")
        assert again.handle != ann.handle
        [found] = first.list()
        assert found.handle == again.handle and found.alive and found.agent_id == "ann"
        attrs = docker_client.api.inspect_container(again.handle)
        assert networks[0] in attrs["NetworkSettings"]["Networks"]
        assert attrs["HostConfig"]["Init"] is True

        first.stop(found)
        assert first.list() == []
        assert [w.handle for w in second.list()] == [other.handle]  # untouched
    finally:
        first.close()
        second.close()

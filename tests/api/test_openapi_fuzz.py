"""Schemathesis against the served OpenAPI spec: whatever a client sends, no 5xx.

The server runs in its own thread with its own event loop (schemathesis calls it
synchronously), on a world seeded in the documented layout, with and without the token.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis.strategies import DataObject, data, sampled_from

from scrai.api.app import create_app
from scrai.connection import connect
from scrai.embedded import free_port
from scrai.keys import Keys
from scrai.settings import Settings
from tests.api.conftest import AUTH, seed_world

# Streams never end: checked by their own tests, not by a fuzzer waiting for a body.
SKIP = {"/api/live"}


@pytest.fixture
def threaded_server(settings: Settings) -> Iterator[str]:
    async def seed() -> None:
        client = connect(settings)
        await seed_world(client, Keys(settings.namespace))
        await client.aclose()

    asyncio.run(seed())
    app = create_app(settings, control_rate_per_s=1_000, control_burst=1_000)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.mark.slow
def test_no_route_answers_with_a_server_error(threaded_server: str) -> None:
    schema = schemathesis.openapi.from_url(f"{threaded_server}/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if op.path not in SKIP]
    assert len(operations) >= 12
    calls: dict[str, int] = {}
    ops = sampled_from(operations)

    @hyp_settings(
        max_examples=40 * len(operations),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(data())
    def check(d: DataObject) -> None:
        op = d.draw(ops)
        case = d.draw(op.as_strategy())
        for headers in (AUTH, {}):
            response = case.call(base_url=threaded_server, headers=headers, timeout=10)
            label = f"{op.method.upper()} {op.path}"
            calls[label] = calls.get(label, 0) + 1
            assert response.status_code < 500, (
                f"{label} -> {response.status_code}: {response.text[:500]}\n"
                + case.as_curl_command()
            )

    check()
    assert len(calls) == len(operations), sorted(calls)

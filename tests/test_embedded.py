"""The embedded server: a real valkey-server with AOF and noeviction, data where we say."""

from __future__ import annotations

import pytest
import redis as sync_redis

from scrai.embedded import EmbeddedRedis, server_binary


def test_binary_ships_with_the_wheel() -> None:
    assert server_binary().is_file()


def test_starts_with_aof_and_noeviction_and_keeps_data_across_restart(tmp_path) -> None:
    data = tmp_path / "data"
    server = EmbeddedRedis(data, appendfsync="always")
    with server:
        client = sync_redis.Redis.from_url(server.url, decode_responses=True)
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        assert client.config_get("dir")["dir"] == str(data.resolve())
        client.xadd("s", {"a": "1"})
        client.close()
    assert server.process is not None and server.process.returncode == 0
    assert not server.ping()

    # A crash (SIGKILL) and a restart on the same port: what was written is still there.
    with EmbeddedRedis(data, port=server.port, appendfsync="always") as again:
        client = sync_redis.Redis.from_url(again.url, decode_responses=True)
        client.xadd("s", {"a": "2"})
        again.kill()
        assert not again.ping()
        again.start()
        assert [f["a"] for _, f in client.xrange("s")] == ["1", "2"]
        client.close()


def test_wipe_removes_the_data_dir(tmp_path) -> None:
    server = EmbeddedRedis(tmp_path / "d").start()
    server.wipe()
    assert not (tmp_path / "d").exists()


def test_refuses_a_port_another_server_answers_on(tmp_path) -> None:
    with EmbeddedRedis(tmp_path / "a") as first:
        second = EmbeddedRedis(tmp_path / "b", port=first.port)
        with pytest.raises(RuntimeError):
            second.start()
        assert first.ping()

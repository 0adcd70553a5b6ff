"""``scrai up``: the whole simulation as local processes, and nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis as redis_sync

from scrai.embedded import free_port
from scrai.keys import Keys
from scrai.supervise import Child, Supervisor
from tests.helpers import processes_with_env, wait_for_sync

ROOT = Path(__file__).resolve().parent.parent


def fast_copy(tmp_path: Path) -> Path:
    """scenarios/default.yml ticking every 50 ms instead of every second."""
    text = (ROOT / "scenarios" / "default.yml").read_text()
    assert "tick_interval_s: 1.0" in text
    path = tmp_path / "town.yml"
    path.write_text(text.replace("tick_interval_s: 1.0", "tick_interval_s: 0.05"))
    return path


def marked(mark: str) -> list[int]:
    """Live processes of the run marked ``mark`` (all its descendants inherit the mark)."""
    return processes_with_env(f"SCRAI_TEST_RUN_MARK={mark}")


def up_argv(tmp_path: Path, *options: str) -> list[str]:
    """``scrai up`` on :func:`fast_copy`, with its own data dir and API port."""
    command = [sys.executable, "-m", "scrai", "up", str(fast_copy(tmp_path)), *options]
    return [*command, "--data-dir", str(tmp_path / "data"), "--port", str(free_port())]


def env_for(subprocess_env: dict[str, str], mark: str) -> dict[str, str]:
    env = {**subprocess_env, "SCRAI_TEST_RUN_MARK": mark}
    env.pop("SCRAI_API_TOKEN", None)
    return env


@pytest.mark.slow
def test_up_runs_n_ticks_then_stops_everything(tmp_path, settings, subprocess_env):
    mark = uuid.uuid4().hex
    argv = up_argv(tmp_path, "--ticks", "4", "--redis-url", settings.redis_url)
    done = subprocess.run(
        argv, env=env_for(subprocess_env, mark), capture_output=True, text=True, timeout=110
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dashboard: http://127.0.0.1:" in done.stdout and "API token: " in done.stdout
    assert "the world finished its last tick" in done.stdout
    # The token printed is the data dir's own: the next run there prints the same one.
    printed = done.stdout.split("API token: ", 1)[1].split()[0]
    assert (tmp_path / "data" / "api-token").read_text().strip() == printed
    assert marked(mark) == []  # no process of the run is left
    keys = Keys(settings.namespace)
    client = redis_sync.Redis.from_url(settings.redis_url, decode_responses=True)
    try:  # the data stays in Redis
        assert client.hget(keys.clock, "last_closed") == "4"
        assert client.hget(keys.clock, "state") == "finished"
        kinds = [f["type"] for _, f in client.xrange(keys.committed_events)]
        assert kinds.count("tick") == 4 and kinds.count("world_state_committed") > 30
        assert client.hget(keys.agent_mind("lena"), "last_tick") == "4"
        # The log's readers got to its end before everything stopped: the memories and
        # the graph left behind cover the whole run.
        assert client.get(keys.memory_progress) == "4"
        assert client.hget(keys.analytics("meta"), "tick") == "4"
    finally:
        client.close()
    logs = {p.name for p in (tmp_path / "data" / "logs").iterdir()}
    assert "world.log" in logs  # workers log through the spawner, or one file each
    assert "spawner.log" in logs or "worker-lena.log" in logs


@pytest.mark.slow
def test_up_with_a_private_redis_stops_on_ctrl_c(tmp_path, subprocess_env):
    mark = uuid.uuid4().hex
    env = env_for(subprocess_env, mark)
    env.pop("SCRAI_REDIS_URL")
    argv = up_argv(tmp_path)
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # progress lines until events flow
            lines.append(line)
            if "events" in line and "· 0 events" not in line:
                break
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(lines) + out
    assert "started a private Redis" in text and "stopping" in text, text
    assert proc.returncode == 130
    assert marked(mark) == []  # Redis included: nothing outlives the run
    assert (tmp_path / "data" / "redis" / "appendonlydir").exists()  # the data stays on disk


def test_supervisor_restarts_with_backoff_and_stops_whole_groups(tmp_path):
    said: list[str] = []
    sup = Supervisor(said.append)
    crash = sup.start(
        Child(
            "crash",
            [sys.executable, "-c", "raise SystemExit(3)"],
            dict(os.environ),
            tmp_path / "crash.log",
        )
    )
    mark = uuid.uuid4().hex
    # A child with a grandchild: stopping the child's group must take both.
    tree = [
        sys.executable,
        "-c",
        "import subprocess, sys, time;"
        " subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        " time.sleep(60)",
    ]
    sup.start(
        Child("tree", tree, {**os.environ, "SCRAI_TEST_RUN_MARK": mark}, tmp_path / "tree.log")
    )
    wait_for_sync(lambda: bool(sup.poll()) or crash.restarts > 0, 10)
    assert crash.restarts == 1 and "crash exited with code 3; restarting in 0.5s" in said[0]
    wait_for_sync(lambda: sup.poll() is not None and crash.restarts >= 2, 10)
    assert "crash restarted" in said and "restarting in 1.0s" in said[-1]
    wait_for_sync(lambda: len(marked(mark)) == 2, 10)
    sup.stop(grace_s=5)
    assert marked(mark) == [] and crash.done


def test_seed_override_redraws_the_cast_and_bad_files_are_refused(tmp_path, capsys):
    from scrai.launcher import UpOptions, load, up

    crowd = ROOT / "scenarios" / "crowd.yml"
    base, other = load(UpOptions(crowd)), load(UpOptions(crowd, seed=5))
    assert other.seed == 5 and len(other.agents) == len(base.agents)
    assert [a.place for a in other.agents] != [a.place for a in base.agents]  # templates re-drawn
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\nworld: {places: []}\nagents: [{id: a, name: A, place: nowhere}]\n")
    assert up(UpOptions(broken, data_dir=tmp_path / "data")) == 2
    assert "nowhere" in capsys.readouterr().err


def test_the_api_token_is_the_data_dirs_own_unless_one_is_set(tmp_path, monkeypatch):
    from scrai.launcher import Launcher, UpOptions

    monkeypatch.delenv("SCRAI_API_TOKEN", raising=False)
    options = UpOptions(ROOT / "scenarios" / "default.yml", data_dir=tmp_path / "data")
    first = Launcher(options).api_token()
    assert len(first) >= 32
    assert Launcher(options).api_token() == first  # a second run on the same data dir
    path = tmp_path / "data" / "api-token"
    assert path.stat().st_mode & 0o777 == 0o600  # the owner's only
    other = UpOptions(options.scenario, data_dir=tmp_path / "elsewhere")
    assert Launcher(other).api_token() != first  # each data dir its own
    monkeypatch.setenv("SCRAI_API_TOKEN", "set-by-hand")
    assert Launcher(options).api_token() == "set-by-hand"
    assert path.read_text().strip() == first  # left as it was

"""The world system against the real server: rules end to end, admission, seeding."""

from __future__ import annotations

import asyncio
import sys

from scrai.events import (
    Idle,
    Interact,
    Move,
    Speak,
    TickEvent,
    WorldStateCommittedEvent,
    parse_event,
)
from scrai.scenario.store import save_scenario
from scrai.world.state import WorldReader, load_clock
from scrai.world.system import ScenarioMismatch, WorldSystem
from tests.events_factory import action
from tests.helpers import wait_for
from tests.scenarios import line_town
from tests.world.driver import Cast, closed, read_log, running_world

AGENTS = ["alice", "bob", "carol", "dan", "eve"]


def scripted(plan: dict[tuple[str, int], object]):
    return lambda agent, tick: plan.get((agent, tick), Idle())


async def test_each_rule_through_the_running_system(redis, keys, settings):
    await save_scenario(redis, keys, line_town(tick_deadline_s=30))
    plan = {
        ("alice", 1): Move(to="square"),
        ("bob", 1): Move(to="far"),
        ("carol", 1): Speak(to="dan", text="hello"),
        ("dan", 1): Interact(object_id="bench", verb="sit"),
        ("eve", 1): Move(to="island"),
        ("alice", 2): Interact(object_id="well", verb="drink"),
        ("bob", 2): Interact(object_id="well", verb="drink"),
        ("carol", 2): Interact(object_id="safe"),
        ("dan", 2): Speak(to="eve", text="hey"),
        ("alice", 3): Interact(object_id="well", verb="drink"),  # refilled to 1.5
        ("bob", 3): Interact(object_id="well", verb="kick"),
        ("carol", 3): Move(to="atlantis"),
        ("dan", 3): Interact(object_id="well", verb="drink"),  # from the cafe, 5 away
        ("alice", 4): Interact(object_id="well", verb="drink"),  # 1.0 left: the last use
        ("bob", 4): Move(to="cafe"),
        ("carol", 4): Move(to="cafe"),  # dan and bob fill it
        ("carol", 5): Interact(object_id="well", verb="drink"),  # 0.5 left
    }
    cast = Cast(redis, keys, AGENTS, scripted(plan))
    async with running_world(settings):
        await cast.play(5)
        await wait_for(lambda: closed(redis, keys, 5), timeout_s=30)
    log, rejected = await read_log(redis, keys)
    commits = [(e.tick, e.entity_id, e.sequence) for e in log if e.type == "world_state_committed"]
    assert commits == [
        (1, "alice", 1), (1, "carol", 1), (1, "dan", 1),
        (2, "alice", 2), (2, "eve", 1),
        (3, "alice", 3), (3, "eve", 2),
        (4, "alice", 4), (4, "bob", 1), (4, "dan", 2), (4, "eve", 3),
        (5, "alice", 5), (5, "bob", 2), (5, "dan", 3), (5, "eve", 4),
    ]  # fmt: skip
    assert [(e.tick, e.entity_id, e.payload.reason.value) for e in rejected] == [
        (1, "bob", "too_far"),
        (1, "eve", "unreachable"),
        (2, "bob", "capacity_full"),
        (2, "carol", "not_allowed"),
        (2, "dan", "out_of_hearing"),
        (3, "bob", "unsupported_verb"),
        (3, "carol", "unknown_target"),
        (3, "dan", "out_of_reach"),
        (4, "carol", "capacity_full"),
        (5, "carol", "resource_exhausted"),
    ]
    # each tick's TickEvent comes after its commits, with the counts
    ticks = [(i, e) for i, e in enumerate(log) if isinstance(e, TickEvent)]
    assert [(e.tick, e.payload.committed, e.payload.rejected) for _, e in ticks] == [
        (1, 3, 2),
        (2, 2, 3),
        (3, 2, 3),
        (4, 4, 1),
        (5, 4, 1),
    ]
    assert all(e.tick <= 1 for e in log[: ticks[0][0]])
    drink = log[ticks[0][0] + 1]
    assert isinstance(drink, WorldStateCommittedEvent)
    assert drink.payload.before["object:well"]["resource"] == 2
    assert drink.payload.after["object:well"]["resource"] == 1
    assert drink.payload.observers == ["bob", "carol", "dan"]
    # the stored state and the read API agree with the log
    reader = WorldReader(redis, keys)
    assert (await reader.agent("alice")).place == "square"
    bob = await reader.agent("bob")
    assert (bob.place, bob.action_seq, bob.commit_seq) == ("cafe", 5, 2)
    assert bob.last_rejection == {
        "tick": 3,
        "reason": "unsupported_verb",
        "message": "well supports drink, look, not 'kick'",
    }
    well = await reader.object("well")
    # emptied at tick 4, refilled by 0.5 at the close of tick 5 (not enough for carol)
    assert (well.state.uses, well.state.last_user, well.stock) == (3, "alice", 0.5)


async def test_late_early_twice_and_out_of_sequence(redis, keys, settings):
    await save_scenario(redis, keys, line_town(tick_deadline_s=30))
    four = AGENTS[:4]
    cast = Cast(redis, keys, AGENTS, scripted({}))
    async with running_world(settings):
        await cast.play(2)
        await wait_for(lambda: closed(redis, keys, 2), timeout_s=30)
        await redis.zrem(keys.agents_alive, "eve")  # tick 3 waits for the other four only
        await wait_for(lambda: cast._next_open_tick(), timeout_s=30)
        await redis.xadd(keys.action_events, action("alice", 3, 1, Idle()).to_fields())
        await redis.xadd(keys.action_events, action("bob", 3, 5, Idle()).to_fields())
        for event in [
            action("carol", 3, 3, Idle()),
            action("carol", 4, 3, Idle(reason="again")),
            action("dan", 1, 3, Idle()),  # the same event as dan's first: a duplicate, dropped
            action("dan", 1, 3, Idle(), run_id="other"),  # a new event reusing sequence 1
            action("eve", 3, 4, Idle(reason="ahead")),
        ]:
            await redis.xadd(keys.action_events, event.to_fields())
        assert (await load_clock(redis, keys)).last_closed == 2
        for agent_id, seq in [("alice", 4), ("bob", 4), ("dan", 3)]:
            await redis.xadd(keys.action_events, action(agent_id, seq, 3, Idle()).to_fields())
        await wait_for(lambda: closed(redis, keys, 3), timeout_s=30)
        for agent_id, seq in [("alice", 5), ("bob", 5), ("carol", 5), ("dan", 4)]:
            await redis.xadd(keys.action_events, action(agent_id, seq, 4, Idle()).to_fields())
        await wait_for(lambda: closed(redis, keys, 4), timeout_s=30)
    log, rejected = await read_log(redis, keys)
    assert {(e.entity_id, e.tick, e.sequence, e.payload.reason.value) for e in rejected} == {
        ("alice", 1, 3, "late"),
        ("bob", 5, 3, "early"),
        ("carol", 3, 4, "already_acted"),
        ("dan", 3, 1, "out_of_sequence"),
    }
    tick3 = sorted(e.entity_id for e in log if e.tick == 3 and e.type == "world_state_committed")
    assert tick3 == four
    tick4 = {e.entity_id: e for e in log if e.tick == 4 and e.type == "world_state_committed"}
    assert sorted(tick4) == AGENTS  # eve's action, sent a tick ahead, waited for tick 4
    assert tick4["eve"].payload.action == Idle(reason="ahead")
    alice = await WorldReader(redis, keys).agent("alice")
    assert alice.last_rejection["reason"] == "late" and alice.action_seq == 5


async def test_seeding_is_idempotent_and_reseed_starts_over(redis, keys, settings):
    scenario = line_town(tick_deadline_s=30)
    await save_scenario(redis, keys, scenario)
    cast = Cast(redis, keys, AGENTS, scripted({("alice", 1): Move(to="square")}))
    async with running_world(settings):
        await cast.play(3)
        await wait_for(lambda: closed(redis, keys, 3), timeout_s=30)
    meta = await redis.hgetall(keys.world_meta)
    async with running_world(settings) as world:
        await cast.play(4)
        await wait_for(lambda: closed(redis, keys, 4), timeout_s=30)
    assert world.run_id == meta["run_id"]
    assert await redis.hgetall(keys.world_meta) == meta  # not seeded again
    alice = await WorldReader(redis, keys).agent("alice")
    assert alice.place == "square" and alice.commit_seq == 4

    async with running_world(settings, reseed=True) as world:
        await wait_for(
            lambda: getattr(world, "run_id", meta["run_id"]) != meta["run_id"], timeout_s=30
        )
        alice = await WorldReader(redis, keys).agent("alice")
    assert alice.place == "home" and alice.commit_seq == 0

    other = line_town()
    other.name = "another-town"
    await save_scenario(redis, keys, other)
    system = WorldSystem(redis, keys, settings)
    try:
        await system.prepare(asyncio.Event())
        raise AssertionError("a world seeded from another scenario was resumed")
    except ScenarioMismatch as exc:
        assert "--reseed" in str(exc)


async def test_committed_events_read_back_through_the_event_schema(redis, keys, settings):
    await save_scenario(redis, keys, line_town(tick_deadline_s=30))
    cast = Cast(redis, keys, AGENTS, scripted({("bob", 1): Speak(text="hi all")}))
    async with running_world(settings):
        await cast.play(1)
        await wait_for(lambda: closed(redis, keys, 1), timeout_s=30)
    entries = await redis.xrange(keys.committed_events)
    events = [parse_event(fields) for _, fields in entries]
    bob = next(e for e in events if e.entity_id == "bob")
    assert bob.payload.action == Speak(text="hi all")
    assert bob.payload.observers == ["alice", "carol", "dan"]  # within 6; eve is far
    assert bob.payload.before["agent:bob"]["place"] == "square"
    staged = [k async for k in redis.scan_iter(match=keys.staged_actions(0)[:-1] + "*")]
    assert staged == []  # closed ticks leave nothing staged
    info = await redis.xinfo_groups(keys.action_events)
    assert info[0]["pending"] == 0


async def test_process_exits_zero_at_max_ticks_without_agents(redis, keys, subprocess_env):
    # No agent alive: each tick closes at its deadline, and the process ends after tick 3.
    await save_scenario(redis, keys, line_town(tick_deadline_s=0.05, max_ticks=3))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scrai.world", env=subprocess_env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]
    clock = await load_clock(redis, keys)
    assert (clock.tick, clock.last_closed, clock.state) == (3, 3, "finished")
    assert await redis.ttl(keys.health("world")) > 0
    log, _ = await read_log(redis, keys)
    assert [(e.tick, e.payload.committed, e.payload.agents_alive) for e in log] == [
        (1, 0, 0),
        (2, 0, 0),
        (3, 0, 0),
    ]


async def test_action_and_rejection_streams_are_trimmed_to_retention(redis, keys, settings):
    await save_scenario(redis, keys, line_town())
    settings = settings.model_copy(update={"stream_retention_max_len": 1_000})
    async with running_world(settings) as world:
        events = [action("zed", n, 1, Idle()) for n in range(1, 1_501)]  # no such agent
        for start in range(0, len(events), 500):
            async with redis.pipeline(transaction=False) as pipe:
                for event in events[start : start + 500]:
                    pipe.xadd(keys.action_events, event.to_fields())
                await pipe.execute()
        await wait_for(lambda: _rejections_at_least(redis, keys, 1_500), timeout_s=30)
        await world._trim()
    assert await redis.xlen(keys.action_events) == 1_000
    assert await redis.xlen(keys.rejected_events) == 1_000
    assert (await redis.xinfo_groups(keys.action_events))[0]["pending"] == 0


async def _rejections_at_least(redis, keys, n: int) -> bool:
    return await redis.xlen(keys.rejected_events) >= n

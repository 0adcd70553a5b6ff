"""The LLM brain against a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from scrai.agents.brains.llm import LLMBrain, cache_key, extract_json
from scrai.agents.brains.rule import RuleBrain
from scrai.agents.decision import DecisionContext, Perception, RecalledMemory, Seen
from scrai.events import Idle, Move, Speak
from scrai.scenario.model import Scenario
from tests.agents.llm_server import USAGE, ChatServer
from tests.helpers import wait_for

PERSONA = "A baker who loves fairs."
VERBS = ["use", "bake"]
SCENARIO = Scenario.model_validate(
    {
        "name": "festival",
        "seed": 7,
        "world": {
            "places": [
                {"id": "bakery", "name": "the Bakery", "position": [0, 0], "neighbors": ["square"]},
                {"id": "square", "name": "the Square", "position": [5, 0]},
            ],
            "objects": [
                {"id": "oven", "kind": "oven", "place": "bakery", "rules": {"verbs": VERBS}}
            ],
        },
        "agents": [
            {"id": "alice", "name": "Alice", "place": "bakery", "persona": PERSONA},
            {"id": "bob", "name": "Bob", "place": "bakery"},
        ],
    }
)
ALICE = SCENARIO.agents[0]


def context(tick: int = 5) -> DecisionContext:
    return DecisionContext(
        agent_id="alice",
        tick=tick,
        perception=Perception(
            tick=tick,
            place="bakery",
            agents=[Seen("agent", "bob", "bakery", 0.0)],
            objects=[Seen("object", "oven", "bakery", 0.0, {"in_reach": True})],
            events=[
                Seen(
                    "event",
                    "bob",
                    "bakery",
                    0.0,
                    {"action": "speak", "to": "alice", "text": "Festival tonight?"},
                )
            ],
            rejections=[],
            reachable_places=["square"],
        ),
        memories=[
            RecalledMemory("m1", 3, "conversation", 'Bob said to me: "Save me a loaf"', 2.1, 8)
        ],
        needs={"social": 0.4, "rest": 0.1, "curiosity": 0.3, "goal": 0.2},
        plan_step={"place": "square", "activity": "festival"},
        goals=[],
        relationships={"bob": 0.6},
        seed=7,
    )


@pytest.fixture
async def server() -> AsyncIterator[ChatServer]:
    srv = await ChatServer().start()
    yield srv
    await srv.aclose()


MakeBrain = Callable[..., LLMBrain]


@pytest.fixture
async def make_brain(server, settings, redis, keys) -> AsyncIterator[MakeBrain]:
    made: list[LLMBrain] = []

    def _make(
        base_url: str | None = None,
        settings_=None,
        api_key_env: str | None = None,
        timeout_s: float = 0.3,
        **options: Any,
    ) -> LLMBrain:
        brain_cfg = {
            "type": "llm",
            "model": "tiny",
            "base_url": base_url or server.base_url,
            "timeout_s": timeout_s,
            "api_key_env": api_key_env,
            "options": options,
        }
        agent = ALICE.model_copy(update={"brain": ALICE.brain.model_validate(brain_cfg)})
        brain = LLMBrain(
            SCENARIO, agent, settings_ or settings, redis, keys, RuleBrain(SCENARIO, agent)
        )
        made.append(brain)
        return brain

    yield _make
    for brain in made:
        await brain.aclose()


async def rule_decision(ctx: DecisionContext):
    return await RuleBrain(SCENARIO, ALICE).decide(ctx)


async def test_good_answer_is_the_action_and_is_cached(server, make_brain, redis, keys):
    brain = make_brain()
    decision = await brain.decide(context())
    assert decision.action == Move(to="square")
    assert decision.brain == "llm" and decision.reason == "the festival is on the square"
    assert decision.tokens == USAGE["total_tokens"] and brain.tokens_total == 138
    assert decision.trace["cache"] == "miss" and decision.trace["attempts"] == 1
    assert server.requests == 1 and "response_format" not in server.bodies[0]

    # The prompt carries persona, perception, memories, plan step and the action schema.
    system, user = (m["content"] for m in server.bodies[0]["messages"])
    assert PERSONA in system and '"kind": "move"' in system
    for expected in (
        'Bob said to me: "Save me a loaf"',
        "festival",
        "square (the Square)",
        "oven (oven)",
        "verbs: use, bake",
        "Festival tonight?",
        "affinity +0.60",
    ):
        assert expected in user, expected

    # Same prompt again: answered from the Redis cache, no HTTP request, no tokens spent.
    again = await brain.decide(context())
    assert server.requests == 1
    assert again.action == decision.action and again.trace["cache"] == "hit"
    assert again.tokens == 0 and again.trace["tokens_cached"] == 138
    assert await redis.hlen(keys.llm_cache) == 1


async def test_fenced_answer_without_usage_is_parsed_and_tokens_estimated(server, make_brain):
    server.mode = "fenced"
    server.reply = {
        "action": {"kind": "speak", "to": "bob", "text": "See you at the fair!"},
        "reason": "Bob asked",
    }
    decision = await make_brain().decide(context())
    assert decision.action == Speak(to="bob", text="See you at the fair!")
    assert decision.brain == "llm"
    prompt_chars = sum(len(m["content"]) for m in server.bodies[0]["messages"])
    assert decision.tokens > prompt_chars // 4  # estimated: prompt and answer, ~4 chars a token


async def test_content_parts_and_thinking_are_understood(server, make_brain):
    server.mode = "parts"
    decision = await make_brain().decide(context())
    assert decision.brain == "llm" and decision.action == Move(to="square")


async def test_slow_model_times_out_retries_and_falls_back(server, make_brain):
    server.mode = "slow"
    decision = await make_brain(max_retries=1).decide(context())
    assert server.requests == 2  # one retry, bounded
    assert decision.brain == "llm-fallback"
    assert decision.trace["fallback_reason"] == "timeout"
    assert decision.action == (await rule_decision(context())).action
    assert decision.tokens == 0


async def test_the_tick_deadline_bounds_all_attempts(server, make_brain):
    server.mode = "slow"
    brain = make_brain(timeout_s=30, max_retries=5, budget_s=0.2)  # default: 3/4 of the deadline
    started = time.monotonic()
    decision = await brain.decide(context())
    assert time.monotonic() - started < 2.0
    assert decision.trace["fallback_reason"] == "timeout" and server.requests == 1
    assert make_brain().budget_s == SCENARIO.simulation.tick_deadline_s * 0.75


async def test_requests_in_flight_are_capped_per_server(server, make_brain):
    server.mode = "gated"
    brains = [make_brain(max_concurrency=2, budget_s=30, timeout_s=30) for _ in range(5)]
    tasks = [asyncio.create_task(b.decide(context(tick=40 + i))) for i, b in enumerate(brains)]
    await wait_for(lambda: server.in_flight == 2)
    assert server.requests == 2  # the other three wait for a slot, not for the server
    server.gate.set()
    decisions = await asyncio.gather(*tasks)
    assert {d.brain for d in decisions} == {"llm"} and server.requests == 5
    assert server.max_in_flight == 2


async def test_server_errors_fall_back_after_bounded_retries(server, make_brain):
    server.mode = "error"
    decision = await make_brain(max_retries=2).decide(context())
    assert server.requests == 3
    assert decision.brain == "llm-fallback" and decision.trace["fallback_reason"] == "http_500"
    assert "model crashed" in decision.trace["fallback_detail"]


async def test_a_transient_error_is_retried(server, make_brain):
    server.mode = "flaky"
    decision = await make_brain(max_retries=1).decide(context())
    assert server.requests == 2
    assert decision.brain == "llm" and decision.action == Move(to="square")
    assert decision.trace["attempts"] == 2


async def test_nonsense_falls_back_counts_tokens_and_replays_the_same(server, make_brain):
    server.mode = "nonsense"
    brain = make_brain()
    decision = await brain.decide(context())
    assert decision.brain == "llm-fallback" and decision.trace["fallback_reason"] == "not_json"
    assert decision.tokens == USAGE["total_tokens"]  # the model was paid for, even if useless
    assert decision.action == (await rule_decision(context())).action
    # The answer is cached: the same tick replays to the same fallback, without a request.
    again = await brain.decide(context())
    assert server.requests == 1
    assert again.action == decision.action and again.trace["fallback_reason"] == "not_json"


async def test_actions_the_agent_cannot_take_are_rejected(server, make_brain):
    server.mode = "invalid"  # a move to "atlantis"
    decision = await make_brain().decide(context())
    assert decision.brain == "llm-fallback"
    assert decision.trace["fallback_reason"] == "invalid_action"
    assert "atlantis" in decision.trace["fallback_detail"]

    server.mode = "good"
    for reply, detail in [
        ({"kind": "fly", "to": "moon"}, "'fly'"),  # not an action at all
        ({"kind": "speak", "to": "zed", "text": "hi"}, "'zed' is not nearby"),
        ({"kind": "interact", "object_id": "oven", "verb": "smash"}, "does not support 'smash'"),
        ({"kind": "interact", "object_id": "well"}, "no object 'well' nearby"),
    ]:
        server.reply = {"action": reply, "reason": "test"}
        decision = await make_brain().decide(context(tick=len(server.bodies) + 10))
        assert decision.trace["fallback_reason"] == "invalid_action", reply
        assert detail in decision.trace["fallback_detail"], decision.trace["fallback_detail"]


async def test_bare_actions_are_accepted(server, make_brain):
    server.reply = {"kind": "idle", "reason": "tired"}
    decision = await make_brain().decide(context())
    assert decision.action == Idle(reason="tired") and decision.brain == "llm"


async def test_replay_only_never_calls_the_network(server, make_brain, settings):
    recorded = await make_brain().decide(context())
    assert server.requests == 1
    await server.aclose()  # the model is gone

    replay = make_brain(base_url=server.base_url, replay_only=True)
    again = await replay.decide(context())
    assert again.action == recorded.action and again.brain == "llm"
    assert again.trace["cache"] == "hit"
    miss = await replay.decide(context(tick=6))  # a prompt never seen
    assert miss.brain == "llm-fallback" and miss.trace["fallback_reason"] == "replay_cache_miss"
    assert server.requests == 1

    # The same, switched on for a whole run from the settings (SCRAI_LLM_REPLAY_ONLY).
    by_settings = make_brain(settings_=settings.model_copy(update={"llm_replay_only": True}))
    assert (await by_settings.decide(context(tick=6))).trace["fallback_reason"] == (
        "replay_cache_miss"
    )


async def test_model_unreachable_falls_back(make_brain, server):
    await server.aclose()
    decision = await make_brain(max_retries=0).decide(context())
    assert decision.brain == "llm-fallback"
    assert decision.trace["fallback_reason"] == "connection_error"


async def test_json_mode_and_api_key_only_when_asked(server, make_brain, monkeypatch):
    monkeypatch.setenv("SCRAI_TEST_LLM_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    brain = make_brain(
        response_format="json",
        api_key_env="SCRAI_TEST_LLM_KEY",
        seed=11,
        max_tokens=200,
        extra_body={"options": {"num_ctx": 8192}},
    )
    await brain.decide(context())
    body = server.bodies[-1]
    assert body["response_format"] == {"type": "json_object"} and body["seed"] == 11
    assert body["max_tokens"] == 200 and body["options"] == {"num_ctx": 8192}
    assert server.headers[-1]["authorization"] == "Bearer sk-test"
    await make_brain().decide(context(tick=9))
    assert "response_format" not in server.bodies[-1]
    assert "authorization" not in server.headers[-1]  # OPENAI_API_KEY is not set here


def test_extract_json_and_cache_key_are_stable():
    assert extract_json('Sure! ```json\n{"a": 1}\n``` done') == {"a": 1}
    assert extract_json('I pick {"kind": "idle"} because') == {"kind": "idle"}
    assert extract_json('{broken {"kind": "idle"}') == {"kind": "idle"}
    thought = '<think>Maybe {"kind": "move"}? No.</think>\n{"kind": "idle", "reason": "tired"}'
    assert extract_json(thought) == {"kind": "idle", "reason": "tired"}
    msgs = [{"role": "user", "content": "hi"}]
    assert cache_key("m", msgs) == cache_key("m", [dict(m) for m in msgs])
    assert cache_key("m", msgs) != cache_key("n", msgs)


async def test_the_scenario_factory_builds_it_from_the_environment(
    server, settings, redis, keys, monkeypatch
):
    from scrai.agents.brains import make_brain

    monkeypatch.setenv("SCRAI_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("SCRAI_NAMESPACE", settings.namespace)
    brain_cfg = {"type": "llm", "model": "tiny", "base_url": server.base_url, "timeout_s": 0.3}
    agent = ALICE.model_copy(update={"brain": ALICE.brain.model_validate(brain_cfg)})
    brain = make_brain(SCENARIO, agent)
    try:
        assert isinstance(brain, LLMBrain) and isinstance(brain.fallback, RuleBrain)
        assert (await brain.decide(context())).brain == "llm"
        assert await redis.hlen(keys.llm_cache) == 1  # its own client, in the run's namespace
        server.mode = "error"
        fallback = await brain.decide(context(tick=8))
        assert fallback.brain == "llm-fallback" and fallback.trace["fallback_reason"] == "http_500"
    finally:
        await brain.aclose()


async def test_a_model_answering_from_the_prompt_is_always_obeyed(server, make_brain):
    server.mode = "pick"  # chooses among the places and agents the prompt lists
    brain = make_brain()
    decisions = [await brain.decide(context(tick=t)) for t in range(20, 32)]
    assert {d.brain for d in decisions} == {"llm"}
    assert {d.action.kind for d in decisions} == {"move", "speak", "idle"}
    assert brain.tokens_total == 12 * USAGE["total_tokens"]


@pytest.mark.slow
async def test_a_whole_run_replays_exactly_without_the_model(
    server, settings, namespace, subprocess_env
):
    """Agent worker processes and the world; two agents on the LLM brain; then the model goes."""
    from scrai.connection import connect
    from scrai.keys import Keys
    from tests.agents import sim

    server.mode = "pick"
    ticks, thinking = 12, {"mara", "finn"}
    base = sim.default_scenario(ticks)
    brain = ALICE.brain.model_validate(
        {"type": "llm", "model": "stand-in", "base_url": server.base_url, "timeout_s": 10}
    )
    cast = [a.model_copy(update={"brain": brain}) if a.id in thinking else a for a in base.agents]
    scenario = base.model_copy(update={"agents": cast})
    everyone = [[a.id for a in cast]]

    async def run_in(ns: str, **env: str):
        client = connect(settings.model_copy(update={"namespace": ns}))
        keys = Keys(ns)
        try:
            if "SCRAI_LLM_REPLAY_ONLY" in env:  # the recording's cache, nothing else
                await client.hset(keys.llm_cache, mapping=await client.hgetall(recorded.llm_cache))
            log = await sim.run(
                client, keys, {**subprocess_env, "SCRAI_NAMESPACE": ns, **env}, scenario, everyone
            )
            minds = {
                a: json.loads(await client.hget(keys.agent_mind(a), "last_decision"))
                for a in thinking
            }
            return log, minds
        finally:
            await client.aclose()

    recorded = Keys(f"{namespace}rec")
    log, minds = await run_in(recorded.namespace)
    assert server.requests == ticks * len(thinking)
    assert {m["brain"] for m in minds.values()} == {"llm"}
    await server.aclose()  # the model is gone

    replay, replay_minds = await run_in(f"{namespace}replay", SCRAI_LLM_REPLAY_ONLY="1")
    assert replay == log and len(log) > ticks * 5
    assert {(m["brain"], m["trace"]["cache"]) for m in replay_minds.values()} == {("llm", "hit")}

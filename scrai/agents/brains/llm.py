"""The LLM brain: one OpenAI-compatible chat completion per decision, with a safety net.

Speaks ``POST {base_url}/chat/completions`` (OpenAI, Ollama, vLLM, llama.cpp's
server). The prompt carries the persona, what the agent perceives, its recalled
memories, its plan step and the action schema; the answer must be a JSON action
that names places, agents and objects the agent can actually reach. Anything
else (timeout, HTTP error, prose, an impossible action) makes the fallback brain
(the rule brain) decide this tick, and ``trace["fallback_reason"]`` says why.

Every answer is cached in Redis (``keys.llm_cache``) under a hash of the model and
the messages, so the same prompt is never paid for twice and a run replays
exactly without the model (``replay_only``: cache or fallback, never the network).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import os
import re
import time
from typing import Any

import httpx
import redis.asyncio as aioredis
from pydantic import TypeAdapter, ValidationError
from redis.exceptions import RedisError

from scrai.agents.decision import Brain, Decision, DecisionContext
from scrai.events import Action, Interact, Move, Speak
from scrai.keys import Keys
from scrai.scenario.model import Agent, Scenario
from scrai.settings import Settings

log = logging.getLogger(__name__)

ACTION: TypeAdapter[Any] = TypeAdapter(Action)
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
# Reasoning models (DeepSeek-R1, Qwen3 on Ollama or llama.cpp) think aloud before answering.
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
SCHEMA = """Answer with ONE JSON object and nothing else:
{"action": ACTION, "reason": "why, in a few words"}
where ACTION is exactly one of
  {"kind": "move", "to": PLACE_ID}                 (a place from "You can go to")
  {"kind": "speak", "to": AGENT_ID or null, "text": "what you say"}  (null: all in earshot)
  {"kind": "interact", "object_id": OBJECT_ID, "verb": VERB}         (an object nearby)
  {"kind": "idle", "reason": "why"}
Use only the ids listed below."""


# Requests in flight per model server and event loop, shared by every LLM brain of a
# process: a worker hosting many agents must not flood one Ollama or llama.cpp server.
_SLOTS: dict[tuple[int, str], asyncio.Semaphore] = {}


def _slots(url: str, size: int) -> asyncio.Semaphore:
    key = (id(asyncio.get_running_loop()), url)
    if key not in _SLOTS:
        _SLOTS[key] = asyncio.Semaphore(size)  # the first brain of a server sets the size
    return _SLOTS[key]


class BrainFailure(Exception):
    """Why the model gave no usable action; ``code`` goes to ``trace["fallback_reason"]``."""

    def __init__(self, code: str, detail: str, tokens: int = 0) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail, self.tokens = code, detail, tokens


def cache_key(model: str, messages: list[dict[str, str]]) -> str:
    blob = json.dumps({"model": model, "messages": messages}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def estimate_tokens(*texts: str) -> int:
    """About four characters a token: close enough to budget when a server reports no usage."""
    return math.ceil(sum(len(t) for t in texts) / 4)


def extract_json(text: str) -> Any:
    """The first JSON object in ``text``, inside a ``` fence or surrounded by prose."""
    text = _THINK.sub("", text)
    for candidate in [*_FENCE.findall(text), text]:
        start = candidate.find("{")
        while start != -1:
            try:
                return json.JSONDecoder().raw_decode(candidate, start)[0]
            except json.JSONDecodeError:
                start = candidate.find("{", start + 1)
    raise BrainFailure("not_json", f"no JSON object in the answer: {text[:120]!r}")


class LLMBrain:
    """An agent's brain backed by a chat-completions model, falling back to ``fallback``.

    ``settings``, ``redis``/``keys`` and ``fallback`` default to the environment's
    settings, a client of its Redis, and the rule brain, so ``LLMBrain(scenario, agent)``
    works where a factory only knows the scenario.
    """

    name = "llm"

    def __init__(
        self,
        scenario: Scenario,
        agent: Agent,
        settings: Settings | None = None,
        redis: aioredis.Redis | None = None,
        keys: Keys | None = None,
        fallback: Brain | None = None,
    ) -> None:
        settings = settings or Settings()
        cfg, opts = agent.brain, agent.brain.options
        self.scenario, self.agent = scenario, agent
        self.model = cfg.model or settings.llm_model
        self.url = (cfg.base_url or settings.llm_base_url).rstrip("/") + "/chat/completions"
        self.timeout_s = cfg.timeout_s or settings.llm_timeout_s
        self.temperature = cfg.temperature
        self.max_retries = max(0, int(opts.get("max_retries", 1)))
        # All attempts together must leave time to publish before the tick's deadline,
        # else the world rejects the action as late: better the rule brain's on time.
        default_budget = scenario.simulation.tick_deadline_s * 0.75
        self.budget_s = float(opts.get("budget_s", default_budget))
        self.max_concurrency = max(1, int(opts.get("max_concurrency", 8)))
        self.replay_only = bool(opts.get("replay_only", settings.llm_replay_only))
        self.json_mode = opts.get("response_format") in ("json", "json_object")
        self.max_tokens = opts.get("max_tokens")
        # Fixed request fields: "seed" (OpenAI, vLLM, llama.cpp), and anything a server
        # takes beyond the standard ones, e.g. Ollama's {"options": {"num_ctx": 8192}}.
        self.extra_body: dict[str, Any] = dict(opts.get("extra_body") or {})
        if "seed" in opts:
            self.extra_body["seed"] = int(opts["seed"])
        self.tokens_total = 0
        self._own_redis = redis is None and bool(settings.redis_url)
        if redis is None and settings.redis_url:
            from scrai.connection import connect

            redis = connect(settings)
        self.redis, self.keys = redis, keys or Keys(settings.namespace)
        if fallback is None:
            from scrai.agents.brains.rule import RuleBrain

            fallback = RuleBrain(scenario, agent)
        self.fallback = fallback
        headers = {"Content-Type": "application/json"}
        api_key = os.environ.get(cfg.api_key_env or settings.llm_api_key_env)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(self.timeout_s))
        httpx_log = logging.getLogger("httpx")
        if httpx_log.level == logging.NOTSET:  # one INFO line per call floods a worker's log
            httpx_log.setLevel(logging.WARNING)
        self.objects = {o.id: o for o in scenario.world.objects}
        self.places = {p.id: p for p in scenario.world.places}
        self.names = {a.id: a.name for a in scenario.agents}

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.fallback.aclose()
        if self._own_redis and self.redis is not None:
            await self.redis.aclose()

    # -- deciding ---------------------------------------------------------------------

    async def decide(self, ctx: DecisionContext) -> Decision:
        messages = self.messages(ctx)
        key = cache_key(self.model, messages)
        trace: dict[str, Any] = {
            "model": self.model,
            "prompt_hash": key[:16],
            "memories": [m.text for m in ctx.memories[:3]],
            "plan_step": ctx.plan_step,
        }
        tokens = 0
        try:
            cached = await self._cache_get(key)
            if cached is not None:
                content = cached["content"]
                trace.update(cache="hit", tokens_cached=int(cached.get("tokens", 0)))
            elif self.replay_only:
                raise BrainFailure("replay_cache_miss", "replay_only and no cached answer")
            else:
                started = time.monotonic()
                content, tokens, attempts = await self._complete(messages)
                trace.update(cache="miss", attempts=attempts)
                trace["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
                await self._cache_put(key, messages, content, tokens)
            action, reason = self.parse(content, ctx, tokens)
        except BrainFailure as failure:
            return await self._fall_back(ctx, failure, trace, tokens or failure.tokens)
        self.tokens_total += tokens
        return Decision(action=action, reason=reason, brain="llm", trace=trace, tokens=tokens)

    async def _fall_back(
        self, ctx: DecisionContext, failure: BrainFailure, trace: dict[str, Any], tokens: int
    ) -> Decision:
        log.info("%s t%d: LLM brain falls back (%s)", ctx.agent_id, ctx.tick, failure)
        decision = await self.fallback.decide(ctx)
        self.tokens_total += tokens
        merged = {**decision.trace, **trace}
        merged.update(fallback_reason=failure.code, fallback_detail=failure.detail[:300])
        return Decision(
            action=decision.action,
            reason=decision.reason,
            brain="llm-fallback",
            trace=merged,
            tokens=decision.tokens + tokens,
        )

    async def _complete(self, messages: list[dict[str, str]]) -> tuple[str, int, int]:
        """The model's answer text and tokens used; retries transient failures (bounded)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "stream": False,
        }
        if self.json_mode:  # only on request: not every server supports it
            body["response_format"] = {"type": "json_object"}
        if self.max_tokens:
            body["max_tokens"] = int(self.max_tokens)
        body.update(self.extra_body)
        failure = BrainFailure("timeout", f"no time left within the {self.budget_s:g}s budget")
        deadline = time.monotonic() + self.budget_s
        for attempt in range(1, self.max_retries + 2):
            if attempt > 1:
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
            wait_s = min(self.timeout_s, deadline - time.monotonic())
            if wait_s <= 0.01:
                break
            try:
                async with asyncio.timeout(wait_s), _slots(self.url, self.max_concurrency):
                    resp = await self.client.post(self.url, json=body)
            except (TimeoutError, httpx.TimeoutException):
                failure = BrainFailure("timeout", f"no answer within {wait_s:.2f}s")
                continue
            except httpx.HTTPError as exc:
                failure = BrainFailure("connection_error", f"{type(exc).__name__}: {exc}")
                continue
            if resp.status_code >= 500 or resp.status_code == 429:
                failure = BrainFailure(f"http_{resp.status_code}", resp.text[:200])
                continue
            if resp.status_code >= 400:  # our request is wrong: retrying will not help
                raise BrainFailure(f"http_{resp.status_code}", resp.text[:200])
            try:
                data = resp.json()
                content = data["choices"][0]["message"]["content"] or ""
                if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
                    content = "".join(
                        str(p.get("text", "")) for p in content if isinstance(p, dict)
                    )
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise BrainFailure("bad_response", f"not a chat completion: {exc!r}") from None
            usage = data.get("usage") or {}
            tokens = usage.get("total_tokens")
            if not isinstance(tokens, int):
                tokens = estimate_tokens(*(m["content"] for m in messages), content)
            return content, tokens, attempt
        raise failure

    async def _cache_get(self, key: str) -> dict[str, Any] | None:
        if self.redis is None:
            return None
        try:
            raw = await self.redis.hget(self.keys.llm_cache, key)
        except RedisError as exc:  # a cache that is away is a miss, not a failure
            log.warning("LLM cache unavailable: %s", exc)
            return None
        return json.loads(raw) if raw else None

    async def _cache_put(
        self, key: str, messages: list[dict[str, str]], content: str, tokens: int
    ) -> None:
        if self.redis is None:
            return
        # The prompt is kept beside the answer: what the model was asked is part of the record.
        entry = {
            "content": content,
            "tokens": tokens,
            "model": self.model,
            "at": time.time(),
            "messages": messages,
        }
        try:
            await self.redis.hset(self.keys.llm_cache, key, json.dumps(entry))
        except RedisError as exc:
            log.warning("LLM cache unavailable: %s", exc)

    # -- prompt and answer -----------------------------------------------------------

    def messages(self, ctx: DecisionContext) -> list[dict[str, str]]:
        """System (who you are, how to answer) and user (this tick's situation) messages."""
        a = self.agent
        traits = ", ".join(f"{k} {v:.1f}" for k, v in a.traits.model_dump().items())
        system = (
            f'You are {a.name}, a character in "{self.scenario.name}". {a.persona}\n'
            f"Traits (0..1): {traits}.\nEach turn you choose exactly one action.\n{SCHEMA}"
        )
        p = ctx.perception
        lines = [f"Tick {ctx.tick}. You are at {self._place(p.place)}."]
        lines.append("Needs (0 met .. 1 urgent): " + _pairs(ctx.needs))
        if ctx.plan_step:
            lines.append("Plan step: " + json.dumps(ctx.plan_step, sort_keys=True, default=str))
        for goal in ctx.goals:
            lines.append("Goal: " + json.dumps(goal, sort_keys=True, default=str))
        lines.append("You can go to: " + (", ".join(map(self._place, p.reachable_places)) or "-"))
        lines.append("Agents nearby:" + ("" if p.agents else " none"))
        for s in p.agents:
            feel = ctx.relationships.get(s.id)
            tie = f", affinity {feel:+.2f}" if feel is not None else ""
            lines.append(f"- {s.id} ({self.names.get(s.id, s.id)}) at {s.place}{tie}")
        lines.append("Objects nearby:" + ("" if p.objects else " none"))
        for s in p.objects:
            obj = self.objects.get(s.id)
            verbs = ", ".join(obj.rules.verbs) if obj else "use"
            lines.append(f"- {s.id} ({obj.kind if obj else 'object'}) at {s.place}; verbs: {verbs}")
        if p.events:
            lines.append("Last tick you noticed:")
            lines += [f"- {json.dumps(e.detail, sort_keys=True, default=str)}" for e in p.events]
        for r in p.rejections:
            lines.append(
                f"Your action at tick {r.get('tick')} failed: {r.get('reason')} "
                f"({r.get('message', '')})"
            )
        if ctx.memories:
            lines.append("You remember:")
            lines += [f"- (tick {m.tick}) {m.text}" for m in ctx.memories]
        lines.append("What do you do now? JSON only.")
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": "\n".join(lines)},
        ]

    def _place(self, place_id: str) -> str:
        place = self.places.get(place_id)
        return f"{place_id} ({place.name})" if place else place_id

    def parse(self, content: str, ctx: DecisionContext, tokens: int = 0) -> tuple[Action, str]:
        """The action in the answer, checked against what the agent perceives."""
        try:
            data = extract_json(content)
        except BrainFailure as failure:
            failure.tokens = tokens
            raise
        if not isinstance(data, dict):
            raise BrainFailure("invalid_action", "the answer is not a JSON object", tokens)
        reason = str(data.get("reason") or "")
        if "action" in data:
            raw = data["action"]
        else:  # a bare action; its "reason" is ours unless it is an idle's own field
            raw = {k: v for k, v in data.items() if k != "reason" or data.get("kind") == "idle"}
        try:
            action = ACTION.validate_python(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            detail = f"{where}: {first['msg']}" if where else first["msg"]
            raise BrainFailure("invalid_action", detail, tokens) from None
        problem = self._unreachable(action, ctx)
        if problem:
            raise BrainFailure("invalid_action", problem, tokens)
        return action, (reason or f"chose to {action.kind}")[:300]

    def _unreachable(self, action: Action, ctx: DecisionContext) -> str | None:
        p = ctx.perception
        if isinstance(action, Move) and action.to not in p.reachable_places:
            return f"cannot go to {action.to!r} from {p.place!r}"
        if isinstance(action, Speak) and action.to is not None:
            if action.to not in {s.id for s in p.agents}:
                return f"{action.to!r} is not nearby"
        if isinstance(action, Interact):
            if action.object_id not in {s.id for s in p.objects}:
                return f"no object {action.object_id!r} nearby"
            obj = self.objects.get(action.object_id)
            if obj and action.verb not in obj.rules.verbs:
                return f"{action.object_id!r} does not support {action.verb!r}"
        return None


def _pairs(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in sorted(values.items())) or "-"

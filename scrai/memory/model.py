"""A memory: one thing an agent did, saw, heard, concluded or summarised."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

import orjson

MemoryKind = Literal["observation", "action", "conversation", "reflection", "summary"]
KINDS: frozenset[str] = frozenset(
    {"observation", "action", "conversation", "reflection", "summary"}
)


def memory_id(*parts: object) -> str:
    """A deterministic id, so that writing the same memory twice stores it once."""
    # blake2b, not uuid5: a consolidation batch makes tens of thousands of these.
    key = "scrai:memory:" + ":".join(map(str, parts))
    return _blake2b(key.encode(), digest_size=16).hexdigest()


@dataclass(slots=True)
class Memory:
    """One entry of an agent's memory stream.

    ``importance`` is 1 (mundane) .. 10 (poignant). ``keywords`` are normalised
    tokens (see :func:`scrai.memory.scoring.tokenize`) plus the ids of the places,
    agents and objects involved; recall matches queries against them.

    Not frozen: the consolidator builds one per observer of every event, and a frozen
    dataclass's ``__init__`` costs eight times as much. Treat it as a value all the same.
    """

    id: str
    agent_id: str
    tick: int
    kind: MemoryKind
    text: str
    importance: float
    keywords: list[str] = field(default_factory=list)
    event_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown memory kind {self.kind!r}")
        if not 1 <= self.importance <= 10:
            raise ValueError(f"importance {self.importance} is outside 1..10")
        # One representation per value (6 and 6.0 would serialise differently).
        self.importance = round(float(self.importance), 2)
        self.tick = int(self.tick)

    def to_json(self) -> str:
        # Stable key order and separators: the same memory always serialises to the
        # same bytes, which makes a re-written memory a no-op in the sorted set.
        # (A literal dict: dataclasses.asdict deep-copies and is the hot spot of consolidation.)
        data = {
            "agent_id": self.agent_id,
            "event_id": self.event_id,
            "id": self.id,
            "importance": self.importance,
            "keywords": self.keywords,
            "kind": self.kind,
            "text": self.text,
            "tick": self.tick,
        }
        # orjson writes the same bytes as json.dumps(separators=(",", ":"),
        # ensure_ascii=False) for these fields, at a fraction of the cost: the
        # consolidator serialises one memory per observer of every event.
        return orjson.dumps(data).decode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> Memory:
        """Read back what :meth:`to_json` wrote.

        Recall parses every memory of an agent each time, so this skips ``__init__``'s
        checks (the writer ran them) and uses orjson: about 3x faster than the plain way.
        Raises ValueError/KeyError on an entry that is not a memory.
        """
        data = orjson.loads(raw)
        if data["kind"] not in KINDS:
            raise ValueError(f"unknown memory kind {data['kind']!r}")
        memory = _new(cls)
        _set(memory, "id", data["id"])
        _set(memory, "agent_id", data["agent_id"])
        _set(memory, "tick", int(data["tick"]))
        _set(memory, "kind", data["kind"])
        _set(memory, "text", data["text"])
        _set(memory, "importance", float(data["importance"]))
        _set(memory, "keywords", data.get("keywords") or [])
        _set(memory, "event_id", data.get("event_id"))
        return memory


_new = object.__new__
_set = object.__setattr__
_blake2b = hashlib.blake2b

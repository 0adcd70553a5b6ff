"""Every event type ScrAI puts on a stream, and their round trip to stream fields.

An event is an envelope (identity, ordering, time, schema version, trace) around
a typed payload. On a stream each envelope field is one stream field and the
payload is one JSON field, so entries stay readable with ``redis-cli``.
Anything that cannot be read back is an :class:`EventError`, never a crash.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import SchemaValidator, core_schema

SCHEMA_VERSION = 1

Fields = dict[str, str]


class EventError(ValueError):
    """An entry that is not a readable event. ``reason`` is a short machine code."""

    reason = "malformed"


class UnknownEventType(EventError):
    reason = "unknown_type"


class UnsupportedSchemaVersion(EventError):
    reason = "unsupported_schema_version"


class MalformedEvent(EventError):
    reason = "malformed"


class EventType(StrEnum):
    ACTION = "action"
    COMMITTED = "world_state_committed"
    REJECTED = "world_state_rejected"
    TICK = "tick"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- actions -------------------------------------------------------------------------


class Move(_Strict):
    kind: Literal["move"] = "move"
    to: str = Field(min_length=1, max_length=128, description="id of the destination place")


class Speak(_Strict):
    kind: Literal["speak"] = "speak"
    to: str | None = Field(
        default=None, max_length=128, description="addressee; None: all in earshot"
    )
    text: str = Field(min_length=1, max_length=1_000)


class Interact(_Strict):
    kind: Literal["interact"] = "interact"
    object_id: str = Field(min_length=1, max_length=128)
    verb: str = Field(default="use", min_length=1, max_length=64)


class Idle(_Strict):
    kind: Literal["idle"] = "idle"
    reason: str = Field(default="", max_length=200)


Action = Annotated[Move | Speak | Interact | Idle, Field(discriminator="kind")]


class RejectReason(StrEnum):
    UNKNOWN_AGENT = "unknown_agent"
    UNKNOWN_TARGET = "unknown_target"
    UNREACHABLE = "unreachable"
    TOO_FAR = "too_far"
    OUT_OF_HEARING = "out_of_hearing"
    OUT_OF_REACH = "out_of_reach"
    NOT_ALLOWED = "not_allowed"
    CAPACITY_FULL = "capacity_full"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    UNSUPPORTED_VERB = "unsupported_verb"
    ALREADY_ACTED = "already_acted"
    OUT_OF_SEQUENCE = "out_of_sequence"
    LATE = "late"
    EARLY = "early"


# -- payloads ------------------------------------------------------------------------


class ActionPayload(_Strict):
    action: Action


class CommittedPayload(_Strict):
    action_event_id: uuid.UUID
    action: Action
    # State before and after, keyed "agent:<id>" / "object:<id>", for what the action touched.
    before: dict[str, dict[str, Any]]
    after: dict[str, dict[str, Any]]
    # Agents within perception range of the actor when it acted (for memories and analytics).
    observers: list[str] = Field(default_factory=list)


class RejectedPayload(_Strict):
    action_event_id: uuid.UUID
    action: Action
    reason: RejectReason
    message: str


class TickPayload(_Strict):
    state: str
    committed: int = 0
    rejected: int = 0
    agents_alive: int = 0
    duration_ms: float = 0.0


# -- envelopes -----------------------------------------------------------------------


class Event(BaseModel):
    """The envelope every event shares."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    TYPE: ClassVar[EventType]

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: EventType
    entity_id: str = Field(min_length=1, max_length=128)
    sequence: int = Field(ge=0)
    tick: int = Field(ge=0)
    timestamp: float = Field(default_factory=time.time, allow_inf_nan=False)
    schema_version: int = SCHEMA_VERSION
    trace_id: str | None = None
    payload: BaseModel

    def to_fields(self) -> Fields:
        """Stream fields for ``XADD``."""
        payload = self.payload
        fields = {
            "event_id": str(self.event_id),
            # Every publish goes through here: the enum's plain value and the payload's
            # serializer called directly cost a fifth less than .value and model_dump_json.
            "type": self.type._value_,
            "entity_id": self.entity_id,
            "sequence": str(self.sequence),
            "tick": str(self.tick),
            "timestamp": repr(self.timestamp),
            "schema_version": str(self.schema_version),
            "payload": payload.__pydantic_serializer__.to_json(payload).decode(),
        }
        if self.trace_id is not None:
            fields["trace_id"] = self.trace_id
        return fields


class ActionEvent(Event):
    TYPE = EventType.ACTION
    type: Literal[EventType.ACTION] = EventType.ACTION
    payload: ActionPayload


class WorldStateCommittedEvent(Event):
    TYPE = EventType.COMMITTED
    type: Literal[EventType.COMMITTED] = EventType.COMMITTED
    payload: CommittedPayload


class WorldStateRejectedEvent(Event):
    TYPE = EventType.REJECTED
    type: Literal[EventType.REJECTED] = EventType.REJECTED
    payload: RejectedPayload


class TickEvent(Event):
    """Announces that a tick closed; ``entity_id`` is ``"world"``, ``sequence`` the tick."""

    TYPE = EventType.TICK
    type: Literal[EventType.TICK] = EventType.TICK
    payload: TickPayload


AnyEvent = ActionEvent | WorldStateCommittedEvent | WorldStateRejectedEvent | TickEvent

EVENT_CLASSES: dict[str, type[Event]] = {
    cls.TYPE.value: cls
    for cls in (ActionEvent, WorldStateCommittedEvent, WorldStateRejectedEvent, TickEvent)
}

_ENVELOPE_FIELDS = ("event_id", "entity_id", "sequence", "tick", "timestamp")


def _describe(kind: str, exc: ValidationError) -> MalformedEvent:
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return MalformedEvent(f"{kind} payload is not JSON: {first['msg']}")
    where = ".".join(str(p) for p in first["loc"])
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return MalformedEvent(f"{kind} is invalid at {where or 'envelope'}: {first['msg']}{more}")


EntryReader = Callable[[dict[str, str]], Event]
BatchReader = Callable[[list[dict[str, str]]], list[Event]]


def _stream_schema(cls: type[Event]) -> Any:
    """``cls``'s model schema, reading the payload from its JSON string, ignoring extra fields.

    pydantic-core then builds the instances itself, as it does for ``cls(**data)``
    (assembling them in Python cost a sixth of the read).
    """
    model = copy.deepcopy(cls.__pydantic_core_schema__)
    if model["type"] != "model" or model["schema"]["type"] != "model-fields":
        raise TypeError(f"unexpected core schema for {cls.__name__}")
    model.pop("ref", None)  # not the model's own schema any more
    fields = model["schema"]
    payload = fields["fields"]["payload"]
    payload["schema"] = core_schema.json_schema(payload["schema"])
    fields["extra_behavior"] = "ignore"
    model["config"] = {**model.get("config", {}), "extra_fields_behavior": "ignore"}
    return model


def _validator(schema: Any) -> Callable[[Any], Any]:
    """A validator for ``schema`` that holds the event models' changed schemas.

    pydantic-core uses a complete model's own validator wherever a schema names that
    model class; the event classes are marked incomplete while this one is built so
    that it keeps ours. (Their payload models keep their own validators.)
    """
    saved = {cls: cls.__dict__["__pydantic_complete__"] for cls in EVENT_CLASSES.values()}
    try:
        for cls in saved:
            cls.__pydantic_complete__ = False
        # Only keys (a bounded set) go into pydantic-core's string cache. Its default caches
        # values too: speech, a few thousand new lines a minute in a crowd, each kept until
        # another takes its slot, and each holding the allocator's arena it was made in:
        # a long-lived consumer's RSS crept up to its biggest batch's peak.
        return SchemaValidator(schema, config={"cache_strings": "keys"}).validate_python
    finally:
        for cls, complete in saved.items():
            cls.__pydantic_complete__ = complete


def _batch_reader() -> BatchReader:
    """A reader for a whole list of entries (of known types) in ONE validation call.

    The same per-type schemas as :func:`_entry_reader`, under a union tagged by the
    ``type`` field: one call into pydantic-core per batch instead of one per entry
    costs a third less per entry. Raises ``ValidationError`` if any entry is invalid,
    of an unknown type or of a newer schema version.
    """
    choices = {}
    for kind, cls in EVENT_CLASSES.items():
        model = _stream_schema(cls)
        # A newer schema version fails here, and parse_event then says so for that entry.
        version = model["schema"]["fields"]["schema_version"]["schema"]
        if version["type"] != "default" or version["schema"]["type"] != "int":
            raise TypeError(f"unexpected schema_version schema for {cls.__name__}")
        version["schema"]["le"] = SCHEMA_VERSION
        choices[kind] = model
    union = core_schema.tagged_union_schema(choices, discriminator="type")
    return _validator(core_schema.list_schema(union))  # type: ignore[return-value]


def _entry_reader(cls: type[Event]) -> EntryReader:
    """A reader that builds ``cls`` straight from its stream fields, in one validation pass.

    It validates with the model's own schema, changed in two ways: the payload is read
    from its JSON string (pydantic-core parses and validates it in the same pass) and
    unknown stream fields are ignored (a newer writer may add some). Every consumer
    parses every entry; this costs half of validating field by field.
    """
    return _validator(_stream_schema(cls))  # type: ignore[return-value]


def _field_by_field(cls: type[Event], kind: str, fields: dict[str, str]) -> Event:
    """The plain way to read an entry: the reference the one-pass readers must match."""
    missing = [name for name in (*_ENVELOPE_FIELDS, "payload") if name not in fields]
    if missing:
        raise MalformedEvent(f"{kind} is invalid at {missing[0]}: Field required")
    try:
        payload: Any = json.loads(fields["payload"])
    except json.JSONDecodeError as exc:
        raise MalformedEvent(f"{kind} payload is not JSON: {exc}") from None
    data: dict[str, Any] = {name: fields[name] for name in _ENVELOPE_FIELDS}
    data.update(type=kind, payload=payload)
    for optional in ("schema_version", "trace_id"):
        if optional in fields:
            data[optional] = fields[optional]
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise _describe(kind, exc) from None


def _build_readers() -> tuple[dict[str, EntryReader], BatchReader | None]:
    """One-pass validators, if this pydantic builds them to give the reference's results."""
    samples = [
        TickEvent(entity_id="world", sequence=1, tick=1, payload=TickPayload(state="x")),
        WorldStateRejectedEvent(entity_id="a", sequence=1, tick=1, payload=RejectedPayload(
            action_event_id=uuid.uuid4(), action=Idle(), reason=RejectReason.LATE, message="")),
        ActionEvent(entity_id="a", sequence=2, tick=3, trace_id="t", payload=ActionPayload(
            action=Speak(text="hi"))),
    ]  # fmt: skip

    def same(fast: Event, slow: Event, sample: Event) -> bool:
        return (
            type(fast) is type(slow)
            and fast == slow == sample
            and fast.model_fields_set == slow.model_fields_set
        )

    try:
        readers = {kind: _entry_reader(cls) for kind, cls in EVENT_CLASSES.items()}
        entries = [sample.to_fields() for sample in samples]
        pairs = list(zip(samples, entries, strict=True))
        slow = [_field_by_field(type(s), s.type.value, f) for s, f in pairs]
        fast = [readers[s.type.value](f) for s, f in pairs]
        if not all(map(same, fast, slow, samples)):
            return {}, None
        batch: BatchReader | None = _batch_reader()
        if not all(map(same, batch(entries), slow, samples)):  # type: ignore[misc]
            batch = None
        return readers, batch
    except Exception:  # pragma: no cover - a pydantic whose schemas look different
        return {}, None


_ENTRY_READERS, _BATCH_READER = _build_readers()


def parse_event(fields: dict[str, str]) -> AnyEvent:
    """Read an event back from stream fields, or raise an :class:`EventError` saying why."""
    kind = fields.get("type")
    if not isinstance(kind, str) or kind not in EVENT_CLASSES:
        raise UnknownEventType(f"unknown event type {kind!r}")
    cls = EVENT_CLASSES[kind]
    try:
        version = int(fields.get("schema_version", SCHEMA_VERSION))
    except (TypeError, ValueError):
        raise MalformedEvent(
            f"schema_version is not an integer: {fields.get('schema_version')!r}"
        ) from None
    if version > SCHEMA_VERSION:
        raise UnsupportedSchemaVersion(
            f"{kind} has schema_version {version}; this build reads up to {SCHEMA_VERSION}"
        )
    read = _ENTRY_READERS.get(kind)
    if read is None:
        return _field_by_field(cls, kind, fields)  # type: ignore[return-value]
    try:
        return read(fields)  # type: ignore[return-value]
    except ValidationError as exc:
        raise _describe(kind, exc) from None


def parse_events(entries: list[dict[str, str]]) -> list[AnyEvent | EventError]:
    """Read a batch of entries: each one's event, or the :class:`EventError` saying why not.

    The same results as :func:`parse_event` on each entry, in one validation call for
    the batch (a batch holding an entry that is not a readable event goes one by one,
    so that each entry gets its own error).
    """
    read = _BATCH_READER
    if read is not None:
        try:
            return read(entries)  # type: ignore[return-value]
        except (ValidationError, KeyError, TypeError):
            pass
    results: list[AnyEvent | EventError] = []
    for fields in entries:
        try:
            results.append(parse_event(fields))
        except EventError as exc:
            results.append(exc)
    return results

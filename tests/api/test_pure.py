"""The API's pure helpers: origin rule, SSE positions, the rate limit, the exposition format."""

from __future__ import annotations

from scrai.api.ratelimit import RateLimit
from scrai.api.routes.live import origin_allowed, parse_position, sse
from scrai.api.routes.metrics import Exposition
from scrai.api.streams import action_kind, entry_json


def test_origin_rule() -> None:
    assert origin_allowed(None, "127.0.0.1:8000", [])  # not a cross-origin browser request
    assert origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000", [])  # same origin
    assert not origin_allowed("http://evil.example", "127.0.0.1:8000", [])
    assert not origin_allowed("http://127.0.0.1:8001", "127.0.0.1:8000", [])
    assert origin_allowed("http://lab.example", "127.0.0.1:8000", ["http://lab.example"])
    assert not origin_allowed("http://lab.example.evil", "127.0.0.1:8000", ["http://lab.example"])


def test_positions_parse_only_pairs_of_stream_ids() -> None:
    assert parse_position("1-0,2-3,4-5") == ("1-0", "2-3", "4-5")
    for bad in (None, "", "1-0", "1-0,2-3", "1-0,2-3,", "x,y,z", "1-0,2-3,4-5,6-7", "$,$,$"):
        assert parse_position(bad) is None, bad


def test_sse_framing() -> None:
    assert sse("tick", {"a": 1}, "1-0,0-0") == 'event: tick\nid: 1-0,0-0\ndata: {"a":1}\n\n'


def test_rate_limit_allows_a_burst_then_refills() -> None:
    limit = RateLimit(rate_per_s=2.0, burst=3)
    assert [limit.take("a", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert limit.take("b", now=0.0)  # per client
    assert not limit.take("a", now=0.2)
    assert limit.take("a", now=0.6)  # 0.6 s at 2/s refilled one
    assert not limit.take("a", now=0.6)


def test_rate_limit_memory_is_bounded() -> None:
    limit = RateLimit(rate_per_s=1.0, burst=1, max_clients=10)
    for i in range(100):
        limit.take(f"c{i}", now=0.0)
    assert len(limit._buckets) <= 10


def test_exposition_groups_samples_under_one_header_and_escapes_labels() -> None:
    exp = Exposition()
    exp.add("m", "gauge", "help text", 1, stream='a"b')
    exp.add("m", "gauge", "help text", 2.5, stream="c\\d")
    exp.add("n", "counter", "other", 3)
    assert exp.render() == (
        "# HELP m help text\n# TYPE m gauge\n"
        'm{stream="a\\"b"} 1\nm{stream="c\\\\d"} 2.5\n'
        "# HELP n other\n# TYPE n counter\nn 3\n"
    )


def test_entries_are_read_leniently() -> None:
    entry = entry_json("1-0", {"type": "world_state_committed", "tick": "x", "payload": "{nope"})
    assert (
        entry["tick"] is None
        and entry["payload"] is None
        and entry["kind"] == "world_state_committed"
    )
    assert action_kind({"payload": {"action": {"kind": "speak"}}}) == "speak"
    assert entry_json("2-0", {"timestamp": "nan"})["timestamp"] is None

"""The dashboard in real Chromium, watching a real `scrai up` of the default scenario."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Page, Run
from tests.helpers import wait_for_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GRAPH_TIMEOUT_S = 60


def open_dashboard(page: Page, run: Run) -> object:
    pg = page.page
    pg.goto(run.dashboard)  # type: ignore[attr-defined]
    pg.wait_for_function("/^\\d+$/.test(document.getElementById('tick').textContent)")  # type: ignore[attr-defined]
    return pg


def agent_ids(run: Run) -> set[str]:
    return {a["id"] for a in run.api("/api/agents")["agents"]}


def node_ids(pg: object) -> set[str]:
    return set(pg.eval_on_selector_all("#graph g.node", "ns => ns.map(n => n.dataset.id)"))  # type: ignore[attr-defined]


def test_page_loads_with_no_console_errors(page: Page, run: Run) -> None:
    pg = open_dashboard(page, run)
    pg.wait_for_selector("#map circle.agent")  # type: ignore[attr-defined]
    pg.wait_for_selector("#log li")  # type: ignore[attr-defined]
    assert pg.text_content("#scenario-name") == "Millbrook"  # type: ignore[attr-defined]
    assert "#token" not in pg.url  # type: ignore[attr-defined]  # the token left the address bar
    page.shot("01-loaded")
    assert page.errors == []


def test_graph_has_one_node_per_agent_and_edges_appear(page: Page, run: Run) -> None:
    pg = open_dashboard(page, run)
    agents = agent_ids(run)
    pg.wait_for_function(  # type: ignore[attr-defined]
        f"document.querySelectorAll('#graph g.node').length === {len(agents)}"
    )
    assert node_ids(pg) == agents
    first = float(pg.get_attribute("#graph", "data-weight") or 0)  # type: ignore[attr-defined]
    # Ties form and strengthen while the simulation runs, and the page shows it without a reload.
    pg.wait_for_function(  # type: ignore[attr-defined]
        "Number(document.getElementById('graph').dataset.links) > 0 && "
        f"Number(document.getElementById('graph').dataset.weight) > {first}",
        timeout=GRAPH_TIMEOUT_S * 1000,
    )
    assert pg.locator("#graph line.link").count() > 0  # type: ignore[attr-defined]
    assert node_ids(pg) == agents
    page.shot("02-graph")
    assert page.errors == []


# Watch the graph through several live updates, frame by frame: the same elements stay
# (merged by id, not re-created) and no node jumps between two frames.
WATCH_UPDATES_JS = """
async (updates) => {
  const svg = document.getElementById('graph');
  const pos = (g) => {
    const m = /translate\\(([^,]+),([^)]+)\\)/.exec(g.getAttribute('transform'));
    return [Number(m[1]), Number(m[2])];
  };
  const els = new Map([...svg.querySelectorAll('g.node')].map((g) => [g.dataset.id, g]));
  const last = new Map([...els].map(([id, g]) => [id, pos(g)]));
  const start = Number(svg.dataset.renders);
  let maxStep = 0;
  let frames = 0;
  while (Number(svg.dataset.renders) < start + updates) {
    await new Promise((r) => requestAnimationFrame(r));
    frames += 1;
    for (const g of svg.querySelectorAll('g.node')) {
      if (els.get(g.dataset.id) !== g) return { recreated: g.dataset.id };
      const [x, y] = pos(g);
      const [px, py] = last.get(g.dataset.id);
      maxStep = Math.max(maxStep, Math.hypot(x - px, y - py));
      last.set(g.dataset.id, [x, y]);
    }
  }
  return { recreated: null, maxStep, frames };
}
"""


def test_graph_updates_in_place_without_jumping(page: Page, run: Run) -> None:
    pg = open_dashboard(page, run)
    pg.wait_for_function("Number(document.getElementById('graph').dataset.links) > 0")  # type: ignore[attr-defined]
    # The first layout, from nothing, may move a lot; from then on, updates must not.
    pg.wait_for_selector("#graph[data-settled='1']", timeout=GRAPH_TIMEOUT_S * 1000)  # type: ignore[attr-defined]
    watched = pg.evaluate(WATCH_UPDATES_JS, 3)  # type: ignore[attr-defined]
    assert watched["recreated"] is None, watched
    assert watched["frames"] > 0
    # A jump (a re-layout from scratch) moves nodes hundreds of pixels at once; a nudge
    # moves them a few pixels a frame.
    assert watched["maxStep"] < 20, watched
    assert page.errors == []


def test_clicking_a_node_opens_that_agent_in_the_inspector(page: Page, run: Run) -> None:
    pg = open_dashboard(page, run)
    pg.wait_for_selector("#graph g.node circle")  # type: ignore[attr-defined]
    node = pg.locator("#graph g.node").nth(2)  # type: ignore[attr-defined]
    agent = node.get_attribute("data-id")

    # Point at it first: a hovered node holds still under the pointer, as for a person.
    # The layout may still be moving it, so aim again until the pointer is on it.
    def pointed() -> tuple[float, float] | None:
        box = node.locator("circle").bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        pg.mouse.move(x, y)  # type: ignore[attr-defined]
        return (x, y) if node.evaluate("g => g.matches(':hover')") else None

    x, y = wait_for_sync(pointed, 20, what=f"the pointer to rest on {agent}", interval_s=0.1)
    pg.wait_for_selector("#graph-tooltip:not([hidden])")  # type: ignore[attr-defined]
    pg.mouse.click(x, y)  # type: ignore[attr-defined]
    pg.wait_for_selector(f"#inspector[data-agent='{agent}']")  # type: ignore[attr-defined]
    detail = run.api(f"/api/agents/{agent}")
    assert pg.text_content("#inspector-name") == detail["name"]  # type: ignore[attr-defined]
    assert "Why it did that" in pg.text_content("#inspector")  # type: ignore[attr-defined]
    assert pg.locator(f"#graph g.node.selected[data-id='{agent}']").count() == 1  # type: ignore[attr-defined]
    page.shot("03-inspector")
    assert page.errors == []


def tick_of(pg: object) -> int:
    return int(pg.text_content("#tick"))  # type: ignore[attr-defined]


def clock_reads(pg: object) -> int:
    return int(pg.evaluate("Number(document.body.dataset.clockReads || 0)"))  # type: ignore[attr-defined]


def test_pause_stops_the_tick_counter_and_resume_restarts_it(page: Page, run: Run) -> None:
    pg = open_dashboard(page, run)
    start = tick_of(pg)
    pg.wait_for_function(f"Number(document.getElementById('tick').textContent) > {start}")  # type: ignore[attr-defined]

    pg.click("#btn-pause")  # type: ignore[attr-defined]
    pg.wait_for_function("document.getElementById('state').textContent === 'paused'")  # type: ignore[attr-defined]
    assert run.api("/api/simulation")["state"] == "paused"
    paused_at = tick_of(pg)
    # Several more readings of the clock (and more than a tick interval) see the same tick.
    reads = clock_reads(pg)
    pg.wait_for_function(f"Number(document.body.dataset.clockReads) >= {reads + 3}")  # type: ignore[attr-defined]
    assert tick_of(pg) == paused_at
    page.shot("04-paused")

    # Step (the "." key) runs exactly one tick, and the world stays paused.
    pg.keyboard.press(".")  # type: ignore[attr-defined]
    pg.wait_for_function(f"Number(document.getElementById('tick').textContent) > {paused_at}")  # type: ignore[attr-defined]
    reads = clock_reads(pg)
    pg.wait_for_function(f"Number(document.body.dataset.clockReads) >= {reads + 2}")  # type: ignore[attr-defined]
    assert tick_of(pg) == paused_at + 1
    assert pg.text_content("#state") == "paused"  # type: ignore[attr-defined]
    paused_at += 1

    pg.click("#btn-resume")  # type: ignore[attr-defined]
    pg.wait_for_function(f"Number(document.getElementById('tick').textContent) > {paused_at}")  # type: ignore[attr-defined]
    assert pg.text_content("#state") == "running"  # type: ignore[attr-defined]
    assert page.errors == []


def test_controls_without_a_token_ask_for_it(page: Page, run: Run) -> None:
    pg = page.page
    pg.goto(run.base + "/")  # type: ignore[attr-defined]
    pg.wait_for_function("/^\\d+$/.test(document.getElementById('tick').textContent)")  # type: ignore[attr-defined]
    pg.click("#btn-pause")  # type: ignore[attr-defined]
    pg.wait_for_selector("#token-dialog[open]")  # type: ignore[attr-defined]
    page.shot("05-token-prompt")
    assert run.api("/api/simulation")["state"] == "running"
    pg.fill("#token-input", "not-the-token")  # type: ignore[attr-defined]
    pg.click("#token-save")  # type: ignore[attr-defined]
    pg.wait_for_selector("#token-dialog[open] #token-error:not([hidden])")  # type: ignore[attr-defined]
    assert run.api("/api/simulation")["state"] == "running"
    # The refused request is a 401 the browser logs; nothing else may be.
    assert all("401" in e for e in page.errors), page.errors


def test_time_slider_shows_an_earlier_graph(page: Page, run: Run) -> None:
    # Snapshots are taken every 10 ticks: wait for history to replay.
    wait_for_sync(
        lambda: (run.api("/api/simulation")["last_closed"] or 0) >= 25,
        90,
        what="tick 25",
        interval_s=0.1,
    )
    pg = open_dashboard(page, run)
    pg.wait_for_function("Number(document.getElementById('graph').dataset.links) > 0")  # type: ignore[attr-defined]
    live = {
        "links": int(pg.get_attribute("#graph", "data-links")),  # type: ignore[attr-defined]
        "weight": float(pg.get_attribute("#graph", "data-weight")),  # type: ignore[attr-defined]
    }
    earlier = 10
    pg.eval_on_selector(  # type: ignore[attr-defined]
        "#time", f"el => {{ el.value = {earlier}; el.dispatchEvent(new Event('input')); }}"
    )
    pg.wait_for_selector(f"#graph[data-as-of='{earlier}']")  # type: ignore[attr-defined]
    assert pg.text_content("#time-label") == f"as of tick {earlier}"  # type: ignore[attr-defined]
    then = run.api("/api/analytics", as_of=earlier)
    shown = {
        "links": int(pg.get_attribute("#graph", "data-links")),  # type: ignore[attr-defined]
        "weight": float(pg.get_attribute("#graph", "data-weight")),  # type: ignore[attr-defined]
    }
    assert shown["links"] == len([link for link in then["links"] if link["weight"] > 0])
    assert shown != live, "the earlier graph looks exactly like the live one"
    assert node_ids(pg) == agent_ids(run)  # everyone is still drawn, tied or not
    page.shot("06-history")

    pg.click("#btn-live")  # type: ignore[attr-defined]
    pg.wait_for_selector("#graph[data-as-of='live']")  # type: ignore[attr-defined]

    # Replay walks the history forward from the start.
    pg.click("#btn-replay")  # type: ignore[attr-defined]
    pg.wait_for_function(  # type: ignore[attr-defined]
        "/^\\d+$/.test(document.getElementById('graph').dataset.asOf)"
    )
    assert int(pg.get_attribute("#graph", "data-as-of")) < run.api("/api/simulation")["tick"]  # type: ignore[attr-defined]
    pg.click("#btn-live")  # type: ignore[attr-defined]
    pg.wait_for_selector("#graph[data-as-of='live']")  # type: ignore[attr-defined]
    assert page.errors == []


def test_api_docs_render_offline(page: Page, run: Run) -> None:
    pg = page.page
    pg.goto(f"{run.base}/docs")  # type: ignore[attr-defined]
    pg.wait_for_selector(".opblock-summary-path[data-path='/api/simulation/pause']")  # type: ignore[attr-defined]
    page.shot("07-api-docs")
    assert page.errors == []

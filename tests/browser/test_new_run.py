"""A director reseeds the world (`scrai up OTHER --reseed`) while the dashboard is open.

The page must start over by itself, without a reload: the old run's people, ties and events
gone, the new run's world, graph, log and clock shown, and no JavaScript error on the way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from scrai.embedded import free_port
from tests.browser.conftest import Page, scrai_up, up_env
from tests.helpers import wait_for_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SERVER_DOWN = ("net::ERR_CONNECTION_REFUSED", "net::ERR_INCOMPLETE_CHUNKED_ENCODING")
TOKEN = "new-run-token"  # the same for both runs, as a director who set SCRAI_API_TOKEN has

# A small second scenario, with people none of whom is in Millbrook, close enough to tie fast.
HAMLET = {
    "name": "Hamlet",
    "seed": 3,
    "world": {
        "places": [
            {"id": "green", "name": "Village Green", "position": [0, 0], "neighbors": ["inn"]},
            {"id": "inn", "name": "The Inn", "position": [3, 0], "neighbors": ["green"]},
        ],
        "objects": [{"id": "well", "kind": "well", "place": "green", "satisfies": ["rest"]}],
    },
    "agents": [
        {"id": "hugo", "name": "Hugo Marsh", "place": "green", "persona": "A shepherd."},
        {"id": "iris", "name": "Iris Vane", "place": "green", "persona": "The innkeeper."},
        {"id": "jonas", "name": "Jonas Reed", "place": "inn", "persona": "A travelling tinker."},
    ],
}

# From the moment the page starts over, record any graph node or log entry of the old run.
WATCH_OLD_JS = """
(old) => {
  old = new Set(old);
  window.__sameDocument = true;
  window.__oldAfterReset = [];
  const note = () => {
    if (!Number(document.body.dataset.runs || 0)) return;
    for (const g of document.querySelectorAll('#graph g.node')) {
      if (old.has(g.dataset.id)) window.__oldAfterReset.push('node ' + g.dataset.id);
    }
    for (const w of document.querySelectorAll('#log .who')) {
      if (old.has(w.dataset.agent)) window.__oldAfterReset.push('log ' + w.dataset.agent);
    }
  };
  const watch = new MutationObserver(note);
  for (const id of ['graph', 'log']) {
    watch.observe(document.getElementById(id), { childList: true, subtree: true });
  }
  new MutationObserver(note).observe(document.body, { attributes: true });
}
"""


def ids(pg: object, selector: str, attr: str = "id") -> set[str]:
    return set(pg.eval_on_selector_all(selector, f"els => els.map(e => e.dataset.{attr})"))  # type: ignore[attr-defined]


def test_a_reseed_starts_the_open_dashboard_over(
    page: Page, redis_url: str, tmp_path: Path
) -> None:
    env = up_env(redis_url, SCRAI_API_TOKEN=TOKEN)
    port = free_port()
    hamlet = tmp_path / "hamlet.yml"
    hamlet.write_text(yaml.safe_dump(HAMLET, sort_keys=False), encoding="utf-8")
    pg = page.page

    with scrai_up(env, port, tmp_path / "first") as first:
        millbrook = {a["id"] for a in first.api("/api/agents")["agents"]}
        pg.goto(first.dashboard)  # type: ignore[attr-defined]
        pg.wait_for_function(  # type: ignore[attr-defined]
            "Number(document.getElementById('graph').dataset.links) > 0 && "
            "document.querySelectorAll('#log li').length > 5 && "
            "Number(document.getElementById('tick').textContent) >= 8",
            timeout=90_000,
        )
        assert ids(pg, "#graph g.node") == millbrook
        old_run = first.api("/api/simulation")
        old_tick = int(pg.text_content("#tick"))  # type: ignore[attr-defined]
        pg.evaluate(WATCH_OLD_JS, sorted(millbrook))  # type: ignore[attr-defined]

    # The director stops it and seeds another scenario; the page stays open all along.
    with scrai_up(env, port, tmp_path / "second", "--reseed", scenario=str(hamlet)) as second:
        new_run = wait_for_sync(
            lambda: (s := second.api("/api/simulation"))["run_id"] != old_run["run_id"] and s,
            90,
            what="the world to be seeded again",
            interval_s=0.2,
        )
        hamlet_ids = {a["id"] for a in HAMLET["agents"]}
        pg.wait_for_function(  # type: ignore[attr-defined]
            f"document.body.dataset.run === {json.dumps(new_run['run_id'])}", timeout=30_000
        )
        # The new run's people, in the graph and on the map; its clock from the start again.
        pg.wait_for_function(  # type: ignore[attr-defined]
            "document.querySelectorAll('#graph g.node').length === 3 && "
            "document.querySelectorAll('#map circle.agent').length === 3"
        )
        assert ids(pg, "#graph g.node") == hamlet_ids
        assert ids(pg, "#map circle.agent") == hamlet_ids
        assert pg.text_content("#scenario-name") == "Hamlet"  # type: ignore[attr-defined]
        assert int(pg.text_content("#tick")) < old_tick  # type: ignore[attr-defined]
        # The log: a divider where the new run began, and nothing of the old run.
        assert pg.locator("#log li.run-divider").count() == 1  # type: ignore[attr-defined]
        assert "New run of Hamlet" in pg.text_content("#log li.run-divider")  # type: ignore[attr-defined]

        # The new run goes on live: its events come in above the divider, its ties form.
        pg.wait_for_function(  # type: ignore[attr-defined]
            "document.querySelectorAll('#log li:not(.run-divider)').length >= 3 && "
            "Number(document.getElementById('graph').dataset.links) > 0",
            timeout=90_000,
        )
        assert ids(pg, "#log .who", "agent") <= hamlet_ids
        assert pg.evaluate("document.querySelector('#log li:last-child').className") == (  # type: ignore[attr-defined]
            "run-divider"
        )
        assert ids(pg, "#graph g.node") == hamlet_ids
        status = second.api("/api/simulation")
        assert 0 < int(pg.text_content("#tick")) <= status["tick"] + 1  # type: ignore[attr-defined]
        # Never, from the reset on, was an old node or log entry drawn; the page never reloaded.
        assert pg.evaluate("window.__oldAfterReset") == []  # type: ignore[attr-defined]
        assert pg.evaluate("window.__sameDocument === true")  # type: ignore[attr-defined]
        assert pg.evaluate("Number(document.body.dataset.runs)") == 1  # type: ignore[attr-defined]
        page.shot("08-new-run")
    # The browser logs the requests the server's stop cut or refused; nothing else may fail.
    unexpected = [e for e in page.errors if not any(n in e for n in SERVER_DOWN)]
    assert unexpected == []

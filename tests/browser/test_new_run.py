"""A director reseeds the world (`scrai up OTHER --reseed`) while the dashboard is open.

The page must start over by itself, without a reload: the old run's people, ties and events
gone, the new run's world, graph, log and clock shown, and no JavaScript error on the way.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from scrai.embedded import free_port
from tests.browser.conftest import ROOT, Page, Run, answers, scrai_up, up_env
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

# From the moment the page starts over for the `after`-th time, record any graph node or log
# entry of the people in `old`.
WATCH_OLD_JS = """
([old, after]) => {
  old = new Set(old);
  window.__sameDocument = true;
  window.__oldAfterReset = [];
  const note = () => {
    if (Number(document.body.dataset.runs || 0) < after) return;
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


def num(pg: object, expression: str) -> float:
    return float(pg.evaluate(expression))  # type: ignore[attr-defined]


@contextmanager
def service(env: dict[str, str], *module_args: str) -> Iterator[subprocess.Popen]:
    """One ScrAI process (``python -m MODULE ARGS``), stopped with Ctrl-C on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *module_args], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def new_run_of(run: Run, old_run_id: str) -> dict:
    return wait_for_sync(
        lambda: (s := run.api("/api/simulation"))["run_id"] not in (None, old_run_id) and s,
        90,
        what="the world to be seeded again",
        interval_s=0.2,
    )


def test_a_reseed_starts_the_open_dashboard_over(
    page: Page, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = up_env(redis_url, SCRAI_API_TOKEN=TOKEN, SCRAI_API_PORT=str(port))
    hamlet = tmp_path / "hamlet.yml"
    hamlet.write_text(yaml.safe_dump(HAMLET, sort_keys=False), encoding="utf-8")
    pg = page.page

    # 1. Millbrook runs; the director watches its graph and log fill.
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
        first_run = first.api("/api/simulation")
        old_tick = int(pg.text_content("#tick"))  # type: ignore[attr-defined]
        pg.evaluate(WATCH_OLD_JS, [sorted(millbrook), 2])  # type: ignore[attr-defined]

    # 2. The world alone is seeded again while the API stays up and the page stays connected.
    # No analytics runs: its tables still hold the first run's ties, and the page must not
    # show them as the new run's.
    with service(env, "scrai.api"):
        api = Run(base=first.base, token=TOKEN)
        wait_for_sync(lambda: answers(api, "/healthz"), 30, what="the API", interval_s=0.1)
        pg.wait_for_function("document.getElementById('conn').textContent.includes('live')")  # type: ignore[attr-defined]
        with service(env, "scrai.world", "--reseed", "--max-ticks", "3"):
            second_run = new_run_of(api, first_run["run_id"])
            pg.wait_for_function(  # type: ignore[attr-defined]
                f"document.body.dataset.run === {json.dumps(second_run['run_id'])}",
                timeout=30_000,
            )
            pg.click("#log-filters .chip[data-kind='tick']")  # type: ignore[attr-defined]
            pg.wait_for_function(  # type: ignore[attr-defined]
                "document.querySelectorAll('#log li:not(.run-divider)').length >= 2"
            )
        assert api.api("/api/analytics")["links"], "the analytics still holds the first run"
        assert num(pg, "document.getElementById('graph').dataset.links") == 0
        assert ids(pg, "#graph g.node") == millbrook  # the same people, none of their ties
        ticks = pg.eval_on_selector_all("#log li .t", "ts => ts.map(t => t.textContent)")  # type: ignore[attr-defined]
        assert ticks and all(int(t.removeprefix("t")) <= 3 for t in ticks), ticks
        assert int(pg.text_content("#tick")) <= 4 < old_tick  # type: ignore[attr-defined]
        assert num(pg, "Number(document.body.dataset.runs)") == 1
        # Mara's mind in Redis is still the first run's: the inspector must not show it.
        assert first_run["run_id"] in json.dumps(api.api("/api/agents/mara")["mind"])
        pg.click("#map circle.agent[data-id='mara']")  # type: ignore[attr-defined]
        pg.wait_for_selector("#inspector[data-agent='mara']")  # type: ignore[attr-defined]
        assert "No decision yet" in pg.text_content("#inspector")  # type: ignore[attr-defined]
        page.shot("08-new-run-same-api")
        pg.click("#log-filters .chip[data-kind='tick']")  # type: ignore[attr-defined]

    # 3. The director starts another scenario over it: `scrai up hamlet.yml --reseed`.
    with scrai_up(env, port, tmp_path / "second", "--reseed", scenario=str(hamlet)) as third:
        third_run = new_run_of(third, second_run["run_id"])
        hamlet_ids = {a["id"] for a in HAMLET["agents"]}
        pg.wait_for_function(  # type: ignore[attr-defined]
            f"document.body.dataset.run === {json.dumps(third_run['run_id'])}", timeout=30_000
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
        last = pg.evaluate("document.querySelector('#log li:last-child').className")  # type: ignore[attr-defined]
        assert last == "run-divider"
        assert ids(pg, "#graph g.node") == hamlet_ids
        status = third.api("/api/simulation")
        assert 0 < int(pg.text_content("#tick")) <= status["tick"] + 1  # type: ignore[attr-defined]
        # Never, from this reset on, was a Millbrook node or log entry drawn; never a reload.
        assert pg.evaluate("window.__oldAfterReset") == []  # type: ignore[attr-defined]
        assert pg.evaluate("window.__sameDocument === true")  # type: ignore[attr-defined]
        assert num(pg, "Number(document.body.dataset.runs)") == 2
        page.shot("08-new-run")

        # A page opened now shows this run only, though the log on the server holds all three.
        fresh = pg.context.new_page()  # type: ignore[attr-defined]
        fresh.goto(third.dashboard)
        fresh.wait_for_function("document.querySelectorAll('#log .who').length > 0")
        assert ids(fresh, "#log .who", "agent") <= hamlet_ids
        fresh.wait_for_function("document.querySelectorAll('#graph g.node').length === 3")
        assert ids(fresh, "#graph g.node") == hamlet_ids
        fresh.close()
    # The browser logs the requests the server's stop cut or refused; nothing else may fail.
    unexpected = [e for e in page.errors if not any(n in e for n in SERVER_DOWN)]
    assert unexpected == []

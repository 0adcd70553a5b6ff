// The dashboard: load the current picture over REST, then follow the live stream.

import { adoptTokenFromUrl, getJSON } from "./api.js";
import { TrendChart } from "./charts.js";
import { setupControls, showClock } from "./controls.js";
import { SocialGraph, edgeFilterChips } from "./graph.js";
import { renderInsights } from "./insights.js";
import { renderAgent } from "./inspector.js";
import { Feed } from "./feed.js";
import { connectLive, showConnection } from "./live.js";
import { setupHistory } from "./history.js";
import { EventLog } from "./log.js";
import { WorldMap } from "./map.js";
import { Runs, compareIds, currentRunOnly } from "./runs.js";
import { names, throttle, toast } from "./util.js";

const $ = (id) => document.getElementById(id);

const app = {
  sim: null,
  world: null,
  analyticsIds: new Set(), // agents the analytics has a node for
  graphLive: true,
  graphTick: null,
  selected: null,
  // After a new run begins, the analytics may still hold the old run's tables for a moment:
  // its graph is shown once it has folded the new run's first entry (graphFrom).
  graphPending: false,
  graphFrom: null,
};
const runs = new Runs({ onNewRun: (run) => startOver(run) });

adoptTokenFromUrl();

const select = (id) => {
  app.selected = id;
  map.select(id);
  graph.select(id);
  refreshInspector();
};

const map = new WorldMap($("map"), { onSelect: (id) => select(id) });
const graph = new SocialGraph($("graph"), $("graph-tooltip"), { onSelect: (id) => select(id) });
const log = new EventLog($("log"), $("log-filters"), $("log-follow"), { onFollow: (id) => select(id) });
const interactions = new TrendChart($("trend-interactions"), "interactions");
const moves = new TrendChart($("trend-moves"), "moves");
const feed = new Feed({ map, log, interactions, moves, reloadWorld: () => loadWorld() });

// -- the clock ------------------------------------------------------------------------
const refreshClock = throttle(async () => {
  const generation = runs.generation;
  try {
    const sim = await getJSON("/api/simulation");
    runs.fromClock(sim, generation); // a new run (the world reseeded): start the page over
    if (generation !== runs.generation) return; // read before the new run began, or it just did
    app.sim = sim;
    showClock(app.sim);
    // How many times the clock was read: lets a watcher (or a test) tell "no change" from "not looked".
    document.body.dataset.clockReads = Number(document.body.dataset.clockReads || 0) + 1;
    const closed = app.sim.last_closed ?? 0;
    const slider = $("time");
    slider.max = Math.max(0, closed);
    if (app.graphLive) slider.value = slider.max;
  } catch (err) {
    $("state").textContent = "API unreachable";
  }
}, 300);
setupControls({ onChanged: refreshClock });

// -- the graph ------------------------------------------------------------------------
function graphData(data) {
  // One node per agent, even before the analytics has seen them act.
  const nodes = new Map((data?.nodes || []).map((n) => [n.id, n]));
  for (const a of app.world?.agents || []) if (!nodes.has(a.id)) nodes.set(a.id, { id: a.id, name: a.name });
  return { nodes: [...nodes.values()], links: data?.links || [] };
}

function showGraph(data, tick) {
  const view = graphData(data);
  graph.render(view);
  map.setCommunities(graph.communities());
  $("graph-empty").hidden = view.nodes.length > 0;
  $("graph").dataset.asOf = tick ?? "live";
  const m = data?.metrics?.graph || data?.metrics || {};
  const bits = [`${view.nodes.length} people`, graph.hiddenLinks
    ? `strongest ${graph.links.length} of ${graph.links.length + graph.hiddenLinks} ties`
    : `${graph.links.length} ties`];
  if (typeof m.communities === "number") bits.push(`${m.communities} ${m.communities === 1 ? "community" : "communities"}`);
  if (typeof m.density === "number") bits.push(`density ${m.density.toFixed(2)}`);
  $("graph-stats").textContent = bits.join(" · ");
}

// Whether the analytics' tables are the current run's (see graphPending).
async function analyticsOnThisRun() {
  if (!app.graphPending) return true;
  const status = await getJSON("/api/analytics/status");
  const at = status.position;
  const folded = !at || at === "0-0" ? false
    : app.graphFrom ? compareIds(at, app.graphFrom) >= 0
    // No entry of the new run came live (it may have ended while the page was away): an
    // entry folded after the reseed is the new run's.
    : runs.seededAt !== null && Number(at.split("-")[0]) > runs.seededAt * 1000;
  if (folded) app.graphPending = false;
  return folded;
}

const refreshGraph = throttle(async () => {
  if (!app.graphLive) return;
  const generation = runs.generation;
  let data = null;
  try { data = (await analyticsOnThisRun()) ? await getJSON("/api/analytics") : null; } catch { data = null; }
  if (!app.graphLive || generation !== runs.generation) return; // back in time, or a new run, meanwhile
  if (data) app.analyticsIds = new Set(data.nodes.map((n) => n.id));
  showGraph(data, null);
  if (data) renderInsights($("insights"), data.insights, { onSelect: select });
}, () => (graph.nodes.size > 300 ? 5000 : 1000)); // a crowd's graph is big: fetch it less often

edgeFilterChips($("edge-filters"), graph);

const timeline = setupHistory(app, { showGraph, refreshGraph });

// -- the inspector ----------------------------------------------------------------------
// The analytics' view of one agent reads every tie it has: fetched on selection, then now and then.
const social = { id: null, at: 0, data: null };
async function socialOf(id) {
  if (!app.analyticsIds.has(id)) return null;
  if (social.id === id && Date.now() - social.at < 5000) return social.data;
  try {
    social.data = await getJSON(`/api/analytics/agents/${encodeURIComponent(id)}`);
  } catch {
    social.data = null;
  }
  Object.assign(social, { id, at: Date.now() });
  return social.data;
}

const refreshInspector = throttle(async () => {
  const id = app.selected;
  if (!id || app.loadingRun) return; // after a new run, once it is known whether id is in it
  const generation = runs.generation;
  try {
    const [agent, seen] = await Promise.all([
      getJSON(`/api/agents/${encodeURIComponent(id)}`, { memories: 8 }),
      socialOf(id),
    ]);
    if (app.selected !== id || generation !== runs.generation) return;
    // A mind saved in an earlier run (this agent has not acted in this one yet) is not its own.
    const mindRun = agent.mind?.state?.run_id;
    if (mindRun && runs.id && mindRun !== runs.id) agent.mind = {};
    $("inspector-name").textContent = agent.name;
    renderAgent($("inspector"), agent, { community: graph.communities().get(id), ties: graph.ties(id), social: seen });
  } catch (err) {
    $("inspector").innerHTML = `<p class="empty">Could not load ${id}: ${err.message}</p>`;
  }
}, 400);
$("inspector").addEventListener("click", (e) => {
  const who = e.target.closest("[data-agent]");
  if (who) select(who.dataset.agent);
});

// -- a new run -------------------------------------------------------------------------
function received(e) {
  runs.seen();
  // The new run's first committed entry: the analytics shows the new run once it is past it.
  if (app.graphPending && !app.graphFrom && e.kind !== "rejected" && e.id) app.graphFrom = e.id;
}

// Everything shown of the old run goes; the new run's world, clock, graph and minds load.
async function startOver(run) {
  const generation = runs.generation;
  feed.clear();
  // world: null until the new one loads, so that no graph draws the old run's people meanwhile.
  Object.assign(app, { world: null, graphPending: true, graphFrom: null, analyticsIds: new Set(), loadingRun: true });
  social.id = null;
  timeline.reset();
  graph.clear();
  interactions.clear();
  moves.clear();
  map.setClosedTick(-1);
  renderInsights($("insights"), [], { onSelect: select });
  $("tick").textContent = "0";
  if (run.scenario) {
    $("scenario-name").textContent = run.scenario;
    document.title = `ScrAI — ${run.scenario}`;
  }
  $("time").max = 0;
  const at = new Date(run.seeded_at ? run.seeded_at * 1000 : Date.now()).toLocaleTimeString();
  log.startOver(`New run${run.scenario ? ` of ${run.scenario}` : ""} · ${at}`);
  toast("The world was seeded again: a new run began, and the dashboard started over.", 6000);
  document.body.dataset.run = run.run_id;
  document.body.dataset.runs = Number(document.body.dataset.runs || 0) + 1;
  try {
    const world = await loadWorld();
    if (generation !== runs.generation) return;
    app.loadingRun = false;
    const here = new Set(world.agents.map((a) => a.id));
    if (log.follow && !here.has(log.follow)) log.setFollow(null);
    if (app.selected && !here.has(app.selected)) {
      select(null);
      $("inspector-name").textContent = "";
      delete $("inspector").dataset.agent;
      $("inspector").innerHTML = `<p class="empty">Click an agent on the map or in the graph to inspect them.</p>`;
    }
  } catch {
    app.loadingRun = false;
    feed.stale = true; // the next flush reads the world again
  }
  refreshClock();
  refreshGraph();
  refreshInspector();
}

// -- start ------------------------------------------------------------------------------
async function loadWorld() {
  const generation = runs.generation;
  const world = await getJSON("/api/world");
  if (generation !== runs.generation) return world; // an earlier run's: the new run loads its own
  app.world = world;
  names.agents = new Map(world.agents.map((a) => [a.id, a.name]));
  names.places = new Map(world.places.map((p) => [p.id, p.name]));
  names.objects = new Map(world.objects.map((o) => [o.id, o.name]));
  map.setWorld(world);
  return world;
}

async function start() {
  refreshClock();
  let world = await loadWorld();
  // Before the world is seeded there is nothing to draw: look again until there is.
  while (!world.places.length) {
    await new Promise((r) => setTimeout(r, 1500));
    world = await loadWorld();
  }
  const recent = await getJSON("/api/events", { limit: 1000, type: ["move", "speak", "interact", "tick"] });
  const backlog = currentRunOnly(recent.events).reverse(); // the log keeps earlier runs too
  feed.queue.push(...backlog);
  feed.flush();
  log.list.querySelectorAll(".fresh").forEach((li) => li.classList.remove("fresh"));
  refreshGraph();
  connectLive({
    onEvent: (e) => { received(e); feed.push(e); },
    onTick: (e) => {
      received(e);
      feed.push(e);
      refreshClock();
      refreshInspector();
      refreshGraph(); // analytics updates come too; this keeps the graph current without them
    },
    // Any update (new_run=1 too: the analytics started its tables over) means new tables to read.
    onAnalytics: () => refreshGraph(),
    onRun: (run) => runs.fromStream(run),
    onStatus: showConnection,
  });
  setInterval(refreshClock, 1500);
}

start().catch((err) => toast(`Could not load the dashboard: ${err.message}`, 10000));

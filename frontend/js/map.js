// The world map: places as labelled circles at their positions, objects as small squares,
// agents as dots that glide to their new place when they move.

import { agentName, communityColour, objectName, placeName } from "./util.js";

const PAD = 34;
const PAD_X = 56; // labels are wider than places

export class WorldMap {
  constructor(svgEl, { onSelect }) {
    this.svg = d3.select(svgEl);
    this.onSelect = onSelect;
    this.world = null;
    this.agentPlace = new Map();
    this.community = new Map();
    this.selected = null;
    this.closedTick = -1;
    this.root = this.svg.append("g");
    this.roads = this.root.append("g");
    this.places = this.root.append("g");
    this.objects = this.root.append("g");
    this.agents = this.root.append("g");
    this.svg.call(d3.zoom().scaleExtent([0.5, 8]).on("zoom", (e) => this.root.attr("transform", e.transform)));
    new ResizeObserver(() => this.layout()).observe(svgEl);
  }

  setWorld(world) {
    this.world = world;
    this.agentPlace = new Map(world.agents.map((a) => [a.id, a.place]));
    this.objectState = new Map(world.objects.map((o) => [o.id, o.state || {}]));
    document.getElementById("map-empty").hidden = world.places.length > 0;
    this.layout();
  }

  // Apply a batch of changes ({agents: Map id->place, objects: Map id->state}) in one redraw:
  // a crowd moves hundreds of agents per tick.
  update({ agents, objects }) {
    let moved = false;
    for (const [id, place] of agents) {
      if (place && this.agentPlace.get(id) !== place) {
        this.agentPlace.set(id, place);
        moved = true;
      }
    }
    if (moved) this.drawAgents(true);
    if (objects.size && this.objectState) {
      for (const [id, state] of objects) this.objectState.set(id, state);
      this.drawObjects();
    }
  }

  setClosedTick(tick) {
    if (tick === this.closedTick) return;
    this.closedTick = tick;
    this.drawObjects();
  }

  setCommunities(map) {
    this.community = map;
    this.drawAgents(false);
  }

  select(id) {
    this.selected = id;
    this.agents.selectAll("circle").classed("selected", (d) => d.id === id);
  }

  layout() {
    if (!this.world || !this.world.places.length) return;
    const el = this.svg.node();
    const w = el.clientWidth || 400;
    const h = el.clientHeight || 300;
    this.svg.attr("viewBox", `0 0 ${w} ${h}`);
    const xs = d3.extent(this.world.places, (p) => p.x);
    const ys = d3.extent(this.world.places, (p) => p.y);
    // One scale for both axes, so distances on screen keep their proportions.
    const span = Math.max(xs[1] - xs[0], ys[1] - ys[0]) || 1;
    const k = Math.min((w - 2 * PAD_X) / (xs[1] - xs[0] || span), (h - 2 * PAD - 12) / (ys[1] - ys[0] || span));
    const ox = (w - (xs[1] - xs[0]) * k) / 2;
    const oy = (h - 12 - (ys[1] - ys[0]) * k) / 2;
    this.pos = new Map(this.world.places.map((p) => [p.id, [ox + (p.x - xs[0]) * k, oy + (p.y - ys[0]) * k]]));
    // Place size: a fraction of the distance to the nearest other place.
    let nearest = Infinity;
    const pts = [...this.pos.values()];
    for (let i = 0; i < pts.length && i < 400; i++) {
      for (let j = i + 1; j < pts.length; j++) {
        nearest = Math.min(nearest, Math.hypot(pts[i][0] - pts[j][0], pts[i][1] - pts[j][1]));
      }
    }
    this.radius = Math.max(6, Math.min(26, (Number.isFinite(nearest) ? nearest : 60) * 0.3));
    this.dot = this.world.agents.length > 200 ? 2.5 : 4.5;
    this.drawPlaces();
    this.drawObjects();
    this.drawAgents(false);
  }

  drawPlaces() {
    const roads = [];
    for (const p of this.world.places) {
      for (const n of p.neighbors || []) if (p.id < n && this.pos.has(n)) roads.push([p.id, n]);
    }
    this.roads.selectAll("line").data(roads, (d) => d.join("|")).join("line")
      .attr("class", "road")
      .attr("x1", (d) => this.pos.get(d[0])[0]).attr("y1", (d) => this.pos.get(d[0])[1])
      .attr("x2", (d) => this.pos.get(d[1])[0]).attr("y2", (d) => this.pos.get(d[1])[1]);
    const showLabels = this.world.places.length <= 60;
    const g = this.places.selectAll("g.place").data(this.world.places, (d) => d.id).join((enter) => {
      const e = enter.append("g").attr("class", "place");
      e.append("circle");
      e.append("text");
      e.append("title");
      return e;
    });
    g.attr("transform", (d) => `translate(${this.pos.get(d.id)})`);
    g.select("circle").attr("r", this.radius);
    const offsets = this.labelOffsets();
    g.select("text").text((d) => (showLabels ? d.name : "")).attr("y", (d) => offsets.get(d.id));
    this.placeTitles();
  }

  // Each label goes under its place, or above it when it would overlap a label already placed.
  labelOffsets() {
    const boxes = [];
    const out = new Map();
    const below = this.radius + 12;
    const above = -this.radius - 5;
    for (const p of this.world.places) {
      const [x, y] = this.pos.get(p.id);
      const half = p.name.length * 3.1;
      const box = (dy) => [x - half, y + dy - 10, x + half, y + dy + 2];
      const clear = (b) => !boxes.some((o) => o[0] < b[2] && b[0] < o[2] && o[1] < b[3] && b[1] < o[3]);
      const dy = clear(box(below)) ? below : above;
      boxes.push(box(dy));
      out.set(p.id, dy);
    }
    return out;
  }

  drawObjects() {
    if (!this.pos) return;
    const perPlace = new Map();
    const data = this.world.objects.map((o) => {
      const state = this.objectState.get(o.id) || {};
      const place = state.place || o.place;
      const i = perPlace.get(place) || 0;
      perPlace.set(place, i + 1);
      const [x, y] = this.pos.get(place) || [0, 0];
      const a = -Math.PI / 4 + i * 0.55;
      return { ...o, state, x: x + Math.cos(a) * (this.radius + 5), y: y + Math.sin(a) * (this.radius + 5) };
    });
    const g = this.objects.selectAll("g.object").data(data, (d) => d.id).join((enter) => {
      const e = enter.append("g").attr("class", "object");
      e.append("rect").attr("x", -4).attr("y", -4).attr("width", 8).attr("height", 8).attr("rx", 1.5);
      e.append("title");
      return e;
    });
    g.attr("transform", (d) => `translate(${d.x},${d.y})`)
      // Highlighted while in use: someone used it in the last closed tick.
      .classed("used", (d) => (d.state.users || []).length > 0 && (d.state.users_tick ?? -1) >= this.closedTick);
    g.select("title").text((d) => {
      const s = d.state;
      const stock = s.resource === null || s.resource === undefined ? "" : `, stock ${(+s.resource).toFixed(1)}${d.max_resource ? `/${d.max_resource}` : ""}`;
      const who = s.last_user ? `, last used by ${agentName(s.last_user)}` : "";
      return `${objectName(d.id)} (${d.kind}) at ${placeName(d.place)}: used ${s.uses || 0}×${stock}${who}`;
    });
  }

  // A place's tooltip says what it is and who is there now.
  placeTitles() {
    const here = d3.group(this.world.agents, (a) => this.agentPlace.get(a.id));
    this.places.selectAll("g.place").select("title").text((d) => {
      const who = (here.get(d.id) || []).map((a) => agentName(a.id));
      const list = who.length > 8 ? `${who.slice(0, 8).join(", ")} and ${who.length - 8} more` : who.join(", ");
      return `${d.name}${d.capacity ? ` (room for ${d.capacity})` : ""}${d.tags?.length ? ` — ${d.tags.join(", ")}` : ""}` +
        `\n${who.length ? `here: ${list}` : "nobody here"}`;
    });
  }

  drawAgents(animate) {
    if (!this.pos) return;
    this.placeTitles();
    const byPlace = d3.group(this.world.agents, (a) => this.agentPlace.get(a.id));
    const data = [];
    const step = this.dot * 2.3;
    for (const [place, agents] of byPlace) {
      const [cx, cy] = this.pos.get(place) || [PAD, PAD];
      agents.sort((a, b) => d3.ascending(a.id, b.id)).forEach((a, i) => {
        // A sunflower spiral keeps any number of agents at a place tidy and apart.
        const r = i === 0 ? 0 : step * Math.sqrt(i) * 0.8;
        const t = i * 2.39996;
        data.push({ id: a.id, x: cx + r * Math.cos(t), y: cy + r * Math.sin(t) });
      });
    }
    const dots = this.agents.selectAll("circle").data(data, (d) => d.id).join((enter) =>
      enter.append("circle").attr("class", "agent").attr("cx", (d) => d.x).attr("cy", (d) => d.y)
        .on("click", (e, d) => this.onSelect(d.id))
        .call((s) => s.append("title")));
    dots.attr("r", this.dot)
      .attr("fill", (d) => communityColour(this.community.get(d.id)))
      .attr("data-id", (d) => d.id)
      .classed("selected", (d) => d.id === this.selected);
    dots.select("title").text((d) => `${agentName(d.id)} — at ${placeName(this.agentPlace.get(d.id))}`);
    (animate ? dots.transition().duration(700).ease(d3.easeCubicInOut) : dots)
      .attr("cx", (d) => d.x).attr("cy", (d) => d.y);
  }
}


// The social graph: a D3 force layout that is updated in place. New data is merged into the
// running simulation by id (existing nodes keep their positions and velocities), and the
// layout is nudged with a small alpha instead of restarted, so the picture never jumps.

import { agentName, communityColour, escapeHtml } from "./util.js";

export const EDGE_KINDS = [
  { id: "proximity", label: "proximity", title: "Time spent near each other" },
  { id: "conversation", label: "conversation", title: "Messages exchanged" },
  { id: "shared_object", label: "shared objects", title: "Used the same object around the same time" },
];

// The chips that show or hide each kind of tie.
export function edgeFilterChips(el, graph) {
  for (const k of EDGE_KINDS) {
    const chip = document.createElement("span");
    chip.className = "chip on";
    chip.dataset.kind = k.id;
    chip.title = `${k.title} (click to show or hide)`;
    chip.textContent = k.label;
    chip.onclick = () => {
      chip.classList.toggle("on");
      graph.setKinds([...el.querySelectorAll(".chip.on")].map((c) => c.dataset.kind));
    };
    el.append(chip);
  }
}

const MAX_CROWD_LINKS = 2500;
const linkKey = (s, t) => (s < t ? `${s}|${t}` : `${t}|${s}`);
const idOf = (end) => (typeof end === "object" ? end.id : end);

export class SocialGraph {
  constructor(svgEl, tooltipEl, { onSelect }) {
    this.svgEl = svgEl;
    this.svg = d3.select(svgEl);
    this.tooltip = tooltipEl;
    this.onSelect = onSelect;
    this.kinds = new Set(EDGE_KINDS.map((k) => k.id));
    this.nodes = new Map(); // id -> node object owned by the simulation
    this.links = [];
    this.raw = { nodes: [], links: [] };
    this.selected = null;
    this.root = this.svg.append("g");
    this.linkLayer = this.root.append("g");
    this.nodeLayer = this.root.append("g");
    this.labelLayer = this.root.append("g"); // above every circle, so no name hides under a node
    this.zoom = d3.zoom().scaleExtent([0.05, 6]).on("zoom", (e) => {
      this.root.attr("transform", e.transform);
      if (e.sourceEvent) this.userZoomed = true; // a person zoomed or panned: leave the view to them
    });
    this.svg.call(this.zoom).on("dblclick.zoom", null);
    this.sim = d3.forceSimulation([])
      .force("link", d3.forceLink([]).id((d) => d.id))
      .force("charge", d3.forceManyBody().strength((d) => this.charge).distanceMax(600))
      .force("collide", d3.forceCollide().radius((d) => d.r + 3))
      .force("x", d3.forceX().strength(0.05))
      .force("y", d3.forceY().strength(0.07))
      .alphaDecay(0.03)
      .on("tick", () => {
        this.positions();
        // Keep everyone in view while the layout spreads out, about once a second.
        if (performance.now() - (this.fittedAt || 0) > 1000) this.fit();
      })
      .on("end", () => { this.svgEl.dataset.settled = "1"; this.fit(); });
    this.resize();
    new ResizeObserver(() => this.resize()).observe(svgEl);
  }

  resize() {
    const w = this.svgEl.clientWidth || 600;
    const h = this.svgEl.clientHeight || 400;
    this.svg.attr("viewBox", `${-w / 2} ${-h / 2} ${w} ${h}`);
    this.sim.force("x").x(0);
    this.sim.force("y").y(0);
  }

  setKinds(kinds) {
    this.kinds = new Set(kinds);
    this.render(this.raw, { nudge: 0.25 });
  }

  // data: {nodes: [{id, name, community, betweenness, strength, degree}], links: [{source, target, weight, kinds}]}
  render(data, { nudge = 0.3 } = {}) {
    this.raw = data;
    const structural = this.merge(data);
    this.draw();
    // Only a new node or tie moves the layout, and only by a nudge from where it is;
    // a change of weight redraws widths and sizes in place.
    if (structural) {
      this.svgEl.dataset.settled = "0";
      this.sim.alpha(Math.max(this.sim.alpha(), nudge)).restart();
    }
  }

  // A new run: no node or tie of the old run stays, and the next layout starts from nothing.
  clear() {
    this.selected = null;
    this.userZoomed = false;
    this.render({ nodes: [], links: [] });
  }

  weightOf(link) {
    const kinds = link.kinds;
    if (!kinds || typeof kinds !== "object") return this.kinds.size === EDGE_KINDS.length ? +link.weight || 0 : 0;
    let w = 0;
    for (const k of this.kinds) {
      const v = kinds[k];
      w += typeof v === "number" ? v : +(v?.strength ?? v?.weight ?? 0) || 0;
    }
    return w;
  }

  merge(data) {
    let structural = false;
    const keep = new Map();
    for (const n of data.nodes) {
      let node = this.nodes.get(n.id);
      if (!node) {
        structural = true;
        node = { id: n.id };
        // Start a newcomer next to someone it is tied to, or near the middle.
        const friend = data.links.find((l) => idOf(l.source) === n.id || idOf(l.target) === n.id);
        const anchor = friend && this.nodes.get(idOf(friend.source) === n.id ? idOf(friend.target) : idOf(friend.source));
        node.x = (anchor ? anchor.x : 0) + (Math.random() - 0.5) * 40;
        node.y = (anchor ? anchor.y : 0) + (Math.random() - 0.5) * 40;
      }
      Object.assign(node, { name: n.name || agentName(n.id), community: n.community ?? null,
        betweenness: +n.betweenness || 0, strength: +n.strength || 0, degree: +n.degree || 0 });
      keep.set(n.id, node);
    }
    if (keep.size !== this.nodes.size) structural = true;
    this.nodes = keep;
    const maxB = d3.max(keep.values(), (d) => d.betweenness) || 0;
    const maxS = d3.max(keep.values(), (d) => d.strength) || 0;
    const small = keep.size > 300 ? 2.5 : 5;
    // Fewer people get more room each; a crowd is packed tighter.
    this.charge = keep.size > 300 ? -25 : keep.size > 60 ? -80 : -320;
    for (const d of keep.values()) {
      // Size by centrality (betweenness), or by tie strength before any path runs through anyone.
      const c = maxB > 0 ? d.betweenness / maxB : maxS > 0 ? d.strength / maxS : 0;
      d.r = small + Math.sqrt(c) * (keep.size > 300 ? 6 : 13);
    }
    const old = new Map(this.links.map((l) => [l.key, l]));
    const links = [];
    for (const l of data.links) {
      const s = idOf(l.source);
      const t = idOf(l.target);
      if (!keep.has(s) || !keep.has(t)) continue;
      const w = this.weightOf(l);
      if (w <= 0) continue;
      const key = linkKey(s, t);
      const link = old.get(key) || { key };
      if (!old.has(key)) structural = true;
      // Ids again: forceLink resolves them to the current node objects.
      link.source = s;
      link.target = t;
      link.weight = w;
      link.kinds = l.kinds || {};
      links.push(link);
    }
    // A crowd's full graph is a hairball: draw its strongest ties only.
    const cap = keep.size > 300 ? MAX_CROWD_LINKS : Infinity;
    this.hiddenLinks = Math.max(0, links.length - cap);
    if (this.hiddenLinks) {
      links.sort((a, b) => b.weight - a.weight);
      links.length = cap;
    }
    if (links.length !== old.size) structural = true;
    this.links = links;
    this.maxW = d3.max(links, (l) => l.weight) || 1;
    this.sim.nodes([...keep.values()]);
    this.sim.force("link").links(links)
      .distance((l) => (keep.size > 60 ? 30 : 70) + 90 * (1 - l.weight / this.maxW))
      .strength((l) => 0.05 + 0.5 * (l.weight / this.maxW));
    return structural;
  }

  draw() {
    const width = d3.scaleSqrt().domain([0, this.maxW]).range([0.6, 7]);
    this.linkSel = this.linkLayer.selectAll("line.link").data(this.links, (l) => l.key).join("line")
      .attr("class", "link")
      .attr("stroke-width", (l) => width(l.weight));
    const showLabels = this.nodes.size <= 60;
    this.nodeSel = this.nodeLayer.selectAll("g.node").data([...this.nodes.values()], (d) => d.id).join((enter) => {
      const g = enter.append("g").attr("class", "node");
      g.append("circle");
      g.on("mouseenter", (e, d) => this.hover(e, d))
        .on("mousemove", (e) => this.moveTip(e))
        .on("mouseleave", () => this.unhover())
        .on("click", (e, d) => { e.stopPropagation(); this.onSelect(d.id); })
        .call(this.drag());
      return g;
    });
    this.nodeSel.attr("data-id", (d) => d.id).classed("selected", (d) => d.id === this.selected);
    this.nodeSel.select("circle").attr("r", (d) => d.r).attr("fill", (d) => communityColour(d.community));
    this.labelSel = this.labelLayer.selectAll("text.label").data(showLabels ? [...this.nodes.values()] : [], (d) => d.id)
      .join((enter) => enter.append("text").attr("class", "label").attr("dy", "0.32em"))
      .text((d) => d.name);
    this.positions();
    this.svgEl.dataset.renders = Number(this.svgEl.dataset.renders || 0) + 1;
    this.svgEl.dataset.nodes = this.nodes.size;
    this.svgEl.dataset.links = this.links.length;
    this.svgEl.dataset.weight = d3.sum(this.links, (l) => l.weight).toFixed(3);
  }

  positions() {
    if (!this.linkSel) return;
    this.linkSel.attr("x1", (l) => l.source.x).attr("y1", (l) => l.source.y)
      .attr("x2", (l) => l.target.x).attr("y2", (l) => l.target.y);
    this.nodeSel.attr("transform", (d) => `translate(${d.x},${d.y})`);
    this.labelSel.attr("x", (d) => d.x + d.r + 3).attr("y", (d) => d.y);
  }

  // Once the layout settles, zoom out (never in) so that everyone is in view.
  fit() {
    this.fittedAt = performance.now();
    if (this.userZoomed || !this.nodes.size) return;
    const xs = d3.extent(this.nodes.values(), (d) => d.x);
    const ys = d3.extent(this.nodes.values(), (d) => d.y);
    const w = this.svgEl.clientWidth || 600;
    const h = this.svgEl.clientHeight || 400;
    const pad = 40;
    const k = Math.min(1, (w - 2 * pad) / (xs[1] - xs[0] + 1), (h - 2 * pad) / (ys[1] - ys[0] + 1));
    const cx = (xs[0] + xs[1]) / 2;
    const cy = (ys[0] + ys[1]) / 2;
    const t = d3.zoomIdentity.scale(k).translate(-cx, -cy);
    this.svg.transition().duration(600).call(this.zoom.transform, t);
  }

  select(id) {
    this.selected = id;
    this.nodeSel?.classed("selected", (d) => d.id === id);
  }

  ties(id) {
    return this.links.filter((l) => l.source.id === id || l.target.id === id)
      .map((l) => ({ other: l.source.id === id ? l.target.id : l.source.id, weight: l.weight, kinds: l.kinds }))
      .sort((a, b) => b.weight - a.weight);
  }

  communities() {
    return new Map([...this.nodes.values()].map((d) => [d.id, d.community]));
  }

  hover(event, d) {
    // Hold the node still under the pointer, so it can be clicked.
    if (!this.dragging) { d.fx = d.x; d.fy = d.y; this.held = d; }
    const near = new Set([d.id]);
    for (const l of this.links) {
      if (l.source.id === d.id) near.add(l.target.id);
      if (l.target.id === d.id) near.add(l.source.id);
    }
    this.nodeSel.classed("dim", (n) => !near.has(n.id));
    this.labelSel.classed("dim", (n) => !near.has(n.id));
    this.linkSel.classed("dim", (l) => l.source.id !== d.id && l.target.id !== d.id);
    const top = this.ties(d.id).slice(0, 3).map((t) => `${escapeHtml(agentName(t.other))} (${t.weight.toFixed(1)})`);
    this.tooltip.innerHTML = `<b>${escapeHtml(d.name)}</b><br>` +
      `community ${d.community ?? "—"} · ${d.degree} ties · strength ${d.strength.toFixed(1)}<br>` +
      `betweenness ${d.betweenness.toFixed(3)}` +
      (top.length ? `<br>closest: ${top.join(", ")}` : "<br>no ties yet") +
      "<br><span style='opacity:.7'>click for details</span>";
    this.tooltip.hidden = false;
    this.moveTip(event);
  }

  moveTip(event) {
    const box = this.svgEl.getBoundingClientRect();
    const x = event.clientX - box.left + 14;
    const y = event.clientY - box.top + 10;
    this.tooltip.style.left = `${Math.min(x, box.width - 250)}px`;
    this.tooltip.style.top = `${Math.min(y, box.height - 90)}px`;
  }

  unhover() {
    if (this.held && !this.dragging) { this.held.fx = null; this.held.fy = null; }
    this.held = null;
    this.tooltip.hidden = true;
    this.nodeSel.classed("dim", false);
    this.labelSel.classed("dim", false);
    this.linkSel.classed("dim", false);
  }

  drag() {
    return d3.drag()
      .on("start", (e, d) => { this.dragging = true; if (!e.active) this.sim.alphaTarget(0.2).restart(); d.fx = d.x; d.fy = d.y; })
      .on("drag", (e, d) => { d.fx = e.x; d.fy = e.y; })
      .on("end", (e, d) => { this.dragging = false; if (!e.active) this.sim.alphaTarget(0); d.fx = null; d.fy = null; });
  }
}

// The event log: newest first, filtered by kind, optionally following one agent.

import { agentName, describeAction, escapeHtml, objectName, placeName } from "./util.js";

export const LOG_KINDS = [
  { id: "move", on: true, title: "An agent went to another place" },
  { id: "speak", on: true, title: "An agent said something" },
  { id: "interact", on: true, title: "An agent used an object" },
  { id: "idle", on: false, title: "An agent stayed put" },
  { id: "rejected", on: true, title: "The world refused an action, and said why" },
  { id: "tick", on: false, title: "A tick closed" },
];
const MAX_ROWS = 300;

const who = (id) => `<span class="who" data-agent="${escapeHtml(id)}" title="Follow ${escapeHtml(agentName(id))}">${escapeHtml(agentName(id))}</span>`;

export function describe(e) {
  const action = e.payload?.action || {};
  const actor = e.entity_id;
  switch (e.kind) {
    case "move": {
      const from = e.payload?.before?.[`agent:${actor}`]?.place;
      return `${who(actor)} went ${from ? `from ${escapeHtml(placeName(from))} ` : ""}to ${escapeHtml(placeName(action.to))}`;
    }
    case "speak":
      return `${who(actor)}${action.to ? ` to ${who(action.to)}` : ""}: <span class="said">“${escapeHtml(action.text)}”</span>`;
    case "interact":
      return `${who(actor)} used ${escapeHtml(objectName(action.object_id))}${action.verb && action.verb !== "use" ? ` <span class="muted">(${escapeHtml(action.verb)})</span>` : ""}`;
    case "idle":
      return `${who(actor)} stayed${action.reason ? ` (${escapeHtml(action.reason)})` : ""}`;
    case "rejected": {
      const p = e.payload || {};
      return `${who(actor)} could not ${escapeHtml(describeAction(p.action))}: <span class="said">${escapeHtml((p.reason || "").replace(/_/g, " "))}${p.message ? ` — ${escapeHtml(p.message)}` : ""}</span>`;
    }
    case "tick": {
      const p = e.payload || {};
      return `tick ${e.tick} closed: ${p.committed ?? "?"} committed, ${p.rejected ?? 0} rejected, ${p.agents_alive ?? "?"} alive`;
    }
    default:
      return escapeHtml(e.type || "event");
  }
}

export class EventLog {
  constructor(listEl, filtersEl, followEl, { onFollow }) {
    this.list = listEl;
    this.followEl = followEl;
    this.onFollow = onFollow;
    this.kinds = new Set(LOG_KINDS.filter((k) => k.on).map((k) => k.id));
    this.follow = null;
    this.events = []; // newest first
    for (const k of LOG_KINDS) {
      const chip = document.createElement("span");
      chip.className = `chip${k.on ? " on" : ""}`;
      chip.textContent = k.id;
      chip.title = `${k.title} (click to show or hide)`;
      chip.dataset.kind = k.id;
      chip.onclick = () => {
        chip.classList.toggle("on");
        if (this.kinds.has(k.id)) this.kinds.delete(k.id); else this.kinds.add(k.id);
        this.redraw();
      };
      filtersEl.append(chip);
    }
    listEl.addEventListener("click", (e) => {
      const target = e.target.closest("[data-agent]");
      if (target) this.setFollow(target.dataset.agent);
    });
    followEl.onclick = () => this.setFollow(null);
  }

  setFollow(id) {
    this.follow = id;
    this.followEl.hidden = !id;
    this.followEl.textContent = id ? `following ${agentName(id)} ✕` : "";
    this.redraw();
    if (id) this.onFollow(id);
  }

  // A new run of the world: the old run's events go, and a divider says where the new one began.
  startOver(label) {
    this.events = [{ kind: "run", label }];
    this.redraw();
  }

  shows(e) {
    if (e.kind === "run") return true;
    if (!this.kinds.has(e.kind)) return false;
    if (!this.follow) return true;
    return e.entity_id === this.follow || e.payload?.action?.to === this.follow ||
      (e.payload?.observers || []).includes(this.follow);
  }

  row(e, fresh) {
    const li = document.createElement("li");
    if (e.kind === "run") {
      li.className = "run-divider";
      li.innerHTML = `<span>${escapeHtml(e.label)}</span>`;
      return li;
    }
    if (fresh) li.className = "fresh";
    li.innerHTML = `<span class="t">t${e.tick ?? "?"}</span><span class="kind k-${escapeHtml(e.kind)}">${escapeHtml(e.kind)}</span><span>${describe(e)}</span>`;
    return li;
  }

  // Events arrive oldest first; the log shows them newest first.
  add(events, { fresh = true } = {}) {
    if (!events.length) return;
    this.events = events.slice().reverse().concat(this.events).slice(0, 2000);
    const shown = events.filter((e) => this.shows(e));
    if (shown.length) {
      const frag = document.createDocumentFragment();
      for (const e of shown.slice(-MAX_ROWS).reverse()) frag.append(this.row(e, fresh));
      this.list.prepend(frag);
      while (this.list.childElementCount > MAX_ROWS) this.list.lastElementChild.remove();
    }
    this.empty();
  }

  redraw() {
    this.list.replaceChildren(...this.events.filter((e) => this.shows(e)).slice(0, MAX_ROWS).map((e) => this.row(e, false)));
    this.empty();
  }

  empty() {
    const el = document.getElementById("log-empty");
    el.hidden = this.list.childElementCount > 0;
    el.textContent = this.events.length
      ? (this.follow ? `Nothing shown for ${agentName(this.follow)} with these filters.` : "Nothing matches these filters.")
      : "No events yet — waiting for the first tick…";
  }
}

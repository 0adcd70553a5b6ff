// The agent inspector: who they are, what they need, what they plan, what they remember,
// and why they did what they just did (the last decision with its trace).

import { agentName, communityColour, describeAction, escapeHtml, placeName } from "./util.js";

const fmt = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v));

function bars(values, { urgentAbove = 0.7, cls = "" } = {}) {
  const rows = Object.entries(values || {}).filter(([, v]) => typeof v === "number");
  if (!rows.length) return `<p class="muted">—</p>`;
  return `<div class="bars">${rows.map(([k, v]) => {
    const pct = Math.max(0, Math.min(1, v)) * 100;
    const urgent = !cls && v >= urgentAbove ? " urgent" : "";
    return `<span>${escapeHtml(k)}</span><div class="bar-track"><div class="bar-fill${urgent} ${cls}" style="width:${pct}%"></div></div><span class="muted">${fmt(v)}</span>`;
  }).join("")}</div>`;
}

function stepText(step) {
  if (step === null || step === undefined) return "";
  if (typeof step !== "object") return String(step);
  const parts = [];
  if (step.activity || step.description) parts.push(step.activity || step.description);
  if (step.kind && !step.activity) parts.push(step.kind);
  if (step.target) parts.push(`→ ${agentName(placeName(step.target))}`);
  if (step.place) parts.push(`at ${placeName(step.place)}`);
  if (step.start !== undefined) parts.push(step.end !== undefined ? `(${step.start}–${step.end} of the day)` : `(from ${step.start})`);
  return parts.length ? parts.join(" ") : JSON.stringify(step);
}

function memoryText(m) {
  if (typeof m === "string") return escapeHtml(m);
  const meta = [m.tick !== undefined ? `t${m.tick}` : "", m.kind || "", m.importance !== undefined ? `importance ${fmt(+m.importance)}` : "", m.score !== undefined ? `score ${fmt(+m.score)}` : ""].filter(Boolean).join(" · ");
  return `${escapeHtml(m.text ?? JSON.stringify(m))}${meta ? ` <span class="meta">${escapeHtml(meta)}</span>` : ""}`;
}

function why(decision) {
  if (!decision || !decision.action) return `<p class="muted">No decision yet — waiting for this agent's first tick…</p>`;
  const trace = decision.trace || {};
  const items = [];
  const options = Array.isArray(trace.options) ? trace.options.filter((o) => o && typeof o === "object") : [];
  if (trace.plan_step) items.push(`<li>plan step: ${escapeHtml(stepText(trace.plan_step))}</li>`);
  if (trace.needs && typeof trace.needs === "object") {
    const top = Object.entries(trace.needs).filter(([, v]) => typeof v === "number").sort((a, b) => b[1] - a[1]).slice(0, 3);
    if (top.length) items.push(`<li>needs: ${top.map(([k, v]) => `${escapeHtml(k)} ${fmt(v)}`).join(", ")}</li>`);
  }
  for (const m of (Array.isArray(trace.memories) ? trace.memories : []).slice(0, 5)) items.push(`<li>remembered: ${memoryText(m)}</li>`);
  for (const [k, v] of Object.entries(trace)) {
    if (["plan_step", "needs", "memories", "options"].includes(k) || v === null || v === undefined) continue;
    const text = typeof v === "object" ? JSON.stringify(v) : fmt(v);
    items.push(`<li>${escapeHtml(k)}: ${escapeHtml(text.length > 160 ? `${text.slice(0, 160)}…` : text)}</li>`);
  }
  return `<div class="why"><div class="action">t${decision.tick ?? "?"}: ${escapeHtml(describeAction(decision.action))}</div>
    <div class="reason">${escapeHtml(decision.reason || "")}</div>
    <div class="muted small">brain: ${escapeHtml(decision.brain || "?")}</div>
    ${options.length ? `<div class="muted small" style="margin-top:4px">options weighed</div>${options.slice(0, 5).map((o, i) => optionRow(o, i === 0)).join("")}` : ""}
    ${items.length ? `<ul>${items.join("")}</ul>` : ""}</div>`;
}

function optionRow(option, chosen) {
  const score = typeof option.score === "number" ? option.score : null;
  return `<div class="option${chosen ? " chosen" : ""}"><span>${escapeHtml(option.reason || option.action?.kind || "?")}</span>` +
    `<div class="bar-track"><div class="bar-fill" style="width:${Math.max(0, Math.min(1, score ?? 0)) * 100}%"></div></div>` +
    `<span class="muted">${score === null ? "" : score.toFixed(2)}</span></div>`;
}

function feelings(affinity) {
  const rows = Object.entries(affinity || {}).filter(([, v]) => typeof v === "number")
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 6);
  if (!rows.length) return "";
  return `<h4>Feels about <span class="muted" title="-1 hostile … 1 devoted">(−1 … 1)</span></h4><div class="bars">${rows.map(([id, v]) =>
    `<span class="who" data-agent="${escapeHtml(id)}">${escapeHtml(agentName(id))}</span>` +
    `<div class="bar-track signed"><div class="bar-fill ${v < 0 ? "urgent" : ""}" style="margin-left:${v < 0 ? 50 + v * 50 : 50}%;width:${Math.abs(v) * 50}%"></div></div>` +
    `<span class="muted">${v.toFixed(2)}</span>`).join("")}</div>`;
}

function goals(agent, mind) {
  const list = Array.isArray(mind.goals) && mind.goals.length ? mind.goals : agent.goals || [];
  if (!list.length) return "";
  return `<h4>Goals</h4><ul class="plan">${list.map((g) => `<li class="${g.status === "achieved" ? "done" : ""}">${escapeHtml(g.description)}` +
    ` <span class="muted">(${escapeHtml(g.status || g.kind)}${g.blocked_because && g.status !== "achieved" ? `, blocked: ${escapeHtml(g.blocked_because)}` : ""})</span></li>`).join("")}</ul>`;
}

const KIND_LABEL = { proximity: "near", conversation: "talked", shared_object: "shared objects" };

function tieKinds(kinds) {
  return Object.entries(kinds || {})
    .map(([k, v]) => [k, typeof v === "number" ? v : +(v?.weight ?? 0)])
    .filter(([, w]) => w > 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([k, w]) => `${KIND_LABEL[k] || k} ${w.toFixed(1)}`)
    .join(", ");
}

// What the analytics knows about this agent (GET /api/analytics/agents/{id}), when it has seen them.
function socialSection(social) {
  if (!social) return "";
  const m = social.metrics || {};
  const mv = social.movement || {};
  const dwell = Object.entries(mv.dwell || {}).sort((a, b) => b[1] - a[1]).slice(0, 3);
  const insights = (social.insights || []).slice(0, 4);
  return `<h4>In the social graph</h4><dl class="kv">
      <dt>community</dt><dd>${m.community ?? "—"}</dd>
      <dt>ties</dt><dd>${m.degree ?? 0} · strength ${fmt(+(m.strength ?? 0))} · betweenness ${(+(m.betweenness ?? 0)).toFixed(3)}</dd>
      ${mv.moves !== undefined ? `<dt>moved</dt><dd>${mv.moves} times, ${fmt(+(mv.distance ?? 0))} units</dd>` : ""}
      ${dwell.length ? `<dt>spends time</dt><dd>${dwell.map(([p, t]) => `${escapeHtml(placeName(p))} (${t})`).join(", ")}</dd>` : ""}
    </dl>
    ${insights.length ? `<ul class="plan">${insights.map((i) => `<li>${escapeHtml(i.title)} <span class="muted">t${i.tick}</span></li>`).join("")}</ul>` : ""}`;
}

function tiesSection(ties, social) {
  const list = social?.ties?.length
    ? social.ties.map((t) => ({ other: t.other, weight: t.weight, kinds: t.kinds, evidence: (t.evidence || []).length, first: t.first_tick }))
    : ties;
  if (!list.length) return `<h4>Closest ties</h4><p class="muted">No ties yet.</p>`;
  return `<h4>Closest ties</h4><ul class="ties">${list.slice(0, 6).map((t) =>
    `<li title="${escapeHtml(tieKinds(t.kinds))}${t.evidence ? ` — ${t.evidence} events as evidence` : ""}${t.first !== undefined ? `, since tick ${t.first}` : ""}">` +
    `<span><span class="who" data-agent="${escapeHtml(t.other)}">${escapeHtml(agentName(t.other))}</span> <span class="muted small">${escapeHtml(tieKinds(t.kinds))}</span></span>` +
    `<span class="muted">${t.weight.toFixed(2)}</span></li>`).join("")}</ul>`;
}

export function renderAgent(el, agent, { community, ties, social }) {
  const state = agent.state || {};
  const mind = agent.mind || {};
  const plan = Array.isArray(mind.plan) ? mind.plan : [];
  const current = JSON.stringify(mind.plan_step ?? null);
  const rejection = state.last_rejection;
  const memories = agent.memories;
  el.innerHTML = `
    <div class="head"><span class="dot" style="background:${communityColour(community)}"></span>
      <strong>${escapeHtml(agent.name)}</strong>
      <span class="muted">${escapeHtml(agent.id)}${agent.archetype ? ` · ${escapeHtml(agent.archetype)}` : ""}</span></div>
    <dl class="kv">
      <dt>at</dt><dd>${escapeHtml(placeName(agent.place))}</dd>
      <dt>status</dt><dd>${agent.alive ? "alive" : "not running"}${agent.worker?.state ? ` (worker ${escapeHtml(agent.worker.state)}${agent.worker.restarts ? `, restarted ${agent.worker.restarts}×` : ""})` : ""} · ${state.commit_seq ?? 0} actions</dd>
      ${rejection ? `<dt>last refused</dt><dd>t${rejection.tick}: ${escapeHtml(rejection.reason)} — ${escapeHtml(rejection.message || "")}</dd>` : ""}
    </dl>
    ${agent.persona ? `<p class="persona">${escapeHtml(agent.persona)}</p>` : ""}
    <h4>Why it did that</h4>${why(mind.last_decision)}
    <h4>Needs <span class="muted" title="0 = met, 1 = urgent">(0 met … 1 urgent)</span></h4>${bars(mind.needs)}
    <h4>Plan</h4>${plan.length ? `<ol class="plan">${plan.map((s) => `<li class="${JSON.stringify(s) === current ? "current" : ""}">${escapeHtml(stepText(s))}</li>`).join("")}</ol>` :
      mind.plan_step ? `<p>${escapeHtml(stepText(mind.plan_step))}</p>` : `<p class="muted">No plan yet.</p>`}
    ${goals(agent, mind)}
    ${feelings(mind.relationships)}
    ${tiesSection(ties, social)}
    ${socialSection(social)}
    <h4>Recent memories</h4>${memories?.length ? `<ul class="memories">${memories.map((m) => `<li>${memoryText(m)}</li>`).join("")}</ul>` : `<p class="muted">Nothing remembered yet.</p>`}
    <h4>Traits</h4>${bars(agent.traits, { cls: "trait" })}
    ${agent.relationships?.length ? `<h4>Relationships (scenario)</h4><ul class="ties">${agent.relationships.map((r) => `<li><span class="who" data-agent="${escapeHtml(r.target)}">${escapeHtml(agentName(r.target))}</span><span class="muted">${escapeHtml(r.kind)} ${fmt(r.strength)}</span></li>`).join("")}</ul>` : ""}
  `;
  el.dataset.agent = agent.id;
}

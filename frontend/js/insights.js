// The insights feed: what the analytics noticed, newest first, each linked to its agents.

import { agentName, escapeHtml } from "./util.js";

export function renderInsights(listEl, insights, { onSelect }) {
  const items = (insights || []).slice().sort((a, b) => (b.tick ?? 0) - (a.tick ?? 0) || (b.score ?? 0) - (a.score ?? 0)).slice(0, 60);
  listEl.replaceChildren(...items.map((i) => {
    const li = document.createElement("li");
    li.className = `i-${i.kind}`;
    const agents = (i.agents || []).slice(0, 4).map(agentName).join(", ");
    const evidence = (i.evidence || []).length;
    li.innerHTML = `<div class="title">${escapeHtml(i.title || i.kind)}</div>
      <div class="meta">${escapeHtml((i.kind || "").replace(/_/g, " "))} · tick ${i.tick ?? "?"}${agents ? ` · ${escapeHtml(agents)}` : ""}${evidence ? ` · ${evidence} events as evidence` : ""}</div>`;
    li.title = "Click to inspect the first agent involved";
    if (i.agents?.length) li.onclick = () => onSelect(i.agents[0]);
    return li;
  }));
  document.getElementById("insights-empty").hidden = items.length > 0;
}

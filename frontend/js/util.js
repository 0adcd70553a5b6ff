// Small shared helpers: names, colours, escaping, throttling.

export const names = { agents: new Map(), places: new Map(), objects: new Map() };

export const agentName = (id) => names.agents.get(id) || id;
export const placeName = (id) => names.places.get(id) || id;
export const objectName = (id) => names.objects.get(id) || id;

const palette = d3.schemeTableau10;
export const communityColour = (c) => (c === null || c === undefined ? "#9aa5b4" : palette[c % palette.length]);

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]);
}

// Run fn at most once per `ms` (a number, or a function giving it), always running the
// last call (trailing edge).
export function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  let pending = null;
  return (...args) => {
    pending = args;
    const wait = Math.max(0, last + (typeof ms === "function" ? ms() : ms) - Date.now());
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      const a = pending;
      pending = null;
      fn(...a);
    }, wait);
  };
}

export function describeAction(action) {
  if (!action) return "—";
  switch (action.kind) {
    case "move": return `go to ${placeName(action.to)}`;
    case "speak": return `say “${action.text}”${action.to ? ` to ${agentName(action.to)}` : ""}`;
    case "interact": return `${action.verb || "use"} ${objectName(action.object_id)}`;
    case "idle": return action.reason ? `stay (${action.reason})` : "stay put";
    default: return action.kind;
  }
}

export function toast(message, ms = 3500) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, ms);
}

// Talking to the ScrAI API: JSON reads, and control requests that carry the bearer token.

const TOKEN_KEY = "scrai.token";

export class TokenNeeded extends Error {
  constructor(message) { super(message); this.name = "TokenNeeded"; }
}

// `scrai up` prints the dashboard address with `#token=...`: keep it for this tab and take it
// out of the address bar, so it does not end up in screenshots or shared links.
export function adoptTokenFromUrl() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => (value ? sessionStorage.setItem(TOKEN_KEY, value) : sessionStorage.removeItem(TOKEN_KEY)),
};

export async function getJSON(path, params) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (Array.isArray(v)) v.forEach((x) => url.searchParams.append(k, x));
    else if (v !== undefined && v !== null) url.searchParams.set(k, v);
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// Ask the world to pause/resume/step/change speed. Throws TokenNeeded when the token is
// missing or refused, so the caller can ask for it.
export async function control(action, body) {
  const t = token.get();
  if (!t) throw new TokenNeeded("missing");
  const response = await fetch(`/api/simulation/${action}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${t}`, "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  if (response.status === 401) throw new TokenNeeded("refused");
  if (response.status === 429) throw new Error("too many requests — wait a moment");
  if (!response.ok) throw new Error(`${action}: ${response.status}`);
  return response.json();
}

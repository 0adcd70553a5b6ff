// Pause, resume, step and speed. They carry the bearer token; without one (or with a wrong
// one) a dialog explains where the token comes from and asks for it.

import { TokenNeeded, control, token } from "./api.js";
import { toast } from "./util.js";

const SAID = {
  pause: "Pause requested — the world stops after the current tick.",
  resume: "Resume requested — the world runs again.",
  step: "Step requested — one more tick.",
  speed: "Speed change requested.",
};

export function setupControls({ onChanged }) {
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  const error = document.getElementById("token-error");
  let retry = null;

  const ask = (why) => {
    error.hidden = why !== "refused";
    error.textContent = "The server refused that token. Check the one `scrai up` printed.";
    input.value = "";
    dialog.showModal();
    input.focus();
  };

  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "save" && input.value.trim()) {
      token.set(input.value.trim());
      const again = retry;
      retry = null;
      if (again) again();
    } else {
      retry = null;
    }
  });

  const send = async (action, body) => {
    try {
      await control(action, body);
      toast(SAID[action]);
      onChanged();
    } catch (err) {
      if (err instanceof TokenNeeded) {
        if (err.message === "refused") token.set(null);
        retry = () => send(action, body);
        ask(err.message);
      } else {
        toast(`Could not ${action}: ${err.message}`);
      }
    }
  };

  document.getElementById("btn-pause").onclick = () => send("pause");
  document.getElementById("btn-resume").onclick = () => send("resume");
  document.getElementById("btn-step").onclick = () => send("step", { steps: 1 });
  document.getElementById("btn-token").onclick = () => { retry = null; ask("missing"); };
  const speed = document.getElementById("speed");
  speed.onchange = () => send("speed", { speed: Number(speed.value) });

  // Space pauses or resumes, "." steps, when no field has the keyboard.
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea, dialog, button") || e.ctrlKey || e.metaKey || e.altKey) return;
    const button = e.key === " " ? [document.getElementById("btn-pause"), document.getElementById("btn-resume")].find((b) => !b.disabled)
      : e.key === "." ? document.getElementById("btn-step") : null;
    if (!button) return;
    e.preventDefault();
    if (!button.disabled) button.click();
  });
}

export function showClock(sim) {
  document.getElementById("tick").textContent = sim.tick ?? "–";
  const state = sim.tick === null ? "waiting" : sim.state;
  const badge = document.getElementById("state");
  badge.textContent = state === "waiting" ? "waiting for the world…" : state;
  badge.className = `badge state-${["running", "paused", "finished"].includes(state) ? state : "unknown"}`;
  document.getElementById("alive").textContent = sim.agents_total ? `${sim.agents_alive}/${sim.agents_total} agents alive` : "";
  document.getElementById("btn-pause").disabled = state === "paused" || state === "finished";
  document.getElementById("btn-resume").disabled = state === "running" || state === "finished";
  document.getElementById("btn-step").disabled = state !== "paused";
  const speed = document.getElementById("speed");
  if (document.activeElement !== speed && sim.speed) {
    const match = [...speed.options].find((o) => Number(o.value) === sim.speed);
    if (match) speed.value = match.value;
  }
  if (sim.scenario) {
    document.getElementById("scenario-name").textContent = sim.scenario;
    document.title = `ScrAI — ${sim.scenario}`;
  }
}

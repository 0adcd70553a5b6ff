// The live stream: one EventSource; the browser itself reconnects and sends Last-Event-ID,
// and the server resumes from there, so nothing is missed across a dropped connection.

// `run` says which run of the world the messages after it belong to (see runs.js).
export function connectLive({ onEvent, onTick, onAnalytics, onRun, onStatus }) {
  const source = new EventSource("/api/live");
  const parse = (handler) => (message) => {
    let data;
    try { data = JSON.parse(message.data); } catch { return; }
    handler(data);
  };
  source.addEventListener("event", parse(onEvent));
  source.addEventListener("tick", parse(onTick));
  source.addEventListener("rejected", parse(onEvent)); // shown in the log like any event
  source.addEventListener("analytics", parse(onAnalytics));
  source.addEventListener("run", parse(onRun));
  source.onopen = () => onStatus("live");
  source.onerror = () => onStatus(source.readyState === EventSource.CLOSED ? "down" : "reconnecting");
  return source;
}

export function showConnection(status) {
  const el = document.getElementById("conn");
  el.className = `conn conn-${status === "live" ? "live" : status === "down" ? "down" : "wait"}`;
  el.textContent = status === "live" ? "● live" : status === "down" ? "● disconnected" : "● reconnecting…";
}

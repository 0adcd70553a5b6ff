// The time slider and Replay: the social graph as of an earlier tick (GET /api/analytics?as_of=t).
// While the slider is in the past, live updates leave the graph alone.

import { getJSON } from "./api.js";
import { throttle, toast } from "./util.js";

const $ = (id) => document.getElementById(id);

export function setupHistory(app, { showGraph, refreshGraph }) {
  const showHistory = throttle(async (tick) => {
    try {
      const data = await getJSON("/api/analytics", { as_of: tick });
      if (!app.graphLive && app.graphTick === tick) showGraph(data, tick);
    } catch (err) {
      toast(`No graph for tick ${tick}: ${err.message}`);
    }
  }, 250);

  function setLive(live) {
    app.graphLive = live;
    $("btn-live").disabled = live;
    $("time-label").classList.toggle("past", !live);
    if (live) {
      app.graphTick = null;
      $("time-label").textContent = "live";
      $("time").value = $("time").max;
      refreshGraph();
    }
  }

  $("time").addEventListener("input", () => {
    const tick = Number($("time").value);
    if (tick >= Number($("time").max)) return setLive(true);
    setLive(false);
    app.graphTick = tick;
    $("time-label").textContent = `as of tick ${tick}`;
    showHistory(tick);
  });
  $("btn-live").onclick = () => { stopReplay(); setLive(true); };

  // Replay: walk the slider from the start to now, about thirty frames, then go live again.
  let replayTimer = null;
  function stopReplay() {
    clearInterval(replayTimer);
    replayTimer = null;
    $("btn-replay").textContent = "▷ Replay";
  }
  $("btn-replay").onclick = () => {
    if (replayTimer) return stopReplay();
    const end = Number($("time").max);
    if (end < 2) return toast("Nothing to replay yet — wait for a few ticks.");
    const step = Math.max(1, Math.round(end / 30));
    let tick = 0;
    $("btn-replay").textContent = "■ Stop";
    replayTimer = setInterval(() => {
      tick = Math.min(end, tick + step);
      $("time").value = tick;
      $("time").dispatchEvent(new Event("input"));
      if (tick >= end) stopReplay();
    }, 700);
  };
  $("time").addEventListener("pointerdown", stopReplay);

  // A new run: its history starts now, and the graph shown is the live one.
  return {
    reset() {
      stopReplay();
      $("time").max = 0;
      setLive(true);
    },
  };
}

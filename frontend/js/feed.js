// The live feed: events from the stream, drawn in batches (once per frame) on the map, the
// event log and the trend charts.

const MAX_QUEUE = 20000;

export class Feed {
  constructor({ map, log, interactions, moves, reloadWorld }) {
    Object.assign(this, { map, log, interactions, moves, reloadWorld });
    this.queue = [];
    this.stale = false; // some moves were not drawn: read where everyone is at the next flush
  }

  push(e) {
    this.queue.push(e);
    this.schedule();
  }

  // A new run: what is not drawn yet is the old run's.
  clear() {
    this.queue = [];
    this.stale = false;
  }

  flush() {
    const batch = this.queue;
    this.queue = [];
    const changes = { agents: new Map(), objects: new Map() };
    for (const e of batch) {
      if (e.kind === "tick") {
        this.interactions.touch(e.tick);
        this.moves.touch(e.tick);
        continue;
      }
      if (e.kind === "speak" || e.kind === "interact") this.interactions.add(e.tick);
      if (e.kind === "move") this.moves.add(e.tick);
      for (const [key, value] of Object.entries(e.payload?.after || {})) {
        const [what, id] = [key.slice(0, key.indexOf(":")), key.slice(key.indexOf(":") + 1)];
        if (what === "agent" && value?.place) changes.agents.set(id, value.place);
        if (what === "object") changes.objects.set(id, value);
      }
    }
    this.map.update(changes);
    const closed = d3.max(batch, (e) => (e.kind === "tick" ? e.tick : undefined));
    if (closed !== undefined) this.map.setClosedTick(closed);
    this.log.add(batch);
    this.interactions.draw();
    this.moves.draw();
    if (this.stale) {
      this.stale = false;
      this.reloadWorld().catch(() => { this.stale = true; });
    }
  }

  // Draw once per frame. A hidden tab gets no frames, so it drains on a timer instead and
  // keeps only the newest events: a dashboard left open for hours must not grow.
  schedule() {
    if (this.queue.length > MAX_QUEUE) {
      this.queue = this.queue.slice(-MAX_QUEUE / 2);
      this.stale = true;
    }
    if (this.queue.length !== 1) return;
    if (document.hidden) setTimeout(() => this.flush(), 1000);
    else requestAnimationFrame(() => this.flush());
  }
}

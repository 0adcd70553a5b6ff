// Runs of the world. Reseeding the world (`scrai up --reseed`, maybe with another scenario)
// starts a new run on the same streams, with ticks from 0 again. The page must then drop
// everything it shows of the old run and load the new one, without a reload.
//
// Three signals, any one of which is enough: the live stream's `run` message (sent on every
// connect, on a reseed, and with `starts` right before the new run's first entry), and the
// run_id of /api/simulation, read every 1.5 s.

export class Runs {
  constructor({ onNewRun }) {
    this.id = null; // the run the page shows
    this.seededAt = null;
    this.generation = 0; // bumped at every new run: answers to older requests are dropped
    this.sinceStart = 0; // live entries received since the page (re)started on this run
    this.onNewRun = onNewRun;
  }

  // A `run` message from the live stream.
  fromStream(run) {
    if (!run?.run_id) return;
    const fresh = this.sinceStart === 0;
    if (this.id === null) this.adopt(run);
    else if (run.run_id !== this.id) this.begin(run);
    // `starts`: the entries after it are a new run's. If the page already started over for
    // this run and got nothing since, it has nothing of the old run to drop.
    else if (run.starts && !fresh) this.begin(run);
    else if (run.seeded_at) this.seededAt = run.seeded_at;
  }

  // /api/simulation, as read by a request made while `generation` was current.
  fromClock(sim, generation) {
    if (!sim?.run_id || generation !== this.generation) return;
    if (this.id === null) this.adopt(sim);
    else if (sim.run_id !== this.id) this.begin({ run_id: sim.run_id, scenario: sim.scenario });
  }

  adopt(run) {
    this.id = run.run_id;
    this.seededAt = run.seeded_at ?? this.seededAt;
  }

  begin(run) {
    this.id = run.run_id;
    this.seededAt = run.seeded_at ?? null;
    this.generation += 1;
    this.sinceStart = 0;
    this.onNewRun(run);
  }

  // A live entry (event, tick, rejection) arrived.
  seen() {
    this.sinceStart += 1;
  }
}

// Stream ids ("<ms>-<seq>") compared as numbers.
export function compareIds(a, b) {
  const [am, as] = String(a).split("-").map(Number);
  const [bm, bs] = String(b).split("-").map(Number);
  return am - bm || as - bs;
}

// The newest run's part of a stretch of the committed log given newest first. Going back
// within one run, ticks never grow and each tick closes once; a tick that grows, or a
// second close of the same tick, is the end of the run before.
export function currentRunOnly(newestFirst) {
  const out = [];
  let tick = Infinity;
  let closed = Infinity;
  for (const e of newestFirst) {
    if (typeof e.tick === "number") {
      if (e.tick > tick || (e.kind === "tick" && e.tick >= closed)) break;
      tick = e.tick;
      if (e.kind === "tick") closed = e.tick;
    }
    out.push(e);
  }
  return out;
}

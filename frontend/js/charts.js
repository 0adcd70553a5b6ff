// Small trend charts (bars per tick) for the last ticks, drawn with D3.

const WINDOW = 60;

export class TrendChart {
  constructor(svgEl, cls) {
    this.svgEl = svgEl;
    this.svg = d3.select(svgEl).attr("class", cls);
    this.bars = this.svg.append("g");
    this.axisX = this.svg.append("g").attr("class", "axis");
    this.axisY = this.svg.append("g").attr("class", "axis");
    this.empty = this.svg.append("text").attr("class", "axis").attr("x", 8).attr("y", 20)
      .attr("fill", "#66707d").style("font-size", "11px").text("waiting for the first tick…");
    new ResizeObserver(() => this.draw()).observe(svgEl);
    this.data = new Map();
  }

  add(tick, n = 1) {
    this.data.set(tick, (this.data.get(tick) || 0) + n);
  }

  clear() {
    this.data = new Map();
    this.draw();
  }

  touch(tick) {
    if (!this.data.has(tick)) this.data.set(tick, 0);
  }

  draw() {
    const w = this.svgEl.clientWidth || 200;
    const h = this.svgEl.clientHeight || 80;
    this.svg.attr("viewBox", `0 0 ${w} ${h}`);
    const newest = d3.max(this.data.keys());
    for (const t of [...this.data.keys()]) if (t <= newest - WINDOW) this.data.delete(t);
    const ticks = [...this.data.keys()].filter((t) => t >= 0).sort((a, b) => a - b);
    this.empty.attr("display", ticks.length ? "none" : null);
    if (!ticks.length) return;
    const m = { l: 26, r: 4, t: 4, b: 16 };
    const last = ticks[ticks.length - 1];
    // Early in a run the window starts at tick 0 and fills from the left.
    const first = Math.max(0, last - WINDOW + 1);
    const x = d3.scaleBand().domain(d3.range(first, first + WINDOW)).range([m.l, w - m.r]).padding(0.15);
    const y = d3.scaleLinear().domain([0, d3.max(ticks, (t) => this.data.get(t)) || 1]).nice().range([h - m.b, m.t]);
    this.bars.selectAll("rect").data(ticks, (t) => t).join("rect").attr("class", "bar")
      .attr("x", (t) => x(t)).attr("width", x.bandwidth())
      .attr("y", (t) => y(this.data.get(t))).attr("height", (t) => y(0) - y(this.data.get(t)))
      .selectAll("title").data((t) => [t]).join("title").text((t) => `tick ${t}: ${this.data.get(t)}`);
    this.axisX.attr("transform", `translate(0,${h - m.b})`)
      .call(d3.axisBottom(x).tickValues(x.domain().filter((t) => t >= 0 && t % 10 === 0)).tickSizeOuter(0));
    this.axisY.attr("transform", `translate(${m.l},0)`).call(d3.axisLeft(y).ticks(3).tickSizeOuter(0));
  }
}

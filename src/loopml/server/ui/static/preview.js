// A first drawing of a line chart as plain SVG, shown while plotly.min.js (4.8 MB, ~0.9 s of
// script on a slow machine) loads: the same points, axes with a few labels, no interaction.
// plotly replaces it once evaluated. window.loopml.preview(box, xs, ys, {time, logY}).
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const M = {l: 56, r: 12, t: 8, b: 36};

  function element(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function extent(values) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
  }

  function label(value, time, logY) {
    if (time) return new Date(value).toISOString().slice(0, 16).replace("T", " ");
    const v = logY ? Math.pow(10, value) : value;
    return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(3)));
  }

  function preview(box, xs, ys, options) {
    const opts = options || {};
    const px = [], py = [];
    for (let i = 0; i < ys.length; i++) {
      const y = opts.logY ? Math.log10(ys[i]) : ys[i];
      if (Number.isFinite(xs[i]) && Number.isFinite(y)) { px.push(xs[i]); py.push(y); }
    }
    if (!px.length) { box.textContent = "No finite points to draw."; return null; }
    const width = Math.max(box.clientWidth, 200), height = box.clientHeight || 280;
    const svg = element("svg", {class: "chart-preview", viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `${px.length} points`});
    const [x0, x1] = extent(px), [y0, y1] = extent(py);
    const w = width - M.l - M.r, h = height - M.t - M.b;
    const sx = (x) => M.l + ((x - x0) / (x1 - x0)) * w, sy = (y) => M.t + h - ((y - y0) / (y1 - y0)) * h;
    svg.appendChild(element("rect", {x: M.l, y: M.t, width: w, height: h, class: "frame"}));
    for (let k = 0; k <= 4; k++) {
      const y = y0 + ((y1 - y0) * k) / 4, x = x0 + ((x1 - x0) * k) / 4;
      svg.appendChild(element("text", {x: M.l - 6, y: sy(y) + 4, "text-anchor": "end"}, label(y, false, opts.logY)));
      svg.appendChild(element("text", {x: sx(x), y: M.t + h + 16, "text-anchor": k ? (k === 4 ? "end" : "middle") : "start"},
        label(x, opts.time, false)));
    }
    const points = px.map((x, i) => `${sx(x).toFixed(1)},${sy(py[i]).toFixed(1)}`).join(" ");
    svg.appendChild(element("polyline", {points, class: "line"}));
    box.replaceChildren(svg);
    return svg;
  }

  window.loopml.preview = preview;
})();

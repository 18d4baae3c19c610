// Compare runs: overlaid metric histories, params against a metric (parallel coordinates and a
// scatter), the "only differing params" toggle. The data is embedded by the page (#compare-data).
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("compare-data").textContent);
  const runs = data.runs;
  const CONFIG = {displaylogo: false, responsive: true};
  // Plotly reads names and titles as a little HTML: pass user text escaped.
  const esc = (text) => String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const BASE = {margin: {l: 56, r: 16, t: 36, b: 44}, font: {size: 12}, paper_bgcolor: "#fff", plot_bgcolor: "#fff"};

  function onlyDiffering() {
    const toggle = document.getElementById("only-differs");
    if (!toggle) return;
    const table = document.getElementById(toggle.dataset.table);
    const apply = () => table && table.classList.toggle("only-differs", toggle.checked);
    toggle.addEventListener("change", apply);
    apply();
  }

  function historyCharts() {
    for (const chart of document.querySelectorAll(".history-chart")) {
      const key = chart.dataset.key;
      const traces = (data.histories[key] || []).map((t) => ({
        type: "scatter", mode: t.x.length === 1 ? "markers" : "lines", x: t.x, y: t.y,
        name: esc(runs[t.run].name), line: {color: runs[t.run].color, width: 1.6},
        marker: {color: runs[t.run].color},
        hovertemplate: "%{fullData.name}<br>step %{x}: %{y}<extra></extra>",
      }));
      const layout = Object.assign({}, BASE, {
        title: {text: esc(key), font: {size: 14}}, height: 340, showlegend: traces.length <= 12,
        xaxis: {title: {text: "step"}, zeroline: false}, yaxis: {zeroline: false},
        legend: {orientation: "h", y: -0.2},
      });
      Plotly.newPlot(chart, traces, layout, CONFIG);
    }
  }

  function logScale() {
    const box = document.getElementById("log-scale");
    if (!box) return;
    box.addEventListener("change", () => {
      for (const chart of document.querySelectorAll(".history-chart")) {
        Plotly.relayout(chart, {"yaxis.type": box.checked ? "log" : "linear"});
      }
    });
  }

  function chartPicker() {
    const form = document.getElementById("chart-form");
    if (!form) return;
    form.addEventListener("change", (event) => {
      if (event.target.name !== "metric") return;
      const ticked = form.querySelectorAll("input[name=metric]:checked");
      if (ticked.length === 0) return;
      const keys = Array.from(ticked).map((box) => "&metric=" + encodeURIComponent(box.value));
      const ids = form.querySelector("input[name=runs]").value;
      window.location.href = form.action + "?runs=" + ids + keys.join("");
    });
  }

  // A param as a plot dimension: numbers where every value is one, else categories.
  function dimension(key, values) {
    const numbers = values.map((v) => (v === null || v === "" ? NaN : Number(v)));
    if (numbers.every((n) => Number.isFinite(n))) return {label: esc(key), values: numbers, numeric: true};
    const names = Array.from(new Set(values.map((v) => (v === null ? "—" : v)))).sort();
    const index = values.map((v) => names.indexOf(v === null ? "—" : v));
    return {label: esc(key), values: index, numeric: false, tickvals: names.map((_, i) => i), ticktext: names.map(esc)};
  }

  function paramDimensions(rows) {
    const dims = [];
    for (const [key, values] of Object.entries(data.params)) {
      const kept = rows.map((i) => values[i]);
      if (new Set(kept).size < 2) continue;  // a constant param says nothing here
      const dim = dimension(key, kept);
      if (dim.numeric || dim.ticktext.length <= 30) dims.push(dim);
    }
    return dims;
  }

  function parcoords(metric) {
    const target = data.metrics[metric] || [];
    const rows = runs.map((_, i) => i).filter((i) => target[i] !== null && target[i] !== undefined);
    const element = document.getElementById("parcoords");
    const dims = paramDimensions(rows);
    const values = rows.map((i) => target[i]);
    dims.push({label: esc(metric), values: values});
    const trace = {
      type: "parcoords",
      line: {color: values, colorscale: "Viridis"},
      dimensions: dims.map((d) => {
        const out = {label: d.label, values: d.values};
        if (d.tickvals) Object.assign(out, {tickvals: d.tickvals, ticktext: d.ticktext});
        return out;
      }),
    };
    document.getElementById("parcoords-caption").textContent = dims.length > 1
      ? "Each line is a run, coloured by " + metric + "; drag along an axis to pick a range."
      : "These runs do not differ in any param.";
    const layout = Object.assign({}, BASE, {height: 380, margin: {l: 70, r: 70, t: 60, b: 30}});
    Plotly.react(element, [trace], layout, CONFIG);
  }

  function scatter(metric, param) {
    const target = data.metrics[metric] || [];
    const values = data.params[param] || [];
    const rows = runs.map((_, i) => i).filter((i) => target[i] !== null && target[i] !== undefined && values[i] !== null && values[i] !== undefined);
    const dim = dimension(param, rows.map((i) => values[i]));
    const trace = {
      type: "scatter", mode: "markers", x: dim.numeric ? dim.values : rows.map((i) => esc(values[i])),
      y: rows.map((i) => target[i]), text: rows.map((i) => esc(runs[i].name)),
      marker: {size: 11, color: rows.map((i) => runs[i].color), line: {width: 1, color: "#fff"}},
      hovertemplate: "%{text}<br>x = %{x}<br>y = %{y}<extra></extra>",
    };
    const layout = Object.assign({}, BASE, {
      title: {text: esc(metric) + " by " + esc(param || "—"), font: {size: 14}}, height: 380,
      xaxis: {title: {text: esc(param)}, type: dim.numeric ? "linear" : "category", zeroline: false},
      yaxis: {title: {text: esc(metric)}, zeroline: false},
    });
    Plotly.react(document.getElementById("scatter"), [trace], layout, CONFIG);
  }

  function paramsView() {
    const metricBox = document.getElementById("target-metric");
    const paramBox = document.getElementById("scatter-param");
    if (!metricBox || !paramBox) return;
    const differing = Object.keys(data.params).filter((k) => new Set(data.params[k]).size > 1);
    const numeric = differing.filter((k) => dimension(k, data.params[k]).numeric);
    if (numeric.length || differing.length) paramBox.value = numeric[0] || differing[0];
    const draw = () => { parcoords(metricBox.value); scatter(metricBox.value, paramBox.value); };
    metricBox.addEventListener("change", draw);
    paramBox.addEventListener("change", draw);
    draw();
  }

  onlyDiffering();
  chartPicker();
  if (window.Plotly) {
    historyCharts();
    logScale();
    paramsView();
  }
})();

// The monitoring page's charts (plotly, served by loopml): drift share over time, and each
// column's drift score over time (lines for a few columns, a heatmap for many).
"use strict";
(function () {
  const source = document.getElementById("monitoring-data");
  if (!source || !window.Plotly) return;
  const data = JSON.parse(source.textContent);
  const config = {displaylogo: false, responsive: true};
  const margin = {l: 56, r: 16, t: 10, b: 44};

  Plotly.newPlot("drift-share-chart", [{
    x: data.drift_share.x, y: data.drift_share.y, name: "drift share",
    type: "scatter", mode: "lines+markers", line: {color: "#2f6fdb"},
  }], {
    margin, xaxis: {type: "date", title: "window start (UTC)"},
    yaxis: {title: "share of drifted columns", rangemode: "tozero"},
  }, config);

  const columns = data.columns;
  const target = "column-chart";
  if (columns.length === 0) {
    document.getElementById(target).textContent = "No column scores recorded.";
    return;
  }
  if (columns.length <= 12) {
    const traces = columns.map((c) => ({
      x: c.x, y: c.y, name: c.name, type: "scatter", mode: "lines+markers",
    }));
    Plotly.newPlot(target, traces, {
      margin, xaxis: {type: "date", title: "window start (UTC)"},
      yaxis: {title: "drift score", rangemode: "tozero"}, legend: {orientation: "v"},
    }, config);
    return;
  }
  // many columns: one row per column (highest latest score on top), one cell per window
  const windows = Array.from(new Set(columns.flatMap((c) => c.x))).sort();
  const rows = columns.slice().reverse();
  const z = rows.map((c) => {
    const byWindow = new Map(c.x.map((x, i) => [x, c.y[i]]));
    return windows.map((x) => (byWindow.has(x) ? byWindow.get(x) : null));
  });
  Plotly.newPlot(target, [{
    type: "heatmap", x: windows, y: rows.map((c) => c.name), z, colorscale: "YlOrRd",
    colorbar: {title: "score"}, hoverongaps: false,
  }], {margin: {...margin, l: 120}, xaxis: {type: "date"}, height: Math.max(320, 18 * rows.length + 80)},
  config);
})();

// The run page: a chart of every metric, from the server's downsampled history.
// The first charts are drawn at once, the others when scrolled into view (or on "Draw chart");
// the latest step and time of each metric fill in as its history arrives. Each chart is drawn
// first as plain SVG (preview.js) as soon as its history arrives; plotly.min.js, whose
// evaluation alone takes most of a second, is loaded after the first charts are on screen and
// then replaces them with interactive ones.
"use strict";
(function () {
  const section = document.getElementById("run-charts");
  if (!section) return;
  let plotlyLoading = null;
  function plotlyReady() {
    if (!plotlyLoading) {
      plotlyLoading = window.Plotly ? Promise.resolve() : new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = section.dataset.plotly;
        script.async = true;
        script.onload = () => resolve();
        script.onerror = () => reject(new Error("plotly.min.js did not load"));
        document.head.appendChild(script);
      });
    }
    return plotlyLoading;
  }
  // after the next frame is painted: what was just drawn is on screen before plotly's long script
  const painted = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const cards = Array.from(section.querySelectorAll(".chart-card"));
  const histories = new Map(); // metric key -> Promise of the downsampled history
  const state = {x: "step", logY: false};

  function history(card) {
    const key = card.dataset.key;
    if (!histories.has(key)) {
      const loading = window.loopml.api("GET", card.dataset.url);
      loading.then((data) => fillLatest(key, data), () => {});
      histories.set(key, loading);
    }
    return histories.get(key);
  }

  function fillLatest(key, data) {
    const row = Array.from(document.querySelectorAll("#run-metrics tr[data-key]")).find((r) => r.dataset.key === key);
    if (!row) return;
    const last = data.steps.length - 1;
    row.querySelector(".js-latest-step").textContent = last < 0 ? "—" : String(data.steps[last]);
    const time = row.querySelector(".js-latest-time");
    time.textContent = last < 0 ? "—" : new Date(data.timestamps[last]).toISOString().replace("T", " ").slice(0, 19);
    time.classList.remove("muted");
  }

  function layout() {
    return {
      margin: {l: 56, r: 12, t: 8, b: 36},
      height: 280,
      xaxis: {title: {text: state.x === "step" ? "step" : "time (UTC)"}, type: state.x === "step" ? "linear" : "date", automargin: true},
      yaxis: {type: state.logY ? "log" : "linear", automargin: true},
      showlegend: false,
      hovermode: "closest",
    };
  }

  function sketch(card, data) {
    const box = card.querySelector(".chart");
    const time = state.x !== "step";
    window.loopml.preview(box, time ? data.timestamps : data.steps, data.values, {time, logY: state.logY});
    card.dataset.state = "sketched";
    note(card, data);
  }

  function plot(card, data) {
    const box = card.querySelector(".chart");
    const x = state.x === "step" ? data.steps : data.timestamps;
    const trace = {
      x: x, y: data.values, type: "scatter", name: data.key,
      mode: data.values.length <= 60 ? "lines+markers" : "lines",
      line: {width: 1.5, color: "#2f6fdb"}, marker: {size: 5},
    };
    if (!box.classList.contains("js-plotly-plot")) box.textContent = ""; // the SVG first drawing
    window.Plotly.react(box, [trace], layout(), {responsive: true, displaylogo: false});
    card.dataset.state = "drawn";
    note(card, data);
  }

  function note(card, data) {
    const shown = data.values.length, total = data.total_points;
    const parts = [shown === total ? `${total.toLocaleString()} points`
      : `${shown.toLocaleString()} of ${total.toLocaleString()} points (min/max per bucket)`];
    if (data.non_finite_points) parts.push(`${data.non_finite_points.toLocaleString()} NaN/infinite not drawn`);
    card.querySelector(".chart-note").textContent = parts.join(" · ");
  }

  function draw(card) {
    if (card.dataset.state) return;
    card.dataset.state = "loading";
    card.querySelector(".chart").textContent = "Loading…";
    const drawing = history(card).then((data) => {
      sketch(card, data);
      return firstCharts.then(() => plotlyReady()).then(() => plot(card, data));
    });
    drawing.catch((error) => {
      if (card.dataset.state === "sketched") { card.querySelector(".chart-note").textContent += ` · ${error.message}`; return; }
      card.dataset.state = "failed";
      const box = card.querySelector(".chart");
      box.textContent = "";
      const message = document.createElement("p");
      message.className = "error";
      message.textContent = `Cannot load this metric: ${error.message}`;
      box.appendChild(message);
    });
  }

  function redraw() {
    for (const card of cards) {
      if (card.dataset.state === "drawn") history(card).then((data) => plot(card, data));
      else if (card.dataset.state === "sketched") history(card).then((data) => sketch(card, data));
    }
  }

  const eager = Number(section.dataset.eager || 4);
  // plotly waits until the eager charts are sketched (or failed) and painted
  const firstCharts = Promise.allSettled(cards.slice(0, eager).map(history)).then(painted);
  const observer = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) { observer.unobserve(entry.target); draw(entry.target); }
    }
  }, {rootMargin: "200px"}) : null;
  cards.forEach((card, i) => {
    card.querySelector(".draw").addEventListener("click", () => draw(card));
    if (i < eager || !observer) draw(card); else observer.observe(card);
  });
  document.querySelectorAll(".js-chart-link").forEach((link) => {
    link.addEventListener("click", () => { const card = cards[Number(link.dataset.index)]; if (card) draw(card); });
  });
  section.querySelectorAll("input[name=x-axis]").forEach((input) => {
    input.addEventListener("change", () => { state.x = input.value; redraw(); });
  });
  document.getElementById("log-y").addEventListener("change", (event) => { state.logY = event.target.checked; redraw(); });

  // The latest step and time of the metrics whose chart is not drawn yet: one history at a time.
  const rest = cards.slice(eager, eager + 200);
  (async function fillTable() {
    await firstCharts; // the charts first
    for (const card of rest) {
      try { await history(card); } catch (error) { /* shown when the chart is drawn */ }
    }
  })();
})();

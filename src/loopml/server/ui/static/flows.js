// The flow run page: the task-run timeline (SVG, only the rows in view are drawn), the task table
// (200 rows a page, over the compact JSON of tasks.json) and the logs (a page at a time from
// logs.json, filtered by level and text on the server). Fast at 10,000 task runs.
"use strict";
(function () {
  const root = document.getElementById("flow-run");
  if (!root) return;
  const SVG = "http://www.w3.org/2000/svg";
  const LABEL_W = 220, ROW_H = 20, BAR_H = 12, AXIS_H = 24, MAX_VIEW = 440, OVERSCAN = 10;
  const TASK_PAGE = 200, LOG_PAGE = 100;
  const t0 = Number(root.dataset.start);
  // a task: [name, state, start, end, attempts, cache, error]; times in ms after the flow's start
  const NAME = 0, STATE = 1, START = 2, END = 3, ATTEMPTS = 4, CACHE = 5, ERROR = 6;
  let data = null, shown = [], position = new Map(), selected = -1, taskPage = 0;

  // ---- formatting ----------------------------------------------------------------------------
  const clock = (ms) => new Date(ms).toISOString().slice(11, 23);
  const stamp = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 23);
  function span(ms) {
    if (ms === null || ms === undefined) return "—";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
    const m = Math.floor(ms / 60000), s = Math.floor((ms % 60000) / 1000);
    if (m < 60) return m + " min " + String(s).padStart(2, "0") + " s";
    return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
  }
  function el(tag, attrs, text) {
    const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  const stateOf = (task) => data.states[task[STATE]];
  const ended = (task) => (task[END] === null ? data.span : task[END]);

  // ---- the filter shared by the timeline and the table -----------------------------------------
  const stateBox = document.getElementById("task-state");
  const nameBox = document.getElementById("task-search");
  function applyFilter() {
    const state = stateBox.value, needle = nameBox.value.trim().toLowerCase();
    shown = [];
    data.tasks.forEach((task, i) => {
      if (state && stateOf(task) !== state) return;
      if (needle && !task[NAME].toLowerCase().includes(needle)) return;
      shown.push(i);
    });
    position = new Map(shown.map((i, at) => [i, at]));
    taskPage = 0;
    layoutTimeline();
    drawTable();
  }

  // ---- the timeline ------------------------------------------------------------------------------
  const box = document.getElementById("timeline");
  let scroller = null, rows = null, axis = null;

  function niceStep(total, ticks) {
    const raw = Math.max(total / ticks, 1), power = Math.pow(10, Math.floor(Math.log10(raw)));  // whole ms
    for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
    return 10 * power;
  }
  function barWidth() { return Math.max(box.clientWidth - LABEL_W - 16, 100); }
  // the time shown: the whole flow run, or (zoomed) from the first start to the last end in view
  let lo = 0, hi = 1;
  const xOf = (ms) => LABEL_W + ((ms - lo) / (hi - lo)) * barWidth();
  const zoomBox = document.getElementById("timeline-zoom");
  function domain(first, last) {
    lo = 0; hi = data.span;
    if (!zoomBox.checked) return;
    let a = Infinity, b = -Infinity;
    for (let at = first; at < last; at++) {
      const task = data.tasks[shown[at]];
      if (task[START] === null) continue;
      a = Math.min(a, task[START]); b = Math.max(b, ended(task));
    }
    if (a < b) { const pad = (b - a) * 0.02; lo = Math.max(0, a - pad); hi = b + pad; }
    else if (a === b) { lo = Math.max(0, a - 1); hi = a + 1; }
  }
  function ticks() {
    const step = niceStep(hi - lo, Math.max(2, Math.floor(barWidth() / 110)));
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) out.push(t);
    return out;
  }

  function buildTimeline() {
    box.textContent = "";
    axis = el("svg:svg", {class: "tl-axis", height: AXIS_H});
    scroller = el("div", {class: "tl-scroll"});
    const spacer = el("div", {class: "tl-spacer"});
    rows = el("svg:svg", {class: "tl-rows"});
    spacer.appendChild(rows);
    scroller.appendChild(spacer);
    box.append(axis, scroller);
    let pending = false;
    scroller.addEventListener("scroll", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; drawRows(); });
    });
    rows.addEventListener("click", (event) => {
      const row = event.target.closest("[data-task]");
      if (row) select(Number(row.dataset.task), false);
    });
    window.addEventListener("resize", drawRows);
    zoomBox.addEventListener("change", drawRows);
  }

  function layoutTimeline() {
    const height = shown.length * ROW_H;
    scroller.style.height = Math.min(Math.max(height, ROW_H), MAX_VIEW) + "px";
    scroller.firstChild.style.height = height + "px";
    document.getElementById("timeline-count").textContent =
      shown.length === data.tasks.length ? `${data.tasks.length.toLocaleString()} task runs`
        : `${shown.length.toLocaleString()} of ${data.tasks.length.toLocaleString()} task runs`;
    drawRows();
  }

  function drawAxis() {
    const width = box.clientWidth;
    axis.setAttribute("width", width);
    axis.textContent = "";
    for (const t of ticks()) {
      const x = xOf(t);
      axis.appendChild(el("svg:line", {x1: x, x2: x, y1: AXIS_H - 6, y2: AXIS_H, class: "tick"}));
      axis.appendChild(el("svg:text", {x: x + 3, y: AXIS_H - 9, class: "tick-label"}, "+" + span(t)));
    }
    axis.appendChild(el("svg:text", {x: 4, y: AXIS_H - 9, class: "tick-label"}, "task run"));
  }

  function drawRows() {
    const width = box.clientWidth;
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_H) - OVERSCAN);
    const count = Math.ceil(scroller.clientHeight / ROW_H) + 2 * OVERSCAN;
    const last = Math.min(shown.length, first + count);
    rows.setAttribute("width", width);
    rows.setAttribute("height", Math.max(last - first, 0) * ROW_H);
    rows.style.top = first * ROW_H + "px";
    rows.textContent = "";
    domain(first, last);
    drawAxis();
    for (const t of ticks()) {
      rows.appendChild(el("svg:line", {x1: xOf(t), x2: xOf(t), y1: 0, y2: (last - first) * ROW_H, class: "grid-line"}));
    }
    const arrows = [];
    for (let at = first; at < last; at++) {
      const i = shown[at];
      rows.appendChild(drawRow(data.tasks[i], i, (at - first) * ROW_H));
      for (const up of data.deps[i] || []) arrows.push([up, i, first]);
    }
    for (const [up, down] of arrows) drawDependency(up, down, first);
  }

  function drawRow(task, i, y) {
    const g = el("svg:g", {"data-task": i, class: i === selected ? "tl-row selected" : "tl-row"});
    g.appendChild(el("svg:rect", {x: 0, y, width: box.clientWidth, height: ROW_H, class: "tl-band"}));
    const label = task[NAME].length > 30 ? task[NAME].slice(0, 29) + "…" : task[NAME];
    g.appendChild(el("svg:text", {x: 6, y: y + ROW_H / 2 + 4, class: "tl-label"}, label));
    const state = stateOf(task);
    if (task[START] === null) {
      g.appendChild(el("svg:text", {x: LABEL_W + 4, y: y + ROW_H / 2 + 4, class: "tl-note"}, state.toLowerCase() + ", not started"));
    } else {
      const x = Math.max(LABEL_W, xOf(task[START])), w = Math.max(2, xOf(ended(task)) - x);
      const bar = el("svg:rect", {x, y: y + (ROW_H - BAR_H) / 2, width: w, height: BAR_H, rx: 2,
        class: "bar fill-" + state.toLowerCase(), "data-state": state});
      bar.appendChild(el("svg:title", {}, `${task[NAME]} · ${state} · ${span(ended(task) - task[START])}` +
        (task[ERROR] ? "\n" + task[ERROR] : "")));
      g.appendChild(bar);
    }
    return g;
  }

  function drawDependency(up, down, first) {
    const a = position.get(up), b = position.get(down);
    if (a === undefined || b === undefined || data.tasks[up][START] === null || data.tasks[down][START] === null) return;
    const x1 = xOf(ended(data.tasks[up])), y1 = (a - first) * ROW_H + ROW_H / 2;
    const x2 = xOf(data.tasks[down][START]), y2 = (b - first) * ROW_H + ROW_H / 2;
    const mid = Math.max(x1 + 6, (x1 + x2) / 2);
    rows.appendChild(el("svg:path", {d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, class: "dep"}));
  }

  function drawLegend() {
    const counts = new Map();
    for (const task of data.tasks) counts.set(stateOf(task), (counts.get(stateOf(task)) || 0) + 1);
    const legend = document.getElementById("timeline-legend");
    legend.textContent = "";
    for (const [state, n] of counts) {
      const item = el("span", {class: "legend-item"});
      item.append(el("i", {class: "swatch fill-" + state.toLowerCase()}), `${state} ${n.toLocaleString()}`);
      legend.appendChild(item);
      stateBox.appendChild(el("option", {value: state}, `${state} (${n.toLocaleString()})`));
    }
    if (Object.keys(data.deps).length === 0) {
      legend.appendChild(el("span", {class: "muted legend-note"}, "no dependencies recorded between these task runs"));
    }
  }

  // ---- the task table ----------------------------------------------------------------------------
  const tbody = document.querySelector("#tasks tbody");
  const taskPager = document.getElementById("task-pager");

  function drawTable() {
    const pages = Math.max(1, Math.ceil(shown.length / TASK_PAGE));
    taskPage = Math.min(taskPage, pages - 1);
    const from = taskPage * TASK_PAGE, to = Math.min(shown.length, from + TASK_PAGE);
    const fragment = document.createDocumentFragment();
    for (let at = from; at < to; at++) fragment.appendChild(taskRow(shown[at]));
    tbody.textContent = "";
    if (!shown.length) {
      const td = el("td", {colspan: 8, class: "muted"}, data.tasks.length ? "No task runs match." : "This flow run has no task runs.");
      fragment.appendChild(el("tr")).appendChild(td);
    }
    tbody.appendChild(fragment);
    document.getElementById("task-page").textContent = `page ${taskPage + 1} of ${pages}`;
    document.getElementById("task-where").textContent = shown.length
      ? `${(from + 1).toLocaleString()}–${to.toLocaleString()} of ${shown.length.toLocaleString()}` : "";
    taskPager.querySelector("[data-go=prev]").disabled = taskPage === 0;
    taskPager.querySelector("[data-go=next]").disabled = taskPage >= pages - 1;
  }

  function taskRow(i) {
    const task = data.tasks[i], state = stateOf(task);
    const tr = el("tr", {"data-task": i, "data-state": state, class: i === selected ? "selected" : ""});
    tr.append(el("td", {class: "num muted"}, String(i + 1)), el("td", {}, task[NAME]));
    const badge = el("td");
    badge.appendChild(el("span", {class: "badge state-" + state.toLowerCase()}, state));
    const duration = task[START] === null ? "—" : span(ended(task) - task[START]) + (task[END] === null ? " so far" : "");
    tr.append(badge, el("td", {class: "mono"}, task[START] === null ? "—" : clock(t0 + task[START])),
      el("td", {class: "num"}, duration), el("td", {class: "num"}, String(Math.max(0, task[ATTEMPTS] - 1))),
      el("td", {}, ["—", "miss", "hit"][task[CACHE]]), el("td", {class: "task-error", title: task[ERROR]}, task[ERROR]));
    return tr;
  }

  function select(i, scrollTimeline) {
    selected = i;
    const at = position.get(i);
    if (at !== undefined) {
      taskPage = Math.floor(at / TASK_PAGE);
      if (scrollTimeline) scroller.scrollTop = Math.max(0, at * ROW_H - MAX_VIEW / 2);
    }
    drawRows();
    drawTable();
    const row = tbody.querySelector(`tr[data-task="${i}"]`);
    if (row) row.scrollIntoView({block: "nearest"});
    logTask = data.tasks[i][NAME];
    showLogTask();
    logOffset = 0;
    loadLogs();
  }

  taskPager.addEventListener("click", (event) => {
    const go = event.target.dataset.go;
    if (!go) return;
    taskPage += go === "next" ? 1 : -1;
    drawTable();
  });
  tbody.addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-task]");
    if (row) select(Number(row.dataset.task), true);
  });
  stateBox.addEventListener("change", applyFilter);
  let nameTimer = 0;
  nameBox.addEventListener("input", () => { clearTimeout(nameTimer); nameTimer = setTimeout(applyFilter, 200); });

  // ---- the logs ----------------------------------------------------------------------------------
  const logBody = document.querySelector("#logs tbody");
  const logPager = document.getElementById("log-pager");
  const levelBox = document.getElementById("log-level");
  const searchBox = document.getElementById("log-search");
  const logError = document.getElementById("log-error");
  let logOffset = 0, logTotal = 0, logTask = "", logRequest = 0;

  function showLogTask() {
    const badge = document.getElementById("log-task");
    badge.hidden = !logTask;
    badge.querySelector("b").textContent = logTask;
  }

  async function loadLogs() {
    const query = new URLSearchParams({offset: logOffset, limit: LOG_PAGE});
    if (levelBox.value) query.set("level", levelBox.value);
    if (searchBox.value.trim()) query.set("q", searchBox.value.trim());
    if (logTask) query.set("task", logTask);
    const mine = ++logRequest;
    let page;
    try {
      page = await loopml.api("GET", root.dataset.logs + "?" + query);
    } catch (error) {
      logError.hidden = false;
      logError.textContent = error.message;
      return;
    }
    if (mine !== logRequest) return;  // a newer request is on its way
    logError.hidden = true;
    logTotal = page.total;
    logOffset = page.offset;
    drawLogs(page.lines);
  }

  function drawLogs(lines) {
    const fragment = document.createDocumentFragment();
    for (const [ts, level, logger, task, message] of lines) {
      const tr = el("tr", {class: "log-line level-" + level.toLowerCase(), "data-level": level});
      tr.append(el("td", {class: "mono nowrap"}, stamp(ts)), el("td", {class: "level"}, level),
        el("td", {class: "muted", title: logger}, task || "flow"), el("td", {class: "message"}, message));
      fragment.appendChild(tr);
    }
    logBody.textContent = "";
    if (!lines.length) {
      const filtered = levelBox.value || searchBox.value.trim() || logTask;
      const text = filtered ? "No log lines match." : "This flow run wrote no logs.";
      fragment.appendChild(el("tr")).appendChild(el("td", {colspan: 4, class: "muted"}, text));
    }
    logBody.appendChild(fragment);
    const pages = Math.max(1, Math.ceil(logTotal / LOG_PAGE));
    document.getElementById("log-page").textContent = `page ${Math.floor(logOffset / LOG_PAGE) + 1} of ${pages}`;
    document.getElementById("log-where").textContent = logTotal
      ? `${(logOffset + 1).toLocaleString()}–${(logOffset + lines.length).toLocaleString()} of ${logTotal.toLocaleString()} lines` : "";
    logPager.querySelector("[data-go=prev]").disabled = logOffset === 0;
    logPager.querySelector("[data-go=next]").disabled = logOffset + LOG_PAGE >= logTotal;
  }

  logPager.addEventListener("click", (event) => {
    const go = event.target.dataset.go;
    if (!go) return;
    logOffset = Math.max(0, logOffset + (go === "next" ? LOG_PAGE : -LOG_PAGE));
    loadLogs();
  });
  document.getElementById("log-filters").addEventListener("submit", (event) => event.preventDefault());
  levelBox.addEventListener("change", () => { logOffset = 0; loadLogs(); });
  let searchTimer = 0;
  searchBox.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { logOffset = 0; loadLogs(); }, 250);
  });
  document.getElementById("log-task-clear").addEventListener("click", () => {
    logTask = "";
    showLogTask();
    logOffset = 0;
    loadLogs();
  });

  // ---- start ----------------------------------------------------------------------------------
  async function start() {
    loadLogs();
    try {
      data = await loopml.api("GET", root.dataset.tasks);
    } catch (error) {
      box.textContent = "";
      box.appendChild(el("p", {class: "error", role: "alert"}, "Could not load the task runs: " + error.message));
      return;
    }
    buildTimeline();
    drawLegend();
    applyFilter();
    root.dataset.ready = "1";
  }
  start();
})();

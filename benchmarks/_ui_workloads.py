"""The data and the page loads of ``bench_ui.py``.

Data (``build_data``): one experiment of ``runs`` finished runs, each with a few params, metrics
and tags (``_common.iter_run_specs``), written through loopml's public ``Client``
(``create_run`` + one ``log_batch`` + ``set_terminated`` per run: each a transaction of the
store, ~0.6 ms a run on a quiet core), and one run, in an experiment of its own, with a
``history_points``-point history of the metric ``loss`` (``log_batch`` of ``history_chunk``
points per call). What was built is described in ``data.json`` so that a kept ``--workdir``
reuses it.

Page loads (``load_page``): Playwright's sync API driving headless Chromium. Each load opens a
new tab in a given browser context (a fresh context: an empty cache, the cold load; the same
context again: the warm load, then the hot one), with an init script that stamps
``performance.now()`` when the chart selector first matches (a MutationObserver) and again in
the next animation frame (the frame that paints it). The figures come from the page's own
Performance Timeline (paint, navigation and resource entries) and from a CDP ``Network``
listener (bytes on the wire).

loopml and playwright are imported inside the functions only.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import _common as c
from _common import pc

WHO = "bench_ui"
FULL_SIZES: dict[str, Any] = {
    "runs": 100_000,
    "params_per_run": 5,
    "metrics_per_run": 5,
    "tags_per_run": 3,
    "history_points": 1_000_000,
    "history_chunk": 100_000,
}
QUICK_SIZES: dict[str, Any] = FULL_SIZES | {"runs": 2_000, "history_points": 100_000}
HISTORY_KEY = "loss"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}


# ----------------------------------------------------------------------------------------
# The data: built once per workdir, described in data.json.
# ----------------------------------------------------------------------------------------


def run_name(i: int) -> str:
    return f"run-{i:06d}"


def populate_runs(client: Any, metric_cls: Any, exp_id: str, sizes: dict[str, Any]) -> dict[str, Any]:
    """``sizes['runs']`` finished runs; the name and value of the run with the highest ``m1``."""
    n, t0 = sizes["runs"], c.now_ms() - 10 * sizes["runs"]
    top: tuple[float, str] = (-1.0, "")
    step = max(n // 10, 1)
    t = pc()
    for i, spec in enumerate(c.iter_run_specs(n, sizes, c.SEED + 8)):
        start = t0 + 10 * i
        run_id = client.create_run(exp_id, run_name=run_name(i), start_time=start).info.run_id
        metrics = [metric_cls(k, v, start + 1, 0) for k, v in spec.metrics.items()]
        client.log_batch(run_id, metrics=metrics, params=spec.params, tags=spec.tags)
        client.set_terminated(run_id, end_time=start + 5)
        top = max(top, (spec.metrics["m1"], run_name(i)))
        if (i + 1) % step == 0:
            c.log(WHO, f"  runs: {i + 1:,}/{n:,} ({pc() - t:.0f} s)")
    wall = pc() - t
    return {
        "runs_wall_s": wall,
        "per_run_ms": 1000 * wall / n,
        "top_m1": top[0],
        "top_m1_run": top[1],
        "newest_run": run_name(n - 1),
    }


def populate_history(client: Any, metric_cls: Any, exp_id: str, sizes: dict[str, Any]) -> dict[str, Any]:
    """One run with ``history_points`` points of ``loss`` (a noisy decay), read back to check."""
    n, chunk = sizes["history_points"], sizes["history_chunk"]
    rnd = random.Random(c.SEED + 9)
    ts0 = c.now_ms() - n
    run_id = client.create_run(exp_id, run_name=f"history-{n}").info.run_id
    t = pc()
    for lo in range(0, n, chunk):
        points = [
            metric_cls(HISTORY_KEY, 2.0 * math.exp(-s / (n / 5)) + 0.1 * rnd.random(), ts0 + s, s)
            for s in range(lo, min(n, lo + chunk))
        ]
        client.log_batch(run_id, metrics=points)
        c.log(WHO, f"  history: {lo + len(points):,}/{n:,} points")
    wall = pc() - t
    client.set_terminated(run_id)
    t = pc()
    got = len(client.get_metric_history(run_id, HISTORY_KEY).values)
    return {
        "history_run_id": run_id,
        "history_wall_s": wall,
        "history_read_s": pc() - t,
        "history_read_points": got,
        "history_ok": got == n,
    }


def build_data(data_dir: Path, sizes: dict[str, Any]) -> dict[str, Any]:
    """The SQLite store and artifacts in ``data_dir``, through loopml's public Client."""
    from loopml import Client, Metric

    store_uri = f"sqlite:///{data_dir / 'loopml.db'}"
    client = Client(tracking_uri=store_uri, artifact_root=str(data_dir / "artifacts"))
    try:
        exp_id = client.create_experiment(f"bench-ui-{sizes['runs']}-runs")
        c.log(WHO, f"creating {sizes['runs']:,} runs in experiment {exp_id}")
        out: dict[str, Any] = {"store_uri": store_uri, "experiment_id": exp_id, "sizes": sizes}
        out |= populate_runs(client, Metric, exp_id, sizes)
        hist_exp = client.create_experiment(f"bench-ui-{sizes['history_points']}-points")
        c.log(WHO, f"logging a {sizes['history_points']:,}-point history in experiment {hist_exp}")
        out |= {"history_experiment_id": hist_exp}
        out |= populate_history(client, Metric, hist_exp, sizes)
    finally:
        client.close()
    out["db_bytes"] = c.db_bytes(str(data_dir / "loopml.db"))
    (data_dir / "data.json").write_text(json.dumps(out, indent=1))
    return out


def reusable_data(data_dir: Path, sizes: dict[str, Any]) -> dict[str, Any] | None:
    """The description of data built earlier in ``data_dir`` with the same sizes, else None."""
    try:
        data: dict[str, Any] = json.loads((data_dir / "data.json").read_text())
    except (OSError, ValueError):
        return None
    return data if data.get("sizes") == sizes and data.get("history_ok") else None


# ----------------------------------------------------------------------------------------
# Plain HTTP: the server's time for the HTML, outside any browser.
# ----------------------------------------------------------------------------------------


def http_get(url: str, timeout: float = 120.0) -> tuple[int, int, float]:
    """One GET on a new connection: status, body bytes and seconds to the end of the body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        t = pc()
        conn.request("GET", path, headers={"Accept": "text/html"})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, len(body), pc() - t
    finally:
        conn.close()


# ----------------------------------------------------------------------------------------
# One page load in Chromium.
# ----------------------------------------------------------------------------------------

INIT_JS = """
(() => {
  const selectors = %s;  // mark name -> CSS selector
  const b = (window.__bench = {});
  const pending = Object.entries(selectors).filter(([, sel]) => sel);
  for (const [name] of pending) b[name] = {dom: null, frame: null};
  if (!pending.length) return;
  const obs = new MutationObserver(() => {
    for (const [name, sel] of pending) {
      const mark = b[name];
      if (mark.dom === null && document.querySelector(sel)) {
        mark.dom = performance.now();
        requestAnimationFrame(() => { mark.frame = performance.now(); });
      }
    }
    if (pending.every(([name]) => b[name].dom !== null)) obs.disconnect();
  });
  obs.observe(document, {childList: true, subtree: true});
})();
"""

COLLECT_JS = """
(expectText) => {
  const nav = performance.getEntriesByType('navigation')[0] || {};
  const paint = {};
  for (const p of performance.getEntriesByType('paint')) paint[p.name] = p.startTime;
  const res = performance.getEntriesByType('resource').map(r => ({
    name: r.name, type: r.initiatorType, transfer: r.transferSize, encoded: r.encodedBodySize,
    decoded: r.decodedBodySize, end: r.responseEnd}));
  const plot = document.querySelector('.js-plotly-plot');
  const traces = plot && Array.isArray(plot.data) ? plot.data : null;
  const text = document.body ? document.body.innerText : '';
  return {
    nav: {request_start: nav.requestStart, response_start: nav.responseStart,
          response_end: nav.responseEnd, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
          transfer: nav.transferSize, encoded: nav.encodedBodySize, decoded: nav.decodedBodySize},
    paint, res,
    marks: window.__bench || {},
    traces: traces ? traces.map(t => (t.x || t.y || []).length) : null,
    rows: document.querySelectorAll('tbody tr').length,
    expect_found: expectText ? text.includes(expectText) : null,
  };
}
"""


@dataclass(frozen=True)
class PageSpec:
    """A page to load: its name, URL, the selectors of its chart drawn (``chart_selector``: the
    interactive plotly chart; ``first_drawing_selector``: the run page's SVG drawn before plotly
    is loaded) to wait for, and a text it must show."""

    name: str
    url: str
    chart_selector: str | None = None
    first_drawing_selector: str | None = None
    expect_text: str | None = None

    def marks(self) -> dict[str, str | None]:
        return {"chart": self.chart_selector, "first_drawing": self.first_drawing_selector}


class NetCounter:
    """Bytes on the wire (CDP ``Network.loadingFinished.encodedDataLength``: headers and body,
    0 for a response served from the cache) and requests of one tab."""

    def __init__(self, cdp: Any) -> None:
        self.wire_bytes = 0
        self.requests = 0
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.send("Network.enable")

    def _sent(self, _: dict[str, Any]) -> None:
        self.requests += 1

    def _finished(self, event: dict[str, Any]) -> None:
        self.wire_bytes += int(event.get("encodedDataLength") or 0)


def _ms(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and x > 0 else None


def _mark(raw: dict[str, Any], name: str, key: str) -> float | None:
    """When mark ``name`` first matched (``dom``) or the frame that painted it (``frame``)."""
    return _ms((raw["marks"].get(name) or {}).get(key))


def figures_of(raw: dict[str, Any], net: NetCounter, goto_s: float, status: int | None) -> dict[str, Any]:
    """One load's figures (ms from the navigation's start, bytes) from the collected entries."""
    nav, res = raw["nav"], raw["res"]
    start = nav.get("request_start") or 0.0
    transfer = (nav.get("transfer") or 0) + sum(r["transfer"] or 0 for r in res)
    return {
        "status": status,
        "goto_s": goto_s,
        "first_paint_ms": _ms(raw["paint"].get("first-paint")),
        "fcp_ms": _ms(raw["paint"].get("first-contentful-paint")),
        "dom_content_loaded_ms": _ms(nav.get("dcl")),
        "load_ms": _ms(nav.get("load")),
        "ttfb_ms": (nav["response_start"] - start) if nav.get("response_start") else None,
        "html_ms": (nav["response_end"] - start) if nav.get("response_end") else None,
        "chart_dom_ms": _mark(raw, "chart", "dom"),
        "chart_ms": _mark(raw, "chart", "frame"),
        "first_drawing_ms": _mark(raw, "first_drawing", "frame"),
        "wire_bytes": net.wire_bytes,
        "transfer_bytes": transfer,
        "decoded_bytes": (nav.get("decoded") or 0) + sum(r["decoded"] or 0 for r in res),
        "html_bytes": nav.get("decoded"),
        "requests": net.requests,
        "from_cache": sum(1 for r in res if r["transfer"] == 0 and (r["decoded"] or 0) > 0),
        "rows": raw["rows"],
        "chart_points": raw["traces"],
        "expect_found": raw["expect_found"],
        "resources": [
            {
                "path": urlsplit(r["name"]).path,
                "type": r["type"],
                "transfer": r["transfer"],
                "decoded": r["decoded"],
            }
            for r in res
        ],
    }


def load_page(context: Any, spec: PageSpec, timeout_s: float) -> dict[str, Any]:
    """Load ``spec`` in a new tab of ``context``: wait for the load event (and the chart), then
    for the network to go idle, and read the figures. The tab is closed afterwards."""
    from playwright.sync_api import Error as PlaywrightError

    page = context.new_page()
    js_errors: list[str] = []
    page.on("pageerror", lambda exc: js_errors.append(str(exc)[:300]))
    try:
        net = NetCounter(context.new_cdp_session(page))
        page.add_init_script(INIT_JS % json.dumps(spec.marks()))
        t = pc()
        answer = page.goto(spec.url, wait_until="load", timeout=1000 * timeout_s)
        goto_s = pc() - t
        page.wait_for_function(
            "() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0", timeout=1000 * timeout_s
        )
        chart_error = None
        for name, selector in spec.marks().items():
            if not selector:
                continue
            try:
                drawn = f"() => window.__bench.{name}.frame !== null"
                page.wait_for_function(drawn, timeout=1000 * timeout_s)
            except PlaywrightError as exc:
                chart_error = f"{name} {selector!r} not drawn within {timeout_s} s: {exc}"[:300]
        with contextlib.suppress(PlaywrightError):
            page.wait_for_load_state("networkidle", timeout=1000 * timeout_s)
        raw = page.evaluate(COLLECT_JS, spec.expect_text)
        out = figures_of(raw, net, goto_s, answer.status if answer else None)
        return out | {"chart_error": chart_error, "js_errors": js_errors}
    finally:
        page.close()


PHASES = ("cold", "warm", "hot")


def loads_in_fresh_context(
    browser: Any, spec: PageSpec, timeout_s: float, phases: tuple[str, ...] = PHASES
) -> dict[str, Any]:
    """A fresh context (empty cache): the cold load, then the warm load in a new tab of it (the
    assets from the HTTP cache), then the hot one (a third tab: Chromium also keeps V8's compiled
    code of a script it has run twice, so big scripts such as plotly.min.js parse faster)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        return {phase: load_page(context, spec, timeout_s) for phase in phases}
    finally:
        context.close()


def plotly_eval_ms(browser: Any, repeats: int) -> dict[str, Any] | None:
    """Running plotly.min.js alone (the file the server sends, from the plotly package): an
    indirect ``eval`` of its source in a blank tab of a fresh context, ``repeats`` times. No page
    can draw a chart before this is done: the floor under ``chart_ms``."""
    import plotly

    source = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()
    timed = "(src) => { const t = performance.now(); (0, eval)(src); return performance.now() - t; }"
    samples = []
    for _ in range(repeats):
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto("about:blank")
            samples.append(page.evaluate(timed, source))
        finally:
            context.close()
    return c.stats(samples) | {"bytes": len(source.encode())} if samples else None


def launch(playwright: Any) -> Any:
    """Debian's Chromium, headless, with the flags of the browser tests."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)

"""The demo's monitoring stage: three days of traffic, a shift on the last one, the monitor.

The champion (the version the deployment stage promoted, logged with its training data, so
its reference profile is stored with it) sees

1. two ordinary days: rows drawn from the dataset, scored by the model and written to the
   prediction log with those days' timestamps (a replay: the server cannot log the past);
2. today: rows from a new imaging device that reads every measurement 12% high, sent to the
   real scoring server over HTTP, which logs them as it logs everything it serves;

then :func:`loopml.monitoring.monitor` compares each day with the reference profile, records a
monitoring run, adds a ``drift.detected`` event, and writes the HTML report.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from rich.console import Console

    from .demo import DemoData
    from .monitoring.monitors import MonitorResult

__all__ = ["DAY_ROWS", "DEVICE_BIAS", "watch"]

DAY_ROWS = 400
DEVICE_BIAS = 1.12  # today's device reads 12% high
_DAY_S = 86_400.0


def watch(uri: str, data: DemoData, home: Path, console: Console) -> MonitorResult:
    """Run the stage (see the module doc); the fluent API must point at the demo's store."""
    from .monitoring.monitors import monitor

    log_root = home / "predictions"
    console.print(f"\n[bold]Monitoring[/] {uri}: two ordinary days, then a device that reads 12% high")
    now = time.time()
    _replay_days(uri, data, log_root, now)
    _serve_today(uri, data, log_root)
    page = home / "monitoring" / "drift_report.html"
    result = monitor(uri, since="3d", window="1d", prediction_log=log_root.as_posix(), report=page)
    for w in result.windows:
        if w.report is None:
            continue
        dataset = w.report.to_dict()["dataset"]
        verdict = "DRIFT" if dataset["drift_detected"] else "ok"
        console.print(
            f"  {w.window.start:%Y-%m-%d %H:%M} +1d  {w.rows:4d} predictions  "
            f"{dataset['n_drifted']:2d}/{dataset['n_columns']} columns drifted  {verdict}",
            markup=False,
        )
    if result.event_id is not None:
        subject = f"models:/{uri.split('/')[1].split('@')[0]}/{result.version}"
        console.print(f"  event drift.detected #{result.event_id} on {subject}", markup=False)
    console.print(f"  monitoring run {result.run_id}; report {result.report_path}", markup=False)
    return result


def _rows(data: DemoData, seed: int, bias: float = 1.0) -> np.ndarray:
    """DAY_ROWS rows drawn from the whole dataset, every measurement multiplied by ``bias``."""
    import numpy as np

    everything = np.vstack([data.x_train, data.x_val])
    rng = np.random.default_rng(seed)
    picked: np.ndarray = everything[rng.integers(0, len(everything), DAY_ROWS)] * bias
    return picked


def _replay_days(uri: str, data: DemoData, log_root: Path, now: float) -> None:
    """Days -3 and -2 written to the prediction log as the server would have written them."""
    import loopml

    from .serving.prediction_log import PredictionLog

    model = loopml.load_model(uri)
    name, version = uri.split("/")[1].split("@")[0], _version(uri)
    log = PredictionLog(log_root.as_posix())
    for day in (3, 2):
        frame = data.frame(_rows(data, seed=day))
        start = now - day * _DAY_S + 3_600.0
        log.append(
            model=name,
            version=version,
            request_ids=[f"replay-{day}-{i}" for i in range(len(frame))],
            timestamps=[start + i * 60.0 for i in range(len(frame))],
            inputs=frame,
            outputs=model.predict(frame).tolist(),
            latencies_ms=[0.0] * len(frame),
        )
    log.close()


def _version(uri: str) -> str:
    from .tracking import fluent

    return str(fluent._client().registry.resolve_model_version(uri).version)


def _serve_today(uri: str, data: DemoData, log_root: Path) -> None:
    """Today's rows, 20 per request, through the scoring server (which logs them)."""
    import httpx

    from .serving.background import serve_in_thread
    from .serving.options import ServeOptions

    rows, columns = _rows(data, seed=1, bias=DEVICE_BIAS).tolist(), list(data.feature_names)
    options = ServeOptions(prediction_log_root=log_root.as_posix())
    with serve_in_thread([uri], options) as url, httpx.Client(base_url=url, timeout=30) as http:
        for first in range(0, len(rows), 20):
            answer = http.post("/predict", json={"columns": columns, "data": rows[first : first + 20]})
            answer.raise_for_status()

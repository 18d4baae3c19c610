"""The monitor of a served model: its prediction log against its version's reference profile.

:func:`monitor` (and ``loopml monitor``) reads the predictions ``loopml serve`` logged for a
period, cuts the period into windows, runs :func:`~loopml.monitoring.detect_drift` on each
window against the reference profile stored with the model version, and records the result
as a *monitoring run* (experiment ``monitoring``):

- metrics stepped by window (step = the window's start, in seconds since the epoch):
  ``drift_share``, ``drifted_columns``, ``rows`` and, per column, ``drift.<column>`` (the effect
  size of the default rule, or the forced test's statistic) — a time series per column;
- artifacts: ``drift_report.html`` and ``drift_report.json`` of the latest window with rows,
  and ``windows/<start>.json`` for every window when there are several;
- a ``drift.detected`` event on the model version when the latest window's verdict is drift,
  so automations (retrain, notify) can react.

Prediction drift compares the model's outputs on the reference sample with the logged outputs.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, LoopmlError
from .windows import Window, parse_duration, split_period, utc

if TYPE_CHECKING:
    import pandas as pd

    from ..entities import ModelVersion
    from ..tracking.client import Client
    from .profiles import Profile
    from .report import DriftReport

__all__ = ["DRIFT_EVENT", "MonitorResult", "WindowDrift", "monitor"]

#: The event a monitor adds when the latest window drifts.
DRIFT_EVENT = "drift.detected"
MONITOR_EXPERIMENT = "monitoring"
PREDICTION = "prediction"
_LOG_PREDICTION = "loopml_prediction"
_MAX_LABELS = 50
_METRIC_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /:]")


@dataclass(frozen=True)
class WindowDrift:
    """One window of a monitor: its rows, the versions that served them and its drift report
    (None when no prediction fell in it)."""

    window: Window
    rows: int
    versions: tuple[str, ...] = ()
    report: DriftReport | None = None

    @property
    def drift_detected(self) -> bool:
        return self.report is not None and bool(self.report.to_dict()["dataset"]["drift_detected"])


@dataclass(frozen=True)
class MonitorResult:
    """What :func:`monitor` found and where it recorded it."""

    model_uri: str
    served_name: str
    version: str
    run_id: str
    windows: list[WindowDrift] = field(default_factory=list)
    event_id: int | None = None
    report_path: str | None = None

    @property
    def latest(self) -> WindowDrift | None:
        """The latest window that had predictions."""
        return next((w for w in reversed(self.windows) if w.report is not None), None)

    @property
    def drift_detected(self) -> bool:
        """The latest window's dataset verdict."""
        return self.latest is not None and self.latest.drift_detected


def monitor(
    model_uri: str,
    *,
    since: str | timedelta = "1d",
    window: str | timedelta | None = None,
    until: datetime | str | None = None,
    served_name: str | None = None,
    prediction_log: str | None = None,
    report: str | Path | None = None,
    tests: Any = None,
    drift_share: float = 0.5,
    prediction_drift: bool = True,
    experiment: str = MONITOR_EXPERIMENT,
    client: Client | None = None,
) -> MonitorResult:
    """Compare what the model served in the last ``since`` (cut into ``window``-long windows)
    with its version's reference profile; record a monitoring run and return the result.

    ``model_uri`` is a ``models:/`` URI (``@alias``, ``/Stage``, ``/3``); its version gives the
    reference profile. ``served_name`` is the name the server logged under (what ``loopml
    serve`` answers to; by default the model's name). ``prediction_log`` is the log's root
    (default ``<artifact root>/predictions``). ``report`` also writes the latest window's HTML
    report to that local path. ``client`` says which store (default: the fluent API's).
    """
    from ..serving.prediction_log import default_prediction_log_root, read_predictions
    from ..tracking import fluent

    client = client or fluent._client()
    version = _version(client, model_uri)
    reference = _reference(client, version)
    end = utc(until, "until") or datetime.now(UTC)
    windows = split_period(end - parse_duration(since, "since"), end, _size(window))
    name = served_name or version.name
    frame = read_predictions(
        prediction_log or default_prediction_log_root(), model=name, start=windows[0].start, end=end
    )
    outputs = _reference_outputs(version, reference) if prediction_drift else None
    results = [
        _window_drift(frame, w, reference, outputs, tests=tests, drift_share=drift_share) for w in windows
    ]
    run_id = _record(client, experiment, model_uri, version, name, results, since=since, window=window)
    result = MonitorResult(model_uri, name, str(version.version), run_id, results)
    event_id = _event(client, result, version)
    report_path = _write_report(result, report)
    return MonitorResult(
        model_uri, name, str(version.version), run_id, results, event_id=event_id, report_path=report_path
    )


# ---- inputs ------------------------------------------------------------------------------------------


def _version(client: Client, model_uri: str) -> ModelVersion:
    if not isinstance(model_uri, str) or not model_uri.startswith("models:/"):
        raise InvalidInput(
            f"monitor a registered model: give a models:/ URI (models:/name@alias, models:/name/3), "
            f"got {model_uri!r}",
            model_uri=repr(model_uri),
        )
    return client.registry.resolve_model_version(model_uri)


def _reference(client: Client, version: ModelVersion) -> Profile:
    from .reference import reference_of_version

    return reference_of_version(version, client)


def _size(window: str | timedelta | None) -> timedelta | None:
    return None if window is None else parse_duration(window, "window")


def _reference_outputs(version: ModelVersion, reference: Profile) -> pd.Series | None:
    """The model's predictions on the reference sample's complete rows, on the sample's index
    (None when it cannot score them)."""
    import pandas as pd

    from ..models.api import load_model

    model = load_model(version.storage_location)
    names = list(model.signature.input_names) if model.signature is not None else list(reference.sample)
    if not names or any(n not in reference.sample.columns for n in names) or reference.sample.empty:
        return None
    rows = reference.sample[names].dropna()
    try:
        predicted = model.predict(rows)
    except LoopmlError:  # the sample does not fit the signature: no prediction drift
        return None
    values = predicted.iloc[:, 0].to_numpy() if isinstance(predicted, pd.DataFrame) else predicted
    return pd.Series(values, index=rows.index, name=PREDICTION)


# ---- one window ----------------------------------------------------------------------------------------


def _window_drift(
    frame: pd.DataFrame,
    window: Window,
    reference: Profile,
    outputs: pd.Series | None,
    *,
    tests: Any,
    drift_share: float,
) -> WindowDrift:
    from .drift import detect_drift

    stamps = frame["loopml_timestamp"]
    rows = frame[(stamps >= window.start) & (stamps < window.end)]
    if rows.empty:
        return WindowDrift(window, 0)
    features = [c for c in reference.columns if c in rows.columns]
    current = rows[features]
    prediction = None
    reference_side: Any = reference
    if outputs is not None and _LOG_PREDICTION in rows.columns:
        reference_side, current, prediction = _with_prediction(reference, outputs, current, rows)
    found = detect_drift(
        reference_side,
        current,
        columns=features,
        tests=tests,
        prediction=prediction,
        drift_share=drift_share,
    )
    versions = tuple(sorted({str(v) for v in rows["loopml_version"].dropna().unique()}))
    return WindowDrift(window, len(rows), versions, found)


def _with_prediction(
    reference: Profile, outputs: pd.Series, current: pd.DataFrame, rows: pd.DataFrame
) -> tuple[Any, pd.DataFrame, str]:
    """Both sides with a ``prediction`` column: the reference sample scored by the model (the
    reference profile's exact statistics are kept for the features), and the logged outputs."""
    from dataclasses import replace

    from .profiles import profile

    logged = rows[_LOG_PREDICTION]
    if _is_label(outputs) or _is_label(logged):  # class labels: compared as categories
        outputs, logged = outputs.map(str, na_action="ignore"), logged.map(str, na_action="ignore")
    sample = reference.sample.assign(**{PREDICTION: outputs})  # aligned on the sample's index
    scored = profile(sample[[PREDICTION]], sample_size=max(len(sample), 1))
    merged = replace(reference, columns={**reference.columns, **scored.columns}, sample=sample)
    return merged, current.assign(**{PREDICTION: logged.to_numpy()}), PREDICTION


def _is_label(values: pd.Series) -> bool:
    """Integer, boolean or text outputs with few distinct values: a classifier's labels."""
    return values.dtype.kind not in "fc" and values.nunique(dropna=True) <= _MAX_LABELS


# ---- recording -----------------------------------------------------------------------------------------


def _record(
    client: Client,
    experiment: str,
    model_uri: str,
    version: ModelVersion,
    name: str,
    results: Sequence[WindowDrift],
    *,
    since: str | timedelta,
    window: str | timedelta | None,
) -> str:
    from ..entities import Metric

    exp = client.get_or_create_experiment(experiment)
    run = client.create_run(
        exp.experiment_id,
        run_name=f"monitor {name}",
        tags={"loopml.monitor.model": version.name, "loopml.monitor.version": str(version.version)},
    )
    run_id = run.info.run_id
    metrics = [
        Metric(key, value, int(w.window.end.timestamp() * 1000), int(w.window.start.timestamp()))
        for w in results
        for key, value in _window_metrics(w).items()
    ]
    params = {
        "model_uri": model_uri,
        "served_name": name,
        "version": str(version.version),
        "since": str(since),
        "window": "whole period" if window is None else str(window),
    }
    client.log_batch(run_id, metrics=metrics, params=params)
    _log_reports(client, run_id, results)
    client.set_terminated(run_id, "FINISHED")
    return run_id


def _window_metrics(w: WindowDrift) -> dict[str, float]:
    if w.report is None:
        return {"rows": 0.0}
    doc = w.report.to_dict()
    dataset = doc["dataset"]
    metrics = {
        "rows": float(w.rows),
        "drift_share": float(dataset["drift_share"]),
        "drifted_columns": float(dataset["n_drifted"]),
    }
    entries = dict(doc["columns"])
    if dataset.get("prediction"):
        entries[PREDICTION] = dataset["prediction"]
    for column, entry in entries.items():
        score = _score(entry)
        if score is not None:
            metrics[f"drift.{_METRIC_UNSAFE.sub('_', str(column))}"] = score
    return metrics


def _score(entry: dict[str, Any]) -> float | None:
    """The column's drift score: the effect size of the default rule, else the test's statistic."""
    effect = entry.get("effect") or {}
    value = effect.get("value", entry.get("statistic"))
    return None if value is None else float(value)


def _log_reports(client: Client, run_id: str, results: Sequence[WindowDrift]) -> None:
    store = client.artifact_store(run_id)
    with_rows = [w for w in results if w.report is not None]
    if len(results) > 1:
        for w in with_rows:
            assert w.report is not None
            stamp = w.window.start.strftime("%Y%m%dT%H%M%SZ")
            store.log_text(w.report.to_json(), f"windows/{stamp}.json")
    if with_rows:
        latest = with_rows[-1].report
        assert latest is not None
        store.log_text(latest.to_json(), "drift_report.json")
        with tempfile.TemporaryDirectory(prefix="loopml-monitor-") as tmp:
            page = Path(tmp, "drift_report.html")
            latest.to_html(page)
            store.log_file(page)


def _event(client: Client, result: MonitorResult, version: ModelVersion) -> int | None:
    latest = result.latest
    if latest is None or not latest.drift_detected:
        return None
    assert latest.report is not None
    dataset = latest.report.to_dict()["dataset"]
    drifted = [n for n, c in latest.report.to_dict()["columns"].items() if c.get("drift_detected")]
    payload = {
        "run_id": result.run_id,
        "model_uri": result.model_uri,
        "served_name": result.served_name,
        "window_start": latest.window.start.isoformat(),
        "window_end": latest.window.end.isoformat(),
        "rows": latest.rows,
        "drift_share": dataset["drift_share"],
        "drifted_columns": drifted[:100],
        "report": f"runs:/{result.run_id}/drift_report.html",
    }
    event = client.add_model_event(version.name, DRIFT_EVENT, payload, version=version.version)
    return event.id


def _write_report(result: MonitorResult, path: str | Path | None) -> str | None:
    latest = result.latest
    if path is None or latest is None or latest.report is None:
        return None
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    latest.report.to_html(target)
    return str(target)

"""The scoring server's Prometheus metrics (``GET /metrics``), in a registry of its own.

Every series carries the model's name and version as labels, so a hot swap shows as a new
``version`` label. With ``--workers N`` each worker process counts its own requests (a scrape
reaches one worker); run one worker per container, or sum in Prometheus.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .served_model import ServedModel

__all__ = ["ServingMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class ServingMetrics:
    """Counters and histograms of one scoring app (``prometheus_client``, not its global registry)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("model", "version")
        self.requests = Counter(
            "loopml_serving_requests",
            "Prediction requests answered, by HTTP status",
            (*labels, "status"),
            registry=self.registry,
        )
        self.errors = Counter(
            "loopml_serving_errors",
            "Prediction requests refused or failed, by error code",
            (*labels, "code"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "loopml_serving_request_seconds",
            "Time from a prediction request's arrival to its answer",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "loopml_serving_batch_rows",
            "Rows per model call (micro-batch size)",
            labels,
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter("loopml_serving_predictions", "Rows predicted", labels, registry=self.registry)
        self.model_info = Gauge(
            "loopml_serving_model_info",
            "1 for the version each served model answers with now",
            (*labels, "follows"),
            registry=self.registry,
        )
        self.log_dropped = Gauge(
            "loopml_serving_prediction_log_dropped",
            "Predictions the prediction log dropped (its buffer was full or a write failed)",
            registry=self.registry,
        )

    def request(self, name: str, version: str | None, status: int, seconds: float) -> None:
        v = version or ""
        self.requests.labels(name, v, str(status)).inc()
        self.latency.labels(name, v).observe(seconds)

    def error(self, name: str, version: str | None, code: str) -> None:
        self.errors.labels(name, version or "", code).inc()

    def batch(self, name: str, version: str | None, rows: int) -> None:
        v = version or ""
        self.batch_rows.labels(name, v).observe(rows)
        self.rows.labels(name, v).inc(rows)

    def serving(self, served: ServedModel, previous: ServedModel | None = None) -> None:
        """``served`` now answers for its name (``previous`` no longer does)."""
        if previous is not None:
            with contextlib.suppress(KeyError):
                self.model_info.remove(previous.name, previous.version or "", previous.spec.follows or "")
        self.model_info.labels(served.name, served.version or "", served.spec.follows or "").set(1)

    def exposition(self) -> tuple[bytes, str]:
        """(the text exposition, its content type)."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST

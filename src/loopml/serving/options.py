"""ServeOptions: how a scoring server runs, whatever models it serves."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import InvalidInput

__all__ = ["ServeOptions"]


@dataclass(frozen=True)
class ServeOptions:
    """Server-wide settings of ``loopml serve`` (per-model batching is in ServedSpec).

    - ``poll_interval_s``: how often a model following an alias/stage checks the registry
      (0 turns hot swap off);
    - ``max_body_bytes``: larger request bodies get 413;
    - ``log_predictions`` / ``prediction_log_root``: the Parquet prediction log, by default
      under the artifact root (``<artifact root>/predictions``);
    - ``probabilities``: answer class probabilities with every prediction, not only when a
      request asks (``"probabilities": true``);
    - ``load_before_serving``: load the models before the server accepts connections (each
      worker of ``--workers N`` does, so the shared socket only reaches ready workers); by
      default they load in the background and ``/health`` answers meanwhile;
    - ``pause_gc_while_loading``: Python's cyclic garbage collector stays off until the models
      are loaded, then what exists is frozen (``gc.freeze``: never scanned again) and the
      collector is back on. Loading a model imports its library (scikit-learn brings scipy and
      pandas: a few hundred thousand objects), and the full collections that triggers cost
      about a third of a second of start-up; frozen, those objects no longer slow the
      collections made while serving. ``loopml serve`` turns it on (and the collector off
      before it imports anything of its own).
    """

    poll_interval_s: float = 2.0
    max_body_bytes: int = 10 * 1024 * 1024
    log_predictions: bool = True
    prediction_log_root: str | None = None
    probabilities: bool = False
    load_before_serving: bool = False
    pause_gc_while_loading: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.poll_interval_s, int | float) or self.poll_interval_s < 0:
            raise InvalidInput(
                f"poll_interval_s must be a number >= 0, got {self.poll_interval_s!r}",
                poll_interval_s=repr(self.poll_interval_s),
            )
        if not isinstance(self.max_body_bytes, int) or self.max_body_bytes < 1:
            raise InvalidInput(
                f"max_body_bytes must be a positive integer, got {self.max_body_bytes!r}",
                max_body_bytes=repr(self.max_body_bytes),
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
      default they load in the background and ``/health`` answers meanwhile.
    """

    poll_interval_s: float = 2.0
    max_body_bytes: int = 10 * 1024 * 1024
    log_predictions: bool = True
    prediction_log_root: str | None = None
    probabilities: bool = False
    load_before_serving: bool = False

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

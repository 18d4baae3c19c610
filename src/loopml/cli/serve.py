"""``loopml serve URI [URI ...]``: models behind a REST API (FastAPI on uvicorn).

Each URI is ``models:/name@alias``, ``models:/name/Stage``, ``models:/name/3``, ``runs:/id/path``
or a path, optionally prefixed ``NAME=`` to choose the name it answers to. A model following an
alias or a stage is swapped for the new version when the registry moves it, without a restart.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING

import click

from . import CliState
from .server import GRACEFUL_SHUTDOWN_S, KEEP_ALIVE_S

if TYPE_CHECKING:
    from ..serving.served_model import ServedSpec

__all__ = ["serve"]


@click.command()
@click.argument("uris", nargs=-1, required=True, metavar="URI...")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, None), help="Processes.")
@click.option(
    "--max-batch-size",
    default=256,
    show_default=True,
    type=click.IntRange(1, None),
    help="Rows per model call at most (adaptive micro-batching).",
)
@click.option(
    "--max-latency-ms",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0, 60_000),
    help="How long a batch may wait for requests already arriving (a lone request never waits).",
)
@click.option(
    "--batch",
    "batch_overrides",
    multiple=True,
    metavar="NAME=ROWS:MS",
    help="Batching for one model, e.g. --batch churn=128:10 (repeatable).",
)
@click.option(
    "--poll-interval",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0, None),
    help="Seconds between registry checks of models following an alias or stage (0: never).",
)
@click.option(
    "--max-body-bytes",
    default=10 * 1024 * 1024,
    show_default=True,
    type=click.IntRange(1, None),
    help="Larger request bodies get 413.",
)
@click.option(
    "--log-predictions/--no-log-predictions",
    default=True,
    show_default=True,
    help="Append every prediction to Parquet files (see docs/serving.md).",
)
@click.option(
    "--prediction-log",
    metavar="URL",
    default=None,
    help="Where the prediction log goes [default: <artifact root>/predictions].",
)
@click.option("--probabilities", is_flag=True, help="Answer class probabilities with every prediction.")
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request.")
@click.pass_obj
def serve(
    state: CliState,
    uris: tuple[str, ...],
    host: str,
    port: int,
    workers: int,
    max_batch_size: int,
    max_latency_ms: float,
    batch_overrides: tuple[str, ...],
    poll_interval: float,
    max_body_bytes: int,
    log_predictions: bool,
    prediction_log: str | None,
    probabilities: bool,
    access_log: bool,
) -> None:
    """Serve models: POST /predict (or /models/NAME/predict), /invocations (MLflow's protocol),
    GET /health, /ready, /metadata, /metrics. API docs at /docs."""
    import gc

    gc.disable()  # until the models are loaded (ServeOptions.pause_gc_while_loading)
    from ..serving.app import CONFIG_ENV, config_json, create_scoring_app
    from ..serving.options import ServeOptions
    from ..serving.served_model import parse_spec

    specs = [parse_spec(u, max_batch_size=max_batch_size, max_latency_ms=max_latency_ms) for u in uris]
    specs = _with_overrides(specs, batch_overrides)
    options = ServeOptions(
        poll_interval_s=poll_interval,
        max_body_bytes=max_body_bytes,
        log_predictions=log_predictions,
        prediction_log_root=prediction_log,
        probabilities=probabilities,
        pause_gc_while_loading=True,
    )
    if state.tracking_uri:
        os.environ["LOOPML_TRACKING_URI"] = state.tracking_uri
    uvicorn = _uvicorn()
    common = {
        "host": host,
        "port": port,
        "access_log": access_log,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "log_level": "info",
    }
    if workers == 1:
        uvicorn.run(create_scoring_app(specs, options), **common)
        return
    os.environ[CONFIG_ENV] = config_json(specs, options)
    gc.enable()  # this process only supervises; each worker pauses its own (app_from_env)
    uvicorn.run("loopml.serving.app:app_from_env", factory=True, workers=workers, **common)


def _with_overrides(specs: list[ServedSpec], overrides: tuple[str, ...]) -> list[ServedSpec]:
    from dataclasses import replace

    from ..errors import InvalidInput

    by_name = {spec.name: spec for spec in specs}
    for text in overrides:
        name, eq, value = text.partition("=")
        rows, colon, ms = value.partition(":")
        if not eq or not colon or name not in by_name:
            raise InvalidInput(
                f"invalid --batch {text!r}: use NAME=ROWS:MS with NAME one of {', '.join(by_name)}",
                batch=text,
            )
        try:
            by_name[name] = replace(by_name[name], max_batch_size=int(rows), max_latency_ms=float(ms))
        except ValueError:
            raise InvalidInput(f"invalid --batch {text!r}: ROWS and MS must be numbers", batch=text) from None
    return [by_name[spec.name] for spec in specs]


def _uvicorn() -> ModuleType:
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as exc:
        from ..errors import MissingExtra

        raise MissingExtra("serving", module=exc.name or "uvicorn") from None
    return uvicorn

"""The demo's deployment stage: serve the champion, promote a new version, batch-score a file.

After the training flow has registered and aliased the winner (:mod:`loopml.demo`), this stage

1. serves ``models:/<name>@champion`` with the scoring app (real HTTP on 127.0.0.1, in a thread)
   and sends it a few validation rows;
2. retrains the winner on all the data, registers it as a new version, promotes it to Production
   and moves the alias to it; the server notices and swaps the model without a restart;
3. batch-scores the validation rows written to a CSV file (``score_batch``) into Parquet;
4. stops the server, which flushes the prediction log (Parquet files under the demo's home).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from . import Client
    from .demo import DemoData, Publication
    from .entities import Run
    from .serving.batch import BatchResult

__all__ = ["Deployment", "deploy"]

SAMPLE_ROWS = 3
SWAP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Deployment:
    """What the deployment stage saw: the answers before and after the promotion, the batch."""

    url: str
    before: tuple[dict[str, Any], ...]
    after: tuple[dict[str, Any], ...]
    promoted_version: int
    swap_seconds: float
    batch: BatchResult
    prediction_log: Path
    logged_files: int


def deploy(
    client: Client, best: Run, published: Publication, data: DemoData, home: Path, console: Console
) -> Deployment:
    """Run the stage (see the module doc); the fluent API must point at the demo's store."""
    import httpx

    from .demo import CHAMPION
    from .serving.background import serve_in_thread
    from .serving.options import ServeOptions

    uri = f"models:/{published.name}@{CHAMPION}"
    log_root = home / "predictions"
    options = ServeOptions(poll_interval_s=0.2, prediction_log_root=log_root.as_posix())
    console.print(f"\n[bold]Serving[/] {uri} (loopml serve, in this process)")
    with serve_in_thread([uri], options) as url, httpx.Client(base_url=url, timeout=30) as http:
        body = {"columns": list(data.feature_names), "data": data.x_val[:SAMPLE_ROWS].tolist()}
        before = tuple(_ask(http, body) for _ in range(2))
        _print_answer(console, before[-1], data)
        version = retrain_and_register(client, best, data, published.name)
        promote(client, published.name, version)
        console.print(
            f"  registered version {version} (retrained on all the data), promoted it to Production"
            f" and moved alias {CHAMPION}; the server follows the alias:"
        )
        started = time.perf_counter()
        after = _until_version(http, body, str(version))
        swapped = time.perf_counter() - started
        console.print(f"  switched to version {version} after {swapped:.2f}s, without a restart")
        _print_answer(console, after[-1], data)
    logged = sorted(log_root.rglob("*.parquet"))
    console.print(f"  prediction log: {len(logged)} Parquet file(s) under {log_root}", markup=False)
    batch = batch_score(uri, data, home, console)
    return Deployment(url, before, after, version, swapped, batch, log_root, len(logged))


def retrain_and_register(client: Client, best: Run, data: DemoData, name: str) -> int:
    """The winner's model refit on train + validation, logged in a new run and registered."""
    import numpy as np
    from sklearn.base import clone

    import loopml

    model = loopml.load_model(f"runs:/{best.info.run_id}/model").unwrap()
    x = np.vstack([data.x_train, data.x_val])
    y = np.concatenate([data.y_train, data.y_val])
    refit = clone(model).fit(data.frame(x), y)
    with loopml.start_run(run_name=f"{best.info.run_name}-all-data"):
        loopml.set_tag("retrained_from", best.info.run_id)
        info = loopml.log_model(
            refit,
            "model",
            input_example=data.frame(x[:5]),
            registered_model_name=name,
            training_data=data.frame(x),
        )
    registered = info.registered_model_version
    assert registered is not None
    return int(registered.version)


def promote(client: Client, name: str, version: int) -> None:
    """``version`` takes Production (the others there are archived) and the champion alias."""
    from .demo import CHAMPION

    why = "retrained on all the data"
    client.transition_model_version_stage(
        name, version, "Production", archive_existing_versions=True, comment=why
    )
    client.set_registered_model_alias(name, CHAMPION, version, comment=why)


def batch_score(uri: str, data: DemoData, home: Path, console: Console) -> BatchResult:
    """Write the validation rows to CSV with an id column and score them into Parquet."""
    from .serving.batch import score_batch

    folder = home / "batch"
    folder.mkdir(parents=True, exist_ok=True)
    frame = data.frame(data.x_val)
    frame.insert(0, "id", range(len(frame)))
    source = folder / "to-score.csv"
    frame.to_csv(source, index=False)
    result = score_batch(uri, source, folder / "scored.parquet", id_column="id", overwrite=True)
    console.print(
        f"\n[bold]Batch scoring[/] {result.rows_scored} rows of {source.name} with {uri} "
        f"(version {result.model_version}) -> {result.output} in {result.seconds:.2f}s"
    )
    return result


def _ask(http: Any, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post("/predict", json=body)
    answer.raise_for_status()
    doc: dict[str, Any] = answer.json()
    return doc


def _until_version(http: Any, body: dict[str, Any], version: str) -> tuple[dict[str, Any], ...]:
    """Ask until the answers come from ``version``; every answer on the way must succeed."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + SWAP_TIMEOUT_S
    while not seen or seen[-1]["model"]["version"] != version:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server still answers with version {seen[-1]['model']['version']}")
        seen.append(_ask(http, body))
        time.sleep(0.02)
    return tuple(seen)


def _print_answer(console: Console, answer: dict[str, Any], data: DemoData) -> None:
    labels = [data.target_names[int(p)] for p in answer["predictions"]]
    model = answer["model"]
    console.print(
        f"  POST /predict ({SAMPLE_ROWS} rows) -> {labels} from {model['name']} version {model['version']}",
        markup=False,
    )

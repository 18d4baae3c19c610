"""The loopml demo: train a few scikit-learn models, track every one, rank them.

``loopml demo`` (and ``make demo``) runs :func:`run_demo`. Everything goes to an explicit
home, ``./.loopml-demo`` by default: the database ``<home>/loopml.db`` and the artifacts
``<home>/artifacts``; the user's own ``~/.loopml`` is never touched.

The training is a flow (:func:`training_flow`) whose tasks are the stages; later stages
(serving, drift) slot in after publishing:

1. :func:`open_demo_store` - the store and the experiment
2. :func:`load_bunch`, :func:`split` - scikit-learn's bundled breast-cancer data, train/validation
3. :func:`train_one` - one tracked run per candidate model, the candidates as concurrent tasks
4. :func:`rank_runs` - the runs of this demo ordered by accuracy, read back through search
5. :func:`publish_best` - register the winner, Staging -> Production, alias, load it back, predict
6. :func:`report` - a markdown report kept with the flow run, then :func:`print_training`
7. :func:`loopml.demo_deployment.deploy` - serve the champion over HTTP, promote a retrained
   version (the server swaps it without a restart), batch-score a file
8. :func:`loopml.demo_monitoring.watch` - three days of traffic with a shifted last day, the
   drift monitor, its monitoring run, drift.detected event and HTML report
9. :func:`loopml.demo_ui.tour` - the web UI over the demo's store: the pages of :func:`ui_checks`
   opened and checked
10. :func:`print_next_steps` - where the data lives, what to try next
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from rich.console import Console

    from . import Client
    from .demo_deployment import Deployment
    from .demo_ui import PageCheck, UiPage
    from .entities import Run
    from .monitoring.monitors import MonitorResult

__all__ = ["DEFAULT_HOME", "EXPERIMENT_NAME", "DemoResult", "run_demo"]

DEFAULT_HOME = Path(".loopml-demo")
EXPERIMENT_NAME = "loopml-demo"
MODEL_NAME = "loopml-demo-classifier"
CHAMPION = "champion"
BATCH_TAG = "demo_batch"
CV_FOLDS = 5
SEED = 42
_FLUENT_VARIABLES = ("LOOPML_TRACKING_URI", "LOOPML_EXPERIMENT_ID", "LOOPML_EXPERIMENT_NAME")


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote, and its runs ranked best first (``ranking[0]`` is the winner)."""

    home: Path
    tracking_uri: str
    artifact_root: str
    experiment_id: str
    batch: str
    ranking: tuple[Run, ...]
    published: Publication | None = None
    flow_run_id: str | None = None
    task_runs: int = 0
    deployment: Deployment | None = None
    monitoring: MonitorResult | None = None
    ui_pages: tuple[UiPage, ...] = ()

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(run.info.run_id for run in self.ranking)

    @property
    def db_path(self) -> Path:
        return self.home / "loopml.db"


@dataclass(frozen=True)
class Publication:
    """The registered winner: its version, the URI it was loaded back by, and what it predicted."""

    name: str
    version: int
    uri: str
    predictions: tuple[Any, ...]
    truth: tuple[Any, ...]
    history: tuple[str, ...]


@dataclass(frozen=True)
class DemoData:
    """A train/validation split of one bundled dataset."""

    name: str
    x_train: np.ndarray
    x_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]

    def frame(self, rows: np.ndarray) -> pd.DataFrame:
        """Rows as the DataFrame a user would send the model: one named column per feature."""
        import pandas as pd

        return pd.DataFrame(rows, columns=list(self.feature_names))


@dataclass(frozen=True)
class Candidate:
    """A model to try: its run name, family tag, the hyperparameters it logs, and a factory."""

    name: str
    family: str
    params: dict[str, Any]
    build: Callable[[], Any] = field(repr=False)


def run_demo(home: Path | str | None = None, *, console: Console | None = None) -> DemoResult:
    """Run the demo's training flow into ``home`` (default ``./.loopml-demo``) and print a summary."""
    from rich.console import Console

    from .demo_deployment import deploy
    from .demo_monitoring import watch
    from .demo_ui import tour

    console = console if console is not None else Console(highlight=False)
    home = Path(home if home is not None else DEFAULT_HOME).resolve()
    started = time.perf_counter()
    client, experiment_id = open_demo_store(home)
    try:
        batch = uuid.uuid4().hex[:12]
        training = training_flow(client, experiment_id, console).with_options(
            result_storage=(home / "results").as_posix()
        )
        with fluent_store(client.tracking_uri, experiment_id):
            state = training(batch, return_state=True)
            ranking, published = state.result()
            print_training(ranking, published, console)
            data = load_dataset()
            deployment = deploy(client, ranking[0], published, data, home, console)
            monitoring = watch(f"models:/{published.name}@{CHAMPION}", data, home, console)
        ui_pages = tour(client, ui_checks(experiment_id, ranking[0], state.flow_run_id), console)
        result = DemoResult(
            home=home,
            tracking_uri=client.tracking_uri,
            artifact_root=client.artifact_root,
            experiment_id=experiment_id,
            batch=batch,
            ranking=tuple(ranking),
            published=published,
            flow_run_id=state.flow_run_id,
            task_runs=len(client.get_task_runs(state.flow_run_id or "")),
            deployment=deployment,
            monitoring=monitoring,
            ui_pages=ui_pages,
        )
    finally:
        client.close()
    print_next_steps(result, console, elapsed=time.perf_counter() - started)
    return result


def ui_checks(experiment_id: str, best: Run, flow_run_id: str | None) -> list[PageCheck]:
    """The UI pages the demo opens, each with a text it must show."""
    from .demo_ui import PageCheck

    checks = [
        PageCheck("experiments", "/ui/experiments", EXPERIMENT_NAME),
        PageCheck("runs table", f"/ui/experiments/{experiment_id}", best.info.run_name),
        PageCheck("the best run", f"/ui/runs/{best.info.run_id}", "roc_auc"),
        PageCheck("registered model", f"/ui/models/{MODEL_NAME}", CHAMPION),
        PageCheck("drift over time", f"/ui/monitoring/{MODEL_NAME}", "drift"),
    ]
    if flow_run_id:
        checks.append(PageCheck("training flow run", f"/ui/flows/{flow_run_id}", "loopml-demo-training"))
    return checks


def training_flow(client: Client, experiment_id: str, console: Console) -> Any:
    """The demo as a flow: load data -> split -> candidate models trained as concurrent tasks
    -> pick the best -> register and promote it -> a markdown report kept with the flow run."""
    from .orchestration.flow import flow
    from .orchestration.futures import as_completed
    from .orchestration.run_artifacts import create_markdown_artifact
    from .orchestration.runners import ThreadPoolTaskRunner
    from .orchestration.task import task

    load = task(load_bunch, name="load-data")
    split_task = task(split, name="split")
    train = task(train_one, name="train", task_run_name="train-{candidate.name}")
    pick = task(rank_runs, name="pick-best")
    publish = task(publish_best, name="register-and-promote")

    @flow(name="loopml-demo-training", task_runner=ThreadPoolTaskRunner(max_workers=3))
    def training(batch: str) -> tuple[list[Run], Publication]:
        data = split_task(load())
        candidates = candidate_models()
        console.print(
            f"[bold]loopml demo[/] - {len(candidates)} models on the {data.name} dataset, as a flow"
        )
        futures = {train.submit(c, data, batch): c for c in candidates}
        for future in as_completed(futures):
            run_id, accuracy, seconds = future.result()
            console.print(
                f"  trained [bold]{futures[future].name:<18}[/] accuracy {accuracy:.4f}"
                f"  [dim]({seconds:.1f}s, run {run_id})[/]"
            )
        ranking = pick(client, experiment_id, batch)
        published = publish(client, experiment_id, ranking[0], data)
        create_markdown_artifact(
            report(ranking, published), key="demo-report", description="the demo's ranking"
        )
        return ranking, published

    return training


def report(ranking: Sequence[Run], published: Publication) -> str:
    """The flow's markdown report: the ranking and what was promoted."""
    lines = ["# loopml demo", "", "| rank | run | accuracy | roc_auc |", "| --- | --- | --- | --- |"]
    for rank, run in enumerate(ranking, start=1):
        m = run.metrics
        lines.append(
            f"| {rank} | {run.info.run_name} | {m.get('accuracy', 0.0):.4f} | {m.get('roc_auc', 0.0):.4f} |"
        )
    lines += [
        "",
        f"Promoted **{published.name}** version {published.version} to Production as `{published.uri}`.",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ 1. the store


def open_demo_store(home: Path) -> tuple[Client, str]:
    """A Client on ``<home>/loopml.db`` and ``<home>/artifacts``, and the demo experiment's id."""
    from . import Client

    home.mkdir(parents=True, exist_ok=True)
    client = Client(
        tracking_uri=f"sqlite:///{(home / 'loopml.db').as_posix()}",
        artifact_root=(home / "artifacts").as_posix(),
    )
    existing = client.get_experiment_by_name(EXPERIMENT_NAME)
    if existing is not None:
        return client, existing.experiment_id
    experiment_id = client.create_experiment(
        EXPERIMENT_NAME, tags={"description": "scikit-learn classifiers trained by `loopml demo`"}
    )
    return client, experiment_id


# ---------------------------------------------------------------------------------- 2. the data


def load_dataset(seed: int = SEED) -> DemoData:
    """scikit-learn's bundled breast-cancer data (569 samples, 30 features), 75/25 stratified."""
    return split(load_bunch(), seed)


def load_bunch() -> Any:
    """scikit-learn's bundled breast-cancer data."""
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer()


def split(bunch: Any, seed: int = SEED) -> DemoData:
    """A 75/25 stratified train/validation split."""
    from sklearn.model_selection import train_test_split

    x_train, x_val, y_train, y_val = train_test_split(
        bunch.data, bunch.target, test_size=0.25, stratify=bunch.target, random_state=seed
    )
    return DemoData(
        name="breast_cancer",
        x_train=x_train,
        x_val=x_val,
        y_train=y_train,
        y_val=y_val,
        feature_names=tuple(str(n) for n in bunch.feature_names),
        target_names=tuple(str(n) for n in bunch.target_names),
    )


# -------------------------------------------------------------------------------- 3. the models


def candidate_models(seed: int = SEED) -> list[Candidate]:
    """The models the demo compares; every factory returns a fresh, unfitted estimator."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def logreg(c: float) -> Candidate:
        return Candidate(
            f"logreg-C{c:g}",
            "linear",
            {"model": "LogisticRegression", "C": c, "max_iter": 5000, "scaled": True},
            lambda: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000)),
        )

    return [
        logreg(0.1),
        logreg(10.0),
        Candidate(
            "random-forest",
            "ensemble",
            {"model": "RandomForestClassifier", "n_estimators": 50, "max_depth": 8},
            lambda: RandomForestClassifier(n_estimators=50, max_depth=8, random_state=seed),
        ),
        Candidate(
            "gradient-boosting",
            "ensemble",
            {
                "model": "GradientBoostingClassifier",
                "n_estimators": 100,
                "learning_rate": 0.1,
                "max_depth": 2,
            },
            lambda: GradientBoostingClassifier(
                n_estimators=100, learning_rate=0.1, max_depth=2, random_state=seed
            ),
        ),
        Candidate(
            "knn",
            "neighbors",
            {"model": "KNeighborsClassifier", "n_neighbors": 7, "scaled": True},
            lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=7)),
        ),
    ]


@contextlib.contextmanager
def fluent_store(tracking_uri: str, experiment_id: str) -> Iterator[None]:
    """Point the fluent API at the demo's store and experiment, then give the caller its own back.

    ``loopml.set_tracking_uri`` and ``set_experiment`` are process-wide (``LOOPML_*`` variables):
    a demo run from a notebook or a test must not leave them pointing at the demo.
    """
    import loopml

    saved = {var: os.environ.get(var) for var in _FLUENT_VARIABLES}
    try:
        loopml.set_tracking_uri(tracking_uri)
        loopml.set_experiment(experiment_id=experiment_id)
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def train_one(candidate: Candidate, data: DemoData, batch: str) -> tuple[str, float, float]:
    """Cross-validate, fit, evaluate and record one candidate in its own run:
    (run id, validation accuracy, seconds it took)."""
    import loopml

    began = time.perf_counter()
    tags = {"model_family": candidate.family, "dataset": data.name, BATCH_TAG: batch}
    with loopml.start_run(run_name=candidate.name, tags=tags) as run:
        loopml.log_params({**candidate.params, "cv_folds": CV_FOLDS, "val_size": len(data.y_val)})
        loopml.log_input(data.frame(data.x_train), context="training", name=f"{data.name}-train")
        loopml.log_input(data.frame(data.x_val), context="validation", name=f"{data.name}-validation")
        log_cross_validation(candidate, data)
        started = time.perf_counter()
        estimator = candidate.build().fit(data.x_train, data.y_train)
        loopml.log_metric("fit_seconds", time.perf_counter() - started)
        log_training_curve(estimator, data)
        metrics = evaluate(estimator, data)
        loopml.log_metrics(metrics)
        log_artifacts(candidate, estimator, data, metrics)
        loopml.log_model(estimator, "model", input_example=data.frame(data.x_val[:5]))
        return run.info.run_id, metrics["accuracy"], time.perf_counter() - began


def log_cross_validation(candidate: Candidate, data: DemoData) -> None:
    """5-fold stratified CV on the training split: ``fold_accuracy`` at steps 0-4, then mean and std."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    import loopml

    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=SEED)
    scores = cross_val_score(candidate.build(), data.x_train, data.y_train, cv=folds, scoring="accuracy")
    for fold, score in enumerate(scores):
        loopml.log_metric("fold_accuracy", float(score), step=fold)
    loopml.log_metrics({"cv_accuracy_mean": float(np.mean(scores)), "cv_accuracy_std": float(np.std(scores))})


def log_training_curve(estimator: Any, data: DemoData) -> None:
    """For models fitted in stages (gradient boosting): ``val_accuracy`` after each stage."""
    import numpy as np

    import loopml

    staged = getattr(estimator, "staged_predict", None)
    if staged is None:
        return
    for stage, predicted in enumerate(staged(data.x_val), start=1):
        loopml.log_metric("val_accuracy", float(np.mean(predicted == data.y_val)), step=stage)


def evaluate(estimator: Any, data: DemoData) -> dict[str, float]:
    """``accuracy``, ``f1`` and ``roc_auc`` on the validation split."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    predicted = estimator.predict(data.x_val)
    scores = estimator.predict_proba(data.x_val)[:, 1]
    return {
        "accuracy": float(accuracy_score(data.y_val, predicted)),
        "f1": float(f1_score(data.y_val, predicted)),
        "roc_auc": float(roc_auc_score(data.y_val, scores)),
    }


def log_artifacts(candidate: Candidate, estimator: Any, data: DemoData, metrics: dict[str, float]) -> None:
    """``config.json``, ``classification_report.txt`` and, with matplotlib, ``confusion_matrix.png``."""
    from sklearn.metrics import classification_report, confusion_matrix

    import loopml

    predicted = estimator.predict(data.x_val)
    config = {
        "run_name": candidate.name,
        "params": candidate.params,
        "estimator": _json_safe(estimator.get_params(deep=False)),
        "dataset": {
            "name": data.name,
            "n_train": len(data.y_train),
            "n_val": len(data.y_val),
            "n_features": len(data.feature_names),
            "classes": list(data.target_names),
        },
        "metrics": metrics,
    }
    loopml.log_dict(config, "config.json")
    report = classification_report(data.y_val, predicted, target_names=list(data.target_names), digits=4)
    loopml.log_text(report, "classification_report.txt")
    matrix = confusion_matrix(data.y_val, predicted)
    figure = confusion_figure(matrix, data.target_names, title=candidate.name)
    if figure is not None:
        loopml.log_figure(figure, "confusion_matrix.png")


def confusion_figure(matrix: Any, labels: Sequence[str], *, title: str) -> Any | None:
    """A confusion-matrix figure drawn on the Agg canvas (no pyplot, no GUI); None without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    figure = Figure(figsize=(4, 3.5), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = matrix.max() / 2
    for (row, col), count in _cells(matrix):
        ax.text(
            col, row, str(count), ha="center", va="center", color="white" if count > threshold else "black"
        )
    figure.tight_layout()
    return figure


def _cells(matrix: Any) -> list[tuple[tuple[int, int], int]]:
    rows, cols = matrix.shape
    return [((r, c), int(matrix[r, c])) for r in range(rows) for c in range(cols)]


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    """Estimator params as JSON: plain values kept, anything else (a pipeline step) as its repr."""
    safe: dict[str, Any] = {}
    for key, value in values.items():
        try:
            json.dumps(value)
            safe[key] = value
        except TypeError:
            safe[key] = repr(value)
    return safe


# ------------------------------------------------------------------------------- 4. the ranking


def rank_runs(client: Client, experiment_id: str, batch: str) -> list[Run]:
    """This demo's runs (earlier demos into the same home are left out), best accuracy first.

    Ties in accuracy (likely on 143 validation samples) go to the better ROC AUC.
    """
    return list(
        client.search_runs(
            [experiment_id],
            filter_string=f"tags.{BATCH_TAG} = '{batch}'",
            order_by=["metrics.accuracy DESC", "metrics.roc_auc DESC"],
        )
    )


# ------------------------------------------------------------------------------- 5. the registry


def publish_best(client: Client, experiment_id: str, best: Run, data: DemoData) -> Publication:
    """Register the winner's model, promote it Staging -> Production, alias it, load it back, predict."""
    import loopml

    description = f"best of a demo batch: {best.info.run_name}"
    source = f"runs:/{best.info.run_id}/model"
    version = client.register_model(source, MODEL_NAME, description=description).version
    client.transition_model_version_stage(MODEL_NAME, version, "Staging", comment="trained and evaluated")
    promoted = "best accuracy of its batch"
    client.transition_model_version_stage(
        MODEL_NAME, version, "Production", archive_existing_versions=True, comment=promoted
    )
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version, comment="serve this one")
    uri = f"models:/{MODEL_NAME}@{CHAMPION}"
    with fluent_store(client.tracking_uri, experiment_id):
        model = loopml.load_model(uri)
    sample = data.frame(data.x_val[:5])
    history = tuple(
        f"{change.action} {change.field or ''} {change.old_value or ''} -> {change.new_value or ''}".strip()
        for change in client.get_model_history(MODEL_NAME)
        if change.version in (None, version)
    )
    return Publication(
        name=MODEL_NAME,
        version=int(version),
        uri=uri,
        predictions=tuple(data.target_names[int(i)] for i in model.predict(sample)),
        truth=tuple(data.target_names[int(i)] for i in data.y_val[:5]),
        history=history,
    )


# ------------------------------------------------------------------------------- 6. the summary


def print_training(ranking: Sequence[Run], published: Publication, console: Console) -> None:
    """The ranking table and what was registered and promoted."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Runs ranked by accuracy", title_justify="left")
    for name in ("rank", "run", "accuracy", "f1", "roc_auc", "cv mean", "run id"):
        table.add_column(name, justify="right" if name not in ("run", "run id") else "left")
    for rank, run in enumerate(ranking, start=1):
        m = run.metrics
        table.add_row(
            str(rank),
            Text(run.info.run_name, style="bold" if rank == 1 else ""),
            *(f"{m.get(k, float('nan')):.4f}" for k in ("accuracy", "f1", "roc_auc", "cv_accuracy_mean")),
            Text(run.info.run_id, style="cyan"),
        )
    console.print()
    console.print(table)
    print_publication(published, console)


def print_publication(published: Publication, console: Console) -> None:
    console.print(
        f"\nRegistered [bold]{published.name}[/] version {published.version} -> Staging -> Production,"
        f" alias [bold]{CHAMPION}[/]; its audit history:"
    )
    for line in published.history:
        console.print(f"  {line}", markup=False)
    console.print(f"Loaded {published.uri} and predicted 5 validation rows:", markup=False)
    console.print(f"  predicted {list(published.predictions)}", markup=False)
    console.print(f"  actual    {list(published.truth)}", markup=False)


def print_next_steps(result: DemoResult, console: Console, *, elapsed: float) -> None:
    uri = result.tracking_uri
    best = result.ranking[0].info.run_id if result.ranking else "RUN_ID"
    console.print(f"\nDone in {elapsed:.1f}s. The data lives in [bold]{result.home}[/]:")
    console.print(f"  database   {result.db_path}  ({uri})", markup=False)
    console.print(f"  artifacts  {result.artifact_root}", markup=False)
    if result.flow_run_id:
        console.print(
            f"  flow run   {result.flow_run_id}  ({result.task_runs} task runs, report 'demo-report')",
            markup=False,
        )
    console.print("\nTry next:")
    quoted = shlex.quote(uri)
    for command in (
        f'loopml runs list --tracking-uri {quoted} --order-by "metrics.accuracy DESC"',
        f'loopml runs list --tracking-uri {quoted} --filter "metrics.roc_auc > 0.99" --json',
        f"loopml runs show --tracking-uri {quoted} {best}",
        f"loopml experiments list --tracking-uri {quoted}",
        f"loopml models history {MODEL_NAME} --tracking-uri {quoted}",
        f"loopml --tracking-uri {quoted} serve models:/{MODEL_NAME}@{CHAMPION} --port 8000",
        f"loopml ui --tracking-uri {quoted}   # then open http://127.0.0.1:5000/",
        f"loopml monitor models:/{MODEL_NAME}@{CHAMPION} --tracking-uri {quoted} --since 3d --window 1d"
        f" --prediction-log {shlex.quote((result.home / 'predictions').as_posix())}",
        *(
            [f"loopml flows runs show --tracking-uri {quoted} {result.flow_run_id}"]
            if result.flow_run_id
            else []
        ),
    ):
        console.print(f"  {command}", markup=False, soft_wrap=True)

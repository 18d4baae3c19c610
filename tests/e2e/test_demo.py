"""The demo, end to end: it trains, tracks, ranks and tells the user where everything went."""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from rich.console import Console

from loopml import Client
from loopml.cli.main import cli
from loopml.demo import CHAMPION, CV_FOLDS, EXPERIMENT_NAME, MODEL_NAME, DemoResult, run_demo
from loopml.serving.prediction_log import read_predictions

pytestmark = pytest.mark.slow

MODELS = {"logreg-C0.1", "logreg-C10", "random-forest", "gradient-boosting", "knn"}


@dataclass(frozen=True)
class Demo:
    result: DemoResult
    output: str
    configured_home: Path  # LOOPML_HOME while the demo ran: it must stay empty


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """One demo shared by the tests of this module (it takes a few seconds).

    The configured store (LOOPML_HOME, LOOPML_TRACKING_URI) points elsewhere while it runs.
    """
    configured = tmp_path_factory.mktemp("configured-home")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for var in [v for v in os.environ if v.startswith("LOOPML_")]:
            mp.delenv(var)
        mp.setenv("LOOPML_HOME", str(configured))
        mp.setenv("LOOPML_TRACKING_URI", f"sqlite:///{(configured / 'configured.db').as_posix()}")
        home = tmp_path_factory.mktemp("demo") / "home"
        result = run_demo(home, console=Console(file=out, width=250))
    return Demo(result, out.getvalue(), configured)


def test_demo_writes_to_its_home_only(demo: Demo) -> None:
    result = demo.result
    assert result.home.name == "home"
    assert result.tracking_uri == f"sqlite:///{(result.home / 'loopml.db').as_posix()}"
    assert result.db_path.is_file()
    assert Path(result.artifact_root) == result.home / "artifacts"
    assert Path(result.artifact_root).is_dir()
    assert list(demo.configured_home.iterdir()) == []


def test_demo_tracks_one_finished_run_per_model(demo: Demo) -> None:
    result = demo.result
    client = Client(tracking_uri=result.tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    assert experiment is not None
    assert experiment.experiment_id == result.experiment_id
    every = client.search_runs([result.experiment_id])
    retrained = [r for r in every if "retrained_from" in r.tags]
    runs = [r for r in every if "retrained_from" not in r.tags]
    assert [r.tags["retrained_from"] for r in retrained] == [result.ranking[0].info.run_id]
    assert {r.info.run_name for r in runs} == MODELS
    for run in runs:
        assert run.info.status == "FINISHED"
        assert run.tags["dataset"] == "breast_cancer"
        assert run.tags["model_family"] in {"linear", "ensemble", "neighbors"}
        assert run.params["cv_folds"] == str(CV_FOLDS)
        for key in ("accuracy", "f1", "roc_auc", "cv_accuracy_mean"):
            assert 0.85 < run.metrics[key] <= 1.0, (run.info.run_name, key)
    params = {r.info.run_name: r.params for r in runs}
    assert params["logreg-C0.1"]["C"] == "0.1"
    assert params["logreg-C10"]["C"] == "10.0"
    assert params["random-forest"]["model"] == "RandomForestClassifier"
    client.close()


def test_demo_logs_fold_and_stage_histories(demo: Demo) -> None:
    result = demo.result
    client = Client(tracking_uri=result.tracking_uri)
    by_name = {r.info.run_name: r for r in result.ranking}
    for run in result.ranking:
        folds = client.get_metric_history(run.info.run_id, "fold_accuracy")
        assert folds.steps == list(range(CV_FOLDS))
        assert all(0.8 < v <= 1.0 for v in folds.values)
        mean = sum(folds.values) / CV_FOLDS
        assert run.metrics["cv_accuracy_mean"] == pytest.approx(mean)
    boosted = client.get_metric_history(by_name["gradient-boosting"].info.run_id, "val_accuracy")
    assert boosted.steps == list(range(1, 101))
    assert boosted.values[-1] == pytest.approx(by_name["gradient-boosting"].metrics["accuracy"])
    assert len(client.get_metric_history(by_name["knn"].info.run_id, "val_accuracy")) == 0
    client.close()


def test_demo_logs_artifacts(demo: Demo) -> None:
    result = demo.result
    client = Client(tracking_uri=result.tracking_uri)
    for run in result.ranking:
        listed = {f.path: f for f in client.list_artifacts(run.info.run_id)}
        assert set(listed) == {"config.json", "classification_report.txt", "confusion_matrix.png", "model"}
        assert listed["model"].is_dir
        root = Path(run.info.artifact_uri)
        assert root.is_relative_to(Path(result.artifact_root))
        config = json.loads((root / "config.json").read_text())
        assert config["run_name"] == run.info.run_name
        assert config["dataset"]["n_features"] == 30
        assert config["metrics"]["accuracy"] == pytest.approx(run.metrics["accuracy"])
        report = (root / "classification_report.txt").read_text()
        assert "malignant" in report
        assert "benign" in report
        png = (root / "confusion_matrix.png").read_bytes()
        assert png.startswith(b"\x89PNG")
        assert listed["confusion_matrix.png"].file_size == len(png)
    client.close()


def test_demo_ranks_by_accuracy_and_prints_next_steps(demo: Demo) -> None:
    result, out = demo.result, demo.output
    accuracies = [r.metrics["accuracy"] for r in result.ranking]
    assert accuracies == sorted(accuracies, reverse=True)
    assert len(result.ranking) == len(MODELS)
    table = out[out.index("Runs ranked by accuracy") :]
    names = [r.info.run_name for r in result.ranking]
    assert sorted(names, key=table.index) == names
    assert f"{accuracies[0]:.4f}" in table
    assert str(result.db_path) in out
    assert result.artifact_root in out
    assert f'loopml runs list --tracking-uri {result.tracking_uri} --order-by "metrics.accuracy DESC"' in out


def test_demo_registers_promotes_and_loads_the_winner(demo: Demo) -> None:
    result, published = demo.result, demo.result.published
    assert published is not None
    assert (published.name, published.version) == (MODEL_NAME, 1)
    client = Client(tracking_uri=result.tracking_uri)
    version = client.get_model_version(MODEL_NAME, 1)
    actions = [change.action for change in client.get_model_history(MODEL_NAME)]
    lineage = client.get_model_version_datasets(MODEL_NAME, version.version)
    client.close()
    assert [(i.context, i.dataset.name) for i in lineage] == [
        ("training", "breast_cancer-train"),
        ("validation", "breast_cancer-validation"),
    ]
    assert version.version == 1
    assert version.current_stage == "Archived"  # by the deployment stage's retrained version 2
    assert version.run_id == result.ranking[0].info.run_id
    # v1: None -> Staging -> Production -> Archived; v2: None -> Production
    assert actions.count("model_version.stage_transitioned") == 4
    assert "model_alias.set" in actions
    assert len(published.predictions) == 5
    assert set(published.predictions) <= {"malignant", "benign"}
    assert sum(p == t for p, t in zip(published.predictions, published.truth, strict=True)) >= 4
    assert f"Loaded {published.uri} and predicted 5 validation rows" in demo.output


def test_loopml_demo_command_reuses_the_home(demo: Demo) -> None:
    """A second demo into the same home adds five runs and ranks only those."""
    result = demo.result
    cli_result = CliRunner().invoke(cli, ["demo", "--home", str(result.home)], catch_exceptions=False)
    assert cli_result.exit_code == 0
    ranking = cli_result.stdout[
        cli_result.stdout.index("Runs ranked by accuracy") : cli_result.stdout.index("Registered")
    ]
    ranked_ids = re.findall(r"\b[0-9a-f]{32}\b", ranking)
    assert len(ranked_ids) == len(MODELS)
    client = Client(tracking_uri=result.tracking_uri)
    all_ids = {r.info.run_id for r in client.search_runs([result.experiment_id])}
    client.close()
    assert len(all_ids) == 2 * (len(MODELS) + 1)  # each demo: its candidates and one retrained run
    client = Client(tracking_uri=result.tracking_uri)
    retrained = {
        r.info.run_id for r in client.search_runs([result.experiment_id]) if "retrained_from" in r.tags
    }
    assert set(ranked_ids) == all_ids - set(result.run_ids) - retrained
    # the new winner is version 3 and its retrained model version 4, which ends with Production
    # and the alias; every earlier version is archived
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    earlier = [client.get_model_version(MODEL_NAME, v).current_stage for v in (1, 2, 3)]
    client.close()
    assert (champion.version, champion.current_stage) == (4, "Production")
    assert earlier == ["Archived"] * 3


def test_demo_serves_the_champion_swaps_it_and_batch_scores(demo: Demo) -> None:
    deployment = demo.result.deployment
    assert deployment is not None
    assert {a["model"]["version"] for a in deployment.before} == {"1"}
    assert deployment.after[-1]["model"]["version"] == str(deployment.promoted_version) == "2"
    assert all(len(a["predictions"]) == 3 for a in (*deployment.before, *deployment.after))
    assert deployment.logged_files >= 1
    answers = {a["request_id"]: a["model"]["version"] for a in (*deployment.before, *deployment.after)}
    logged = read_predictions(deployment.prediction_log.as_posix())
    ours = logged[logged["loopml_request_id"].isin(answers)]  # a later test's demo logs here too
    assert len(ours) == 3 * len(answers)
    assert dict(zip(ours["loopml_request_id"], ours["loopml_version"], strict=True)) == answers
    batch = deployment.batch
    assert batch.rows_scored == batch.rows_read == 143
    assert batch.model_version == "2"
    scored = pd.read_parquet(batch.output)
    assert list(scored["id"]) == list(range(143))
    assert "switched to version 2" in demo.output
    assert "without a restart" in demo.output
    assert "Batch scoring 143 rows" in demo.output


def test_demo_monitors_three_days_and_finds_the_shifted_one(demo: Demo) -> None:
    monitoring = demo.result.monitoring
    assert monitoring is not None
    days = [w for w in monitoring.windows if w.report is not None]
    assert len(days) == 3
    assert [w.drift_detected for w in days] == [False, False, True]
    assert all(w.rows >= 400 for w in days)
    assert monitoring.event_id is not None and monitoring.version == "2"
    client = Client(tracking_uri=demo.result.tracking_uri)
    event = next(e for e in client.get_events(types=["drift.detected"]) if e.id == monitoring.event_id)
    client.close()
    assert event.subject == f"models:/{MODEL_NAME}/2"
    assert monitoring.report_path is not None
    page = Path(monitoring.report_path).read_text()
    assert "Dataset drift detected" in page
    assert "columns drifted  DRIFT" in demo.output
    assert f"event drift.detected #{monitoring.event_id}" in demo.output


def test_demo_opens_the_web_ui_on_its_store(demo: Demo) -> None:
    pages = demo.result.ui_pages
    paths = [page.check.path for page in pages]
    assert paths[:2] == ["/ui/experiments", f"/ui/experiments/{demo.result.experiment_id}"]
    assert f"/ui/runs/{demo.result.ranking[0].info.run_id}" in paths
    assert f"/ui/models/{MODEL_NAME}" in paths and f"/ui/monitoring/{MODEL_NAME}" in paths
    assert f"/ui/flows/{demo.result.flow_run_id}" in paths
    assert all(page.status == 200 and page.found for page in pages)
    for path in paths:
        assert re.search(rf"200 +\d+ ms .* {re.escape(path)}\n", demo.output)


def test_the_ui_tour_fails_when_a_page_does_not_show_its_data(loopml_store: Client) -> None:
    from loopml.demo_ui import PageCheck, tour
    from loopml.errors import LoopmlError

    loopml_store.create_experiment("tour-check")
    checks = [
        PageCheck("experiments", "/ui/experiments", "tour-check"),
        PageCheck("missing text", "/ui/experiments", "no-such-experiment"),
        PageCheck("unknown run", "/ui/runs/0123456789abcdef", "anything"),
    ]
    out = io.StringIO()
    with pytest.raises(LoopmlError) as raised:
        tour(loopml_store, checks, Console(file=out, width=200))
    message = str(raised.value)
    assert "/ui/experiments (200, no 'no-such-experiment')" in message
    assert "/ui/runs/0123456789abcdef (404" in message
    assert message.count("/ui/experiments") == 1  # the page that showed its text is not named

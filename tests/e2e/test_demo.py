"""The demo, end to end: it trains, tracks, ranks and tells the user where everything went."""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from loopml import Client
from loopml.cli.main import cli
from loopml.demo import CHAMPION, CV_FOLDS, EXPERIMENT_NAME, MODEL_NAME, DemoResult, run_demo

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
    runs = client.search_runs([result.experiment_id])
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
    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    actions = [change.action for change in client.get_model_history(MODEL_NAME)]
    lineage = client.get_model_version_datasets(MODEL_NAME, version.version)
    client.close()
    assert [(i.context, i.dataset.name) for i in lineage] == [
        ("training", "breast_cancer-train"),
        ("validation", "breast_cancer-validation"),
    ]
    assert version.version == 1
    assert version.current_stage == "Production"
    assert version.run_id == result.ranking[0].info.run_id
    assert actions.count("model_version.stage_transitioned") == 2  # None -> Staging -> Production
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
    assert len(all_ids) == 2 * len(MODELS)
    assert set(ranked_ids) == all_ids - set(result.run_ids)
    # the new winner is version 2: it takes Production and the alias; version 1 is archived
    client = Client(tracking_uri=result.tracking_uri)
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    first = client.get_model_version(MODEL_NAME, 1)
    client.close()
    assert (champion.version, champion.current_stage) == (2, "Production")
    assert first.current_stage == "Archived"

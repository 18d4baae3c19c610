from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import loopml
from loopml import Client, InvalidInput, errors
from loopml.settings import load_settings


def test_defaults_live_in_loopml_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    client = Client()
    assert client.tracking_uri == f"sqlite:///{tmp_path / 'home' / 'loopml.db'}"
    assert client.artifact_root == str(tmp_path / "home" / "artifacts")
    assert (tmp_path / "home" / "loopml.db").exists()


def test_environment_is_read_when_the_client_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPML_TRACKING_URI", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setenv("LOOPML_ARTIFACT_ROOT", str(tmp_path / "blobs"))
    first = Client()
    monkeypatch.setenv("LOOPML_TRACKING_URI", f"sqlite:///{tmp_path / 'b.db'}")
    second = Client()
    assert first.tracking_uri.endswith("a.db") and second.tracking_uri.endswith("b.db")
    assert second.artifact_root == str(tmp_path / "blobs")


def test_artifacts_default_beside_an_sqlite_file(tmp_path: Path) -> None:
    client = Client(tracking_uri=f"sqlite:///{tmp_path / 'proj' / 'runs.db'}")
    assert client.artifact_root == str(tmp_path / "proj" / "artifacts")


def test_settings_validate_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPML_SQLITE_BUSY_TIMEOUT_S", "-1")
    with pytest.raises(InvalidInput, match="LOOPML_SQLITE_BUSY_TIMEOUT_S = '-1' is invalid: must be > 0"):
        load_settings()
    monkeypatch.setenv("LOOPML_SQLITE_BUSY_TIMEOUT_S", "soon")
    with pytest.raises(InvalidInput, match="LOOPML_SQLITE_BUSY_TIMEOUT_S = 'soon'"):
        load_settings()
    monkeypatch.setenv("LOOPML_SQLITE_BUSY_TIMEOUT_S", "2.5")
    monkeypatch.setenv("LOOPML_HOME", "~/elsewhere")
    settings = load_settings()
    assert settings.sqlite_busy_timeout_s == 2.5
    assert settings.home == Path("~/elsewhere").expanduser()


@pytest.mark.parametrize("uri", ["mysql://x/y", "nonsense", "ftp://host/db"])
def test_unsupported_tracking_uri(uri: str) -> None:
    with pytest.raises(InvalidInput, match=r"tracking URI|SQL store"):
        Client(tracking_uri=uri)


@pytest.mark.parametrize("module", ["loopml", "loopml.monitoring"])
def test_import_loads_nothing_heavy(module: str) -> None:
    # How long the import takes is measured in benchmarks/bench_tracking.py, not asserted here.
    code = (
        f"import sys, json; import {module};"
        "heavy = [m for m in ('sqlalchemy', 'pandas', 'pydantic', 'numpy', 'fsspec', 'alembic',"
        " 'fastapi', 'starlette', 'uvicorn', 'httpx', 'scipy', 'pyarrow')"
        " if m in sys.modules];"
        "print(json.dumps({'heavy': heavy}))"
    )
    out = json.loads(
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    )
    assert out["heavy"] == []


def test_loopml_imports_each_name_from_its_module_on_first_use() -> None:
    code = (
        "import sys, json, loopml;"
        "before = sorted(m for m in sys.modules if m.startswith('loopml.'));"
        "client = loopml.Client; runtime = loopml.runtime; models = loopml.models;"
        "client_loaded = 'loopml.tracking.client' in sys.modules;"
        "print(json.dumps([before, client_loaded, runtime.__name__, models.__name__]))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    before, client_loaded, runtime, models = json.loads(done.stdout)
    assert before == ["loopml._version"]
    assert client_loaded and runtime == "loopml.runtime" and models == "loopml.models"  # subpackages too
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        loopml.nothing_here  # noqa: B018


def test_every_lazy_name_has_its_import_for_type_checkers() -> None:
    import ast

    tree = ast.parse(Path(loopml.__file__).read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If))  # if TYPE_CHECKING:
    static = {
        alias.asname or alias.name: node.module or alias.name
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    modules = {name for name, where in static.items() if where == name}  # from . import runtime
    assert {name: where for name, where in static.items() if name not in modules} == loopml._WHERE
    assert all(getattr(loopml, name).__name__ == f"loopml.{name}" for name in modules)
    assert set(static) | {"__version__"} == set(loopml.__all__)
    assert set(loopml.__all__) <= set(dir(loopml))


def test_public_api_is_the_documented_one() -> None:
    documented = {
        "Client", "ActiveRun", "Experiment", "Run", "RunInfo", "RunData", "RunStatus", "LifecycleStage",
        "Metric", "MetricHistory", "Param", "RunTag", "FileInfo", "PagedList", "__version__",
        "LoopmlError", "InvalidInput", "InvalidFilter", "NotFound", "AlreadyExists", "Conflict",
        "StoreError", "SchemaOutdated", "MissingExtra", "PermissionDenied", "Unauthenticated",
        "set_tracking_uri", "get_tracking_uri", "set_experiment", "create_experiment", "get_experiment",
        "get_experiment_by_name", "start_run", "active_run", "last_active_run", "end_run", "get_run",
        "log_param", "log_params", "log_metric", "log_metrics", "set_tag", "set_tags", "delete_tag",
        "log_artifact", "log_artifacts", "log_text", "log_dict", "log_figure", "get_artifact_uri",
        "download_artifacts", "search_runs",
        "register_model", "RegisteredModel", "ModelVersion", "ModelStage", "ModelChange", "Event",
        "log_model", "save_model", "load_model", "ModelInfo", "ModelSignature", "infer_signature",
        "log_input", "Dataset", "DatasetInput",
        "flow", "task", "Flow", "Task", "State", "StateType", "FlowRun", "TaskRun", "LogRecord",
        "RunArtifact",
        "TaskFuture", "wait", "as_completed", "unmapped", "exponential_backoff", "cache_policies", "runtime",
        "get_run_logger", "create_markdown_artifact", "create_table_artifact", "create_link_artifact",
        "ThreadPoolTaskRunner", "InlineTaskRunner", "ProcessPoolTaskRunner", "DaskTaskRunner",
        "RunTimedOut", "UpstreamFailed",
        "score_batch", "BatchResult",
        "log_reference",
    }  # fmt: skip
    assert set(loopml.__all__) == documented
    for name in loopml.__all__:
        assert hasattr(loopml, name)
    readme = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    missing = [n for n in documented if n != "__version__" and f"`{n}" not in readme]
    assert missing == []


def test_every_error_has_status_and_exit_code() -> None:
    classes = [getattr(errors, n) for n in errors.__all__]
    for cls in classes:
        assert issubclass(cls, errors.LoopmlError)
        assert 400 <= cls.http_status < 600
        assert cls.exit_code >= 1
    assert errors.NotFound("x").to_dict() == {"error": {"code": "not_found", "message": "x", "details": {}}}
    extra = errors.MissingExtra("postgres", module="psycopg")
    assert "pip install 'loopml[postgres]'" in str(extra)

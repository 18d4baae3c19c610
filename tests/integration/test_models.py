"""Saving, logging and loading models: every flavor, every input shape, every URI."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import loopml
from loopml import AlreadyExists, Client, InvalidInput, MissingExtra, NotFound
from loopml.models import ColSpec, ModelSignature, PythonModel, PythonModelContext

pytest.importorskip("sklearn")
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 200
    X = pd.DataFrame(
        {
            "city": rng.choice(["Lyon", "Oslo", "Lima"], n),
            "age": rng.integers(18, 80, n),
            "income": rng.normal(50_000, 12_000, n),
        }
    )
    y = ((X["age"] > 45) ^ (X["city"] == "Oslo")).to_numpy().astype(int)
    return X, y


@pytest.fixture(scope="module")
def pipeline(data: tuple[pd.DataFrame, np.ndarray]) -> Pipeline:
    X, y = data
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("num", StandardScaler(), ["age", "income"]),
        ]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500))]).fit(X, y)


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # models with code/ add it to sys.path


class AddOffset(PythonModel):
    """A python-function model that reads an artifact when it is loaded."""

    def __init__(self) -> None:
        self.offset: float | None = None

    def load_context(self, context: PythonModelContext) -> None:
        self.offset = float(Path(context.artifacts["offset"]).read_text())
        self.labels = (Path(context.artifacts["vocab"]) / "labels.txt").read_text().split()

    def predict(self, context: PythonModelContext, model_input: pd.DataFrame) -> np.ndarray:
        assert self.offset is not None
        return model_input["x"].to_numpy() + self.offset


# ---- scikit-learn -------------------------------------------------------------------------------


def test_a_pipeline_round_trip_predicts_like_the_raw_pipeline(
    tmp_path: Path, pipeline: Pipeline, data: tuple[pd.DataFrame, np.ndarray]
) -> None:
    X, _ = data
    info = loopml.save_model(pipeline, tmp_path / "m", input_example=X.head(3))
    assert info.flavor == "sklearn" and info.run_id is None
    model = loopml.load_model(tmp_path / "m")
    expected = pipeline.predict(X)
    np.testing.assert_array_equal(model.predict(X), expected)
    np.testing.assert_array_equal(model.predict(X.to_dict("records")), expected)
    np.testing.assert_array_equal(model.predict(X.to_dict("list")), expected)
    np.testing.assert_allclose(model.predict_proba(X), pipeline.predict_proba(X))
    assert model.unwrap().get_params().keys() == pipeline.get_params().keys()
    assert [c.name for c in model.signature.inputs] == ["city", "age", "income"]  # type: ignore[union-attr]


def test_the_model_directory_layout(
    tmp_path: Path, pipeline: Pipeline, data: tuple[pd.DataFrame, Any]
) -> None:
    X, _ = data
    loopml.save_model(pipeline, tmp_path / "m", input_example=X.head(2), metadata={"team": "risk"})
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == [
        "conda.yaml",
        "input_example.json",
        "loopml-model.yaml",
        "model.pkl",
        "python_env.yaml",
        "requirements.txt",
    ]
    descriptor = yaml.safe_load((tmp_path / "m" / "loopml-model.yaml").read_text())
    assert descriptor["flavor"] == "sklearn"
    assert descriptor["loader_module"] == "loopml.models.sklearn_flavor"
    assert descriptor["loopml_version"] == loopml.__version__
    assert descriptor["created_at"].endswith("+00:00")
    assert descriptor["metadata"] == {"team": "risk"}
    assert set(descriptor["manifest"]) == set(files) - {"loopml-model.yaml"}
    assert descriptor["signature"]["inputs"][1] == {"name": "age", "type": "long", "required": True}
    example = pd.read_json(tmp_path / "m" / "input_example.json", orient="split")
    assert list(example.columns) == ["city", "age", "income"]


def test_requirements_pin_scikit_learn_and_loopml(tmp_path: Path, pipeline: Pipeline) -> None:
    loopml.save_model(pipeline, tmp_path / "m")
    lines = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    assert f"scikit-learn=={version('scikit-learn')}" in lines
    assert f"loopml=={loopml.__version__}" in lines
    assert f"numpy=={version('numpy')}" in lines


def test_a_model_fitted_on_arrays_takes_frames(tmp_path: Path) -> None:
    X = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 5.0]])
    reg = LinearRegression().fit(X, [1.0, 2.0, 3.0])
    sig = ModelSignature((ColSpec("a", "double"), ColSpec("b", "double")))
    loopml.save_model(reg, tmp_path / "m", signature=sig)
    model = loopml.load_model(tmp_path / "m")
    np.testing.assert_allclose(model.predict({"a": [1.0], "b": [2.0]}), reg.predict(X[:1]))
    np.testing.assert_allclose(model.predict(X), reg.predict(X))  # columns taken in signature order
    with pytest.raises(InvalidInput, match="has no predict_proba"):
        model.predict_proba({"a": [1.0], "b": [2.0]})


def test_signature_errors_name_every_bad_column(
    tmp_path: Path, pipeline: Pipeline, data: tuple[pd.DataFrame, Any]
) -> None:
    X, _ = data
    loopml.save_model(pipeline, tmp_path / "m", input_example=X.head(2))
    model = loopml.load_model(tmp_path / "m")
    with pytest.raises(InvalidInput) as info:
        model.predict([{"city": 3, "age": "old"}])
    message = str(info.value)
    assert "required column 'income' (double) is missing" in message
    assert "column 'city' must be string, got int64" in message
    assert "column 'age' must be long, got" in message
    strict = loopml.load_model(tmp_path / "m", extra_columns="error")
    with pytest.raises(InvalidInput, match="column 'extra' is not in the signature"):
        strict.predict(X.assign(extra=1))
    np.testing.assert_array_equal(model.predict(X.assign(extra=1)), pipeline.predict(X))


# ---- python functions -----------------------------------------------------------------------------


def test_a_python_model_gets_its_artifacts_at_load_time(tmp_path: Path) -> None:
    (tmp_path / "offset.txt").write_text("10")
    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "labels.txt").write_text("yes no")
    info = loopml.save_model(
        AddOffset(),
        tmp_path / "m",
        artifacts={"offset": str(tmp_path / "offset.txt"), "vocab": tmp_path / "vocab"},
        signature=ModelSignature((ColSpec("x", "double"),)),
    )
    assert info.flavor == "python_function"
    (tmp_path / "offset.txt").write_text("999")  # the model keeps its own copy
    model = loopml.load_model(tmp_path / "m")
    np.testing.assert_array_equal(model.predict({"x": [1, 2]}), [11.0, 12.0])
    raw = model.unwrap()
    assert isinstance(raw, AddOffset) and raw.labels == ["yes", "no"]
    assert Path(tmp_path / "m" / "artifacts" / "offset" / "offset.txt").read_text() == "10"
    with pytest.raises(InvalidInput, match="has no predict_proba"):
        model.predict_proba({"x": [1]})


def test_a_plain_callable_is_a_model(tmp_path: Path) -> None:
    scale = 3
    loopml.save_model(lambda df: df["x"] * scale, tmp_path / "m", input_example={"x": [1.0]})
    model = loopml.load_model(tmp_path / "m")
    assert model.flavor == "python_function"
    assert model.predict([{"x": 2.0}, {"x": 4.0}]).tolist() == [6.0, 12.0]
    requirements = (tmp_path / "m" / "requirements.txt").read_text()
    assert "cloudpickle==" in requirements


def test_code_paths_travel_with_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "loopml_test_doubler.py").write_text(
        "class Doubler:\n    def predict(self, context, model_input):\n        return model_input * 2\n"
    )
    monkeypatch.syspath_prepend(str(src))
    import loopml_test_doubler  # type: ignore[import-not-found]

    loopml.save_model(
        loopml_test_doubler.Doubler(), tmp_path / "m", code_paths=[src / "loopml_test_doubler.py"]
    )
    monkeypatch.delitem(sys.modules, "loopml_test_doubler")
    sys.path.remove(str(src))
    model = loopml.load_model(tmp_path / "m")
    assert model.predict(np.array([1, 2])).tolist() == [2, 4]
    assert (tmp_path / "m" / "code" / "loopml_test_doubler.py").is_file()
    loopml.load_model(tmp_path / "m")  # __pycache__ written by the import does not count as tampering


# ---- integrity and errors ---------------------------------------------------------------------------


def test_a_file_modified_after_saving_is_detected(tmp_path: Path, pipeline: Pipeline) -> None:
    loopml.save_model(pipeline, tmp_path / "m")
    with open(tmp_path / "m" / "model.pkl", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(
        InvalidInput, match=r"model file 'model.pkl' was modified after it was saved \(sha256"
    ):
        loopml.load_model(tmp_path / "m")


def test_added_and_deleted_files_are_detected(tmp_path: Path, pipeline: Pipeline) -> None:
    loopml.save_model(pipeline, tmp_path / "m")
    (tmp_path / "m" / "conda.yaml").unlink()
    (tmp_path / "m" / "evil.py").write_text("")
    with pytest.raises(InvalidInput) as info:
        loopml.load_model(tmp_path / "m")
    assert info.value.details["missing"] == ["conda.yaml"]
    assert info.value.details["added"] == ["evil.py"]
    assert loopml.load_model(tmp_path / "m", verify=False).flavor == "sklearn"


def test_an_unsupported_object_says_how_to_wrap_it(tmp_path: Path) -> None:
    class Opaque:
        def score(self, x: Any) -> Any:
            return x

    with pytest.raises(
        InvalidInput, match=r"Known flavors: .*sklearn.*python_function.*wrap it as a python function"
    ):
        loopml.save_model(Opaque(), tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_saving_over_an_existing_model_is_refused(tmp_path: Path, pipeline: Pipeline) -> None:
    loopml.save_model(pipeline, tmp_path / "m")
    with pytest.raises(AlreadyExists, match="not an empty directory"):
        loopml.save_model(pipeline, tmp_path / "m")


def test_a_directory_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"has no loopml-model\.yaml"):
        loopml.load_model(tmp_path)


def test_an_onnx_model_needs_the_onnx_extra_to_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # importing it now fails as if not installed
    proto = type(
        "ModelProto", (), {"__module__": "onnx.onnx_ml_pb2", "SerializeToString": lambda self: b"onnx"}
    )
    info = loopml.save_model(proto(), tmp_path / "m")
    assert info.flavor == "onnx"
    assert (tmp_path / "m" / "model.onnx").read_bytes() == b"onnx"
    with pytest.raises(MissingExtra, match=r"pip install 'loopml\[onnx\]'"):
        loopml.load_model(tmp_path / "m")


def test_an_onnx_model_round_trip(tmp_path: Path, data: tuple[pd.DataFrame, np.ndarray]) -> None:
    pytest.importorskip("onnxruntime", reason="the onnx extra (onnxruntime) is not installed")
    skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx is needed to build an ONNX model")
    X, y = data
    features = X[["age", "income"]].astype("float32")
    clf = LogisticRegression(max_iter=500).fit(features, y)
    proto = skl2onnx.to_onnx(clf, features.to_numpy()[:1], options={"zipmap": False})
    loopml.save_model(proto, tmp_path / "m", input_example=features.head(2))
    model = loopml.load_model(tmp_path / "m")
    np.testing.assert_array_equal(model.predict(features), clf.predict(features))


# ---- runs ------------------------------------------------------------------------------------------


def test_log_model_into_the_active_run_and_load_by_runs_uri(
    loopml_store: Client, pipeline: Pipeline, data: tuple[pd.DataFrame, Any]
) -> None:
    X, _ = data
    with loopml.start_run() as run:
        info = loopml.log_model(pipeline, "model", input_example=X.head(2))
    assert info.model_uri == f"runs:/{run.run_id}/model"
    assert (info.run_id, info.artifact_path, info.flavor) == (run.run_id, "model", "sklearn")
    names = {f.path for f in loopml_store.list_artifacts(run.run_id, "model")}
    assert "model/loopml-model.yaml" in names and "model/model.pkl" in names
    model = loopml.load_model(info.model_uri)
    np.testing.assert_array_equal(model.predict(X), pipeline.predict(X))
    assert model.metadata.run_id == run.run_id
    assert model.metadata.artifact_path == "model"


def test_log_model_to_an_explicit_run_and_refuse_a_taken_name(
    loopml_store: Client, pipeline: Pipeline
) -> None:
    run = loopml_store.create_run()
    info = loopml.log_model(pipeline, "models/clf", run_id=run.info.run_id)
    assert info.model_uri == f"runs:/{run.info.run_id}/models/clf"
    assert loopml.load_model(info.model_uri).flavor == "sklearn"
    with pytest.raises(AlreadyExists, match="already has artifacts at 'models/clf'"):
        loopml.log_model(pipeline, "models/clf", run_id=run.info.run_id)
    with pytest.raises(NotFound, match="has no artifact 'nothing'"):
        loopml.load_model(f"runs:/{run.info.run_id}/nothing")
    with pytest.raises(InvalidInput, match="invalid runs URI"):
        loopml.load_model(f"runs:/{run.info.run_id}")


def test_log_model_registers_a_version_that_models_uris_load(
    loopml_store: Client, pipeline: Pipeline, data: tuple[pd.DataFrame, Any]
) -> None:
    X, _ = data
    with loopml.start_run():
        info = loopml.log_model(pipeline, "model", registered_model_name="churn")
    assert info.registered_model_version.version == 1
    model = loopml.load_model("models:/churn/1")
    np.testing.assert_array_equal(model.predict(X), pipeline.predict(X))


@pytest.fixture
def s3_store(s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    uri = f"sqlite:///{tmp_path / 'loopml.db'}"
    monkeypatch.setenv("LOOPML_TRACKING_URI", uri)
    monkeypatch.setenv("LOOPML_ARTIFACT_ROOT", f"{s3_bucket}/artifacts")
    client = Client(uri, f"{s3_bucket}/artifacts")
    yield client
    client.close()


@pytest.mark.s3
def test_log_and_load_a_model_on_s3(
    s3_store: Client, s3_bucket: str, pipeline: Pipeline, data: tuple[pd.DataFrame, Any]
) -> None:
    X, _ = data
    run = s3_store.create_run()
    info = loopml.log_model(pipeline, "model", input_example=X.head(2), run_id=run.info.run_id)
    assert run.info.artifact_uri.startswith(s3_bucket)
    model = loopml.load_model(info.model_uri)
    np.testing.assert_array_equal(model.predict(X.to_dict("records")), pipeline.predict(X))
    direct = loopml.load_model(f"{run.info.artifact_uri}/model")
    np.testing.assert_array_equal(direct.predict(X), pipeline.predict(X))


@pytest.mark.s3
def test_save_model_to_an_s3_url(s3_bucket: str, pipeline: Pipeline, data: tuple[pd.DataFrame, Any]) -> None:
    X, _ = data
    info = loopml.save_model(pipeline, f"{s3_bucket}/saved/m1")
    assert info.model_uri == f"{s3_bucket}/saved/m1"
    np.testing.assert_array_equal(loopml.load_model(info.model_uri).predict(X), pipeline.predict(X))
    with pytest.raises(AlreadyExists, match="already holds a model"):
        loopml.save_model(pipeline, f"{s3_bucket}/saved/m1")

"""The serving peers' model preparation, run INSIDE each peer's venv; and their servers' sources.

Does not import loopml. ``bench_serving.py`` runs it once per peer before measuring::

    benchmarks/.peers/mlflow/bin/python  benchmarks/peers/serving_peers.py mlflow  --workdir DIR
    benchmarks/.peers/bentoml/bin/python benchmarks/peers/serving_peers.py bentoml --workdir DIR
    benchmarks/.peers/fastapi/bin/python benchmarks/peers/serving_peers.py fastapi --workdir DIR

and reads the one JSON line each prints last on stdout. Each trains the very model loopml
serves (``_serving_workloads.train``: same data, same deterministic fit) in its own venv and
stores it the peer's way, as ``../shared/bench/serving_bench.py`` did:

- mlflow: ``mlflow.sklearn.log_model`` with a signature and explicit ``pip_requirements``,
  registered as ``bc_model``, alias ``champion``, on ``sqlite:///DIR/mlflow.db`` (artifacts in
  ``DIR/artifacts``); served by ``mlflow models serve -m models:/bc_model@champion
  --env-manager local``.
- bentoml: ``bentoml.sklearn.save_model("bc_model", ...)`` into ``BENTOML_HOME`` (set by the
  caller), and three service folders ``DIR/<variant>/service.py`` (+ ``columns.json``):
  ``bento_df`` (a DataFrame input, records orient), ``bento_nd`` (an ndarray input) and
  ``bento_nd_batching`` (the ndarray one with ``@bentoml.api(batchable=True)``: adaptive
  batching with its defaults). BentoML 1.4's ``batchable=True`` with the DataFrame input is
  broken (``get_batch_size`` returns ``df.shape``), hence the ndarray variants.
- fastapi: the pipeline ``joblib.dump``-ed to ``DIR/model.joblib`` and the bare app written to
  ``DIR/app.py``, served by plain ``uvicorn app:app`` (asyncio loop, h11, access log on).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

# Run as a script, sys.path[0] is benchmarks/peers, whose venv.py would shadow the stdlib
# module of that name: swap it for benchmarks/ (home of _common and _serving_workloads).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import _common as c  # noqa: E402
import _serving_workloads as sw  # noqa: E402
from _common import pc  # noqa: E402

WHO = "serving_peers"
SERVING_PACKAGES = ("scikit-learn", "pandas", "numpy", "uvicorn", "fastapi", "starlette", "pydantic")
EXTRA_PACKAGES = ("uvloop", "httptools", "orjson")

BENTO_SERVICE_DF = """
import json
import os
from typing import Annotated

import bentoml
import numpy as np
import pandas as pd
from bentoml.validators import DataframeSchema

COLS = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "columns.json")))


@bentoml.service
class BreastCancer:
    def __init__(self) -> None:
        self.model = bentoml.sklearn.load_model("bc_model:latest")

    @bentoml.api{API_ARGS}
    def predict(
        self, df: Annotated[pd.DataFrame, DataframeSchema(orient="records", columns=COLS)]
    ) -> np.ndarray:
        return self.model.predict(df)
"""

BENTO_SERVICE_ND = """
import json
import os
from typing import Annotated

import bentoml
import numpy as np
import pandas as pd
from bentoml.validators import DType, Shape

COLS = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "columns.json")))


@bentoml.service
class BreastCancer:
    def __init__(self) -> None:
        self.model = bentoml.sklearn.load_model("bc_model:latest")

    @bentoml.api{API_ARGS}
    def predict(
        self, arr: Annotated[np.ndarray, Shape((-1, 30)), DType("float64")]
    ) -> np.ndarray:
        return self.model.predict(pd.DataFrame(arr, columns=COLS))
"""

# service folder -> (source, arguments of @bentoml.api)
BENTO_SERVICES = {
    "bento_df": (BENTO_SERVICE_DF, ""),
    "bento_nd": (BENTO_SERVICE_ND, ""),
    "bento_nd_batching": (BENTO_SERVICE_ND, "(batchable=True)"),
}

# The bare hand-written app: async, orjson, the joblib-loaded pipeline, a DataFrame from MLflow's
# dataframe_split payload, explicit column and type checks (400 / 422).
FASTAPI_APP = """
import os

import joblib
import orjson
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import Response

MODEL = joblib.load(os.environ["BC_MODEL_PATH"])
COLS = list(MODEL.feature_names_in_)
app = FastAPI()


def _err(status, msg):
    return Response(orjson.dumps({"error": msg}), status_code=status, media_type="application/json")


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.post("/invocations")
async def invocations(request: Request):
    body = await request.body()
    try:
        split = orjson.loads(body)["dataframe_split"]
        df = pd.DataFrame(split["data"], columns=split["columns"])
    except Exception as e:  # not JSON / wrong shape
        return _err(400, f"bad request body: {type(e).__name__}: {e}")
    missing = [c for c in COLS if c not in df.columns]
    if missing:
        return _err(422, f"missing columns: {missing}")
    try:
        X = df[COLS].astype("float64")
    except (TypeError, ValueError) as e:
        return _err(422, f"wrong type: {e}")
    return Response(orjson.dumps({"predictions": MODEL.predict(X).tolist()}), media_type="application/json")
"""


def prepare_mlflow(workdir: Path) -> dict[str, Any]:
    """Log, register and alias the pipeline on MLflow's SQLite store in ``workdir``."""
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    import sklearn
    from mlflow.models import infer_signature

    X, _, pipe = sw.train()
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    exp_id = mlflow.create_experiment("serving", artifact_location=(workdir / "artifacts").as_uri())
    mlflow.set_experiment(experiment_id=exp_id)
    pins = [f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}", f"numpy=={np.__version__}"]
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            pipe,
            name="model",
            signature=infer_signature(X, pipe.predict(X)),
            pip_requirements=pins,
            registered_model_name=sw.MODEL_NAME,
        )
    version = info.registered_model_version
    mlflow.MlflowClient().set_registered_model_alias(sw.MODEL_NAME, sw.ALIAS, version)
    return {"version": int(version), "model_uri": info.model_uri, "tool_version": mlflow.__version__}


def prepare_bentoml(workdir: Path) -> dict[str, Any]:
    """Save the pipeline to BentoML's model store and write the three service folders."""
    import bentoml

    X, _, pipe = sw.train()
    model = bentoml.sklearn.save_model(sw.MODEL_NAME, pipe)
    for folder, (source, api_args) in BENTO_SERVICES.items():
        d = workdir / folder
        d.mkdir(parents=True, exist_ok=True)
        (d / "service.py").write_text(source.replace("{API_ARGS}", api_args))
        (d / "columns.json").write_text(json.dumps(list(X.columns)))
    return {"tag": str(model.tag), "tool_version": bentoml.__version__}


def prepare_fastapi(workdir: Path) -> dict[str, Any]:
    """Dump the pipeline with joblib and write the bare FastAPI app next to it."""
    import fastapi
    import joblib

    _, _, pipe = sw.train()
    joblib.dump(pipe, workdir / "model.joblib")
    (workdir / "app.py").write_text(FASTAPI_APP)
    return {"model_path": str(workdir / "model.joblib"), "tool_version": fastapi.__version__}


PREPARE = {"mlflow": prepare_mlflow, "bentoml": prepare_bentoml, "fastapi": prepare_fastapi}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("peer", choices=sorted(PREPARE))
    ap.add_argument("--workdir", required=True, type=Path, help="where the peer's model and sources go")
    args = ap.parse_args()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)  # anything a tool writes by default lands in the workdir
    c.log(WHO, f"{args.peer}: training and storing the model in {workdir}")
    t = pc()
    res = PREPARE[args.peer](workdir)
    res["prepare_s"] = pc() - t
    res["versions"] = sw.package_versions((args.peer, *SERVING_PACKAGES, *EXTRA_PACKAGES))
    c.emit(res)


if __name__ == "__main__":
    main()

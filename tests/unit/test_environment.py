"""Environment capture: requirements from the model's own modules, pinned, overridable."""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
import yaml

import loopml
from loopml import InvalidInput
from loopml.models.environment import capture_environment, model_modules, write_environment

sklearn = pytest.importorskip("sklearn")
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler  # noqa: E402

SKLEARN = f"scikit-learn=={version('scikit-learn')}"
LOOPML = f"loopml=={loopml.__version__}"


def pipeline() -> Pipeline:
    prep = ColumnTransformer([("cat", OneHotEncoder(), ["city"]), ("num", StandardScaler(), ["age"])])
    return Pipeline([("prep", prep), ("log", FunctionTransformer(np.log1p)), ("clf", LogisticRegression())])


def test_the_walk_finds_the_modules_of_every_pipeline_step() -> None:
    assert {"sklearn", "numpy"} <= model_modules(pipeline())


def test_requirements_pin_the_flavor_packages_the_model_modules_and_loopml() -> None:
    env = capture_environment(pipeline(), ["scikit-learn"])
    assert env.requirements[0] == LOOPML
    assert SKLEARN in env.requirements
    assert f"numpy=={version('numpy')}" in env.requirements  # from FunctionTransformer(np.log1p)
    assert env.python_version == ".".join(map(str, sys.version_info[:3]))


def test_a_function_model_brings_the_modules_it_uses() -> None:
    def predict(df: object) -> object:
        return np.asarray(df)

    env = capture_environment(predict, ["cloudpickle"])
    names = {line.split("==")[0] for line in env.requirements}
    assert {"loopml", "numpy", "cloudpickle"} <= names


def test_stdlib_and_local_code_are_not_requirements() -> None:
    import json

    class Local:
        codec = json

    env = capture_environment(Local(), [])
    assert env.requirements == (LOOPML,)


def test_pip_requirements_replace_the_inferred_list_but_loopml_stays() -> None:
    env = capture_environment(pipeline(), ["scikit-learn"], pip_requirements=["scikit-learn>=1.4", "pandas"])
    assert env.requirements == (LOOPML, "scikit-learn>=1.4", "pandas")
    pinned = capture_environment(pipeline(), [], pip_requirements=["loopml[s3]==0.1.0"])
    assert pinned.requirements == ("loopml[s3]==0.1.0",)


def test_extra_pip_requirements_add_and_replace_same_named_pins() -> None:
    env = capture_environment(
        pipeline(), ["scikit-learn"], extra_pip_requirements=["Scikit_Learn>=1.0", "torch==2.3", "-e ./pkg"]
    )
    assert SKLEARN not in env.requirements
    assert env.requirements[-3:] == ("Scikit_Learn>=1.0", "torch==2.3", "-e ./pkg")


def test_requirements_may_come_from_a_file(tmp_path: Path) -> None:
    req = tmp_path / "req.txt"
    req.write_text("# pinned\nnumpy==1.26.4  # arrays\n\nscipy\n")
    env = capture_environment(None, [], pip_requirements=str(req))
    assert env.requirements == (LOOPML, "numpy==1.26.4", "scipy")
    with pytest.raises(InvalidInput, match="must name a requirements file"):
        capture_environment(None, [], pip_requirements="numpy==1.26.4")


def test_both_overrides_at_once_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not both"):
        capture_environment(None, [], pip_requirements=["a"], extra_pip_requirements=["b"])


def test_the_three_environment_files(tmp_path: Path) -> None:
    env = capture_environment(pipeline(), ["scikit-learn"])
    write_environment(env, tmp_path)
    lines = (tmp_path / "requirements.txt").read_text().splitlines()
    assert lines == list(env.requirements)
    python_env = yaml.safe_load((tmp_path / "python_env.yaml").read_text())
    assert python_env["python"] == env.python_version
    assert python_env["dependencies"] == ["-r requirements.txt"]
    assert any(dep.startswith("pip") for dep in python_env["build_dependencies"])
    conda = yaml.safe_load((tmp_path / "conda.yaml").read_text())
    assert conda["dependencies"][0] == f"python={env.python_version}"
    assert conda["dependencies"][-1] == {"pip": list(env.requirements)}


def test_modules_are_mapped_to_their_distributions() -> None:
    from loopml.models.installed import InstalledDistributions

    installed = InstalledDistributions()
    assert installed.providers("sklearn") == ["scikit-learn"]  # a known alias
    assert installed.providers("numpy") == ["numpy"]  # named like the module
    assert installed.providers("_pytest") == ["pytest"]  # neither: the full index
    assert installed.providers("no_such_module_anywhere") == []
    assert installed.pin("scikit-learn") == SKLEARN
    assert installed.pin("no-such-distribution") == "no-such-distribution"


def test_without_flavor_hints_scikit_learn_is_still_found() -> None:
    env = capture_environment(pipeline(), [])
    assert SKLEARN in env.requirements

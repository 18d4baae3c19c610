"""Dataset digests and profiles: stable across processes, sensitive to one value, right numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml import InvalidInput
from loopml.tracking.datasets import build_dataset, dataset_input, digest_array, digest_file, digest_frame
from loopml.tracking.profile import SAMPLE_ROWS, profile_frame

FRAME_CODE = """
import pandas as pd
from loopml.tracking.datasets import digest_frame, digest_array
import numpy as np
frame = pd.DataFrame({"x": [1.5, 2.5, None], "s": ["a", "b", "c"], "n": [1, 2, 3]})
print(digest_frame(frame), digest_array(np.arange(12, dtype="int32").reshape(3, 4)))
"""


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.5, 2.5, None], "s": ["a", "b", "c"], "n": [1, 2, 3]})


def test_digests_are_the_same_in_another_process() -> None:
    out = subprocess.run(
        [sys.executable, "-c", FRAME_CODE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [digest_frame(_frame()), digest_array(np.arange(12, dtype="int32").reshape(3, 4))]
    assert all(len(d) == 64 for d in out)


def test_frame_digest_changes_with_one_value_a_name_or_a_dtype() -> None:
    base = digest_frame(_frame())
    changed = _frame()
    changed.loc[2, "s"] = "d"
    assert digest_frame(changed) != base
    assert digest_frame(_frame().rename(columns={"n": "m"})) != base
    assert digest_frame(_frame().astype({"n": "int32"})) != base
    assert digest_frame(_frame().iloc[:2]) != base
    # the index is not data
    assert digest_frame(_frame().set_axis([10, 11, 12])) == base


def test_array_digest_depends_on_bytes_dtype_and_shape() -> None:
    a = np.arange(12, dtype="float64")
    base = digest_array(a)
    assert digest_array(a.copy()) == base
    assert digest_array(a.reshape(3, 4)) != base
    assert digest_array(a.astype("float32")) != base
    b = a.copy()
    b[5] += 1e-9
    assert digest_array(b) != base
    # a non-contiguous view hashes like its contiguous copy
    m = np.arange(20.0).reshape(4, 5)
    assert digest_array(m.T) == digest_array(np.ascontiguousarray(m.T))
    assert digest_array(np.array(["a", None], dtype=object)) != digest_array(
        np.array(["b", None], dtype=object)
    )


def test_file_digest_is_the_sha256_of_the_bytes(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "data.bin"
    payload = bytes(range(256)) * 5000  # more than one chunk
    path.write_bytes(payload)
    assert digest_file(str(path)) == hashlib.sha256(payload).hexdigest()
    dataset = build_dataset(path)
    assert (dataset.source, dataset.source_type, dataset.num_rows, dataset.schema) == (
        str(path),
        "file",
        None,
        {},
    )
    assert dataset.name == f"dataset-{dataset.digest[:8]}"


def test_csv_and_parquet_files_are_profiled(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3, 4], "b": ["x", "y", "x", None]})
    csv, parquet = tmp_path / "d.csv", tmp_path / "d.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet, index=False)
    for path in (csv, parquet):
        dataset = build_dataset(str(path), name="d")
        assert (dataset.num_rows, dataset.num_columns) == (4, 2)
        assert dataset.schema["a"] == "int64"
        assert dataset.profile["columns"]["b"]["missing"] == 1
        assert (dataset.profile["columns"]["a"]["min"], dataset.profile["columns"]["a"]["max"]) == (1, 4)
        assert isinstance(dataset.profile["columns"]["a"]["max"], int)  # integers stay integers
        assert dataset.profile["columns"]["b"]["top"][0] == {"value": "x", "count": 2}
    # a copy of the same bytes elsewhere has the same digest
    copy = tmp_path / "copy.csv"
    copy.write_bytes(csv.read_bytes())
    assert build_dataset(copy).digest == build_dataset(csv).digest


def test_fsspec_urls_are_read(tmp_path: Path) -> None:
    import fsspec

    with fsspec.open("memory://data/train.csv", "wb") as f:
        f.write(b"a,b\n1,x\n2,y\n")
    dataset = build_dataset("memory://data/train.csv")
    assert dataset.source == "memory://data/train.csv"
    assert (dataset.num_rows, dataset.schema["a"]) == (2, "int64")


def test_profile_matches_pandas_on_a_small_frame() -> None:
    frame = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0, None, 10.0],
            "k": ["a", "b", "a", "a", None, "b"],
            "flag": [True, False, True, True, True, False],
        }
    )
    profile = profile_frame(frame)
    x = profile["columns"]["x"]
    assert x["type"] == "float64"
    assert x["missing"] == 1
    assert (x["min"], x["max"]) == (1.0, 10.0)
    assert x["mean"] == pytest.approx(frame["x"].mean())
    assert x["std"] == pytest.approx(frame["x"].std())
    for label, q in {"p5": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}.items():
        assert x[label] == pytest.approx(frame["x"].quantile(q))
    k = profile["columns"]["k"]
    assert (k["missing"], k["distinct"]) == (1, 2)
    assert k["top"] == [{"value": "a", "count": 3}, {"value": "b", "count": 2}]
    flag = profile["columns"]["flag"]  # booleans are categories, not numbers
    assert flag["top"] == [{"value": True, "count": 4}, {"value": False, "count": 2}]
    assert "sample_rows" not in profile


def test_profile_of_an_all_missing_column_has_no_nan() -> None:
    import json

    profile = profile_frame(pd.DataFrame({"x": [np.nan, np.nan]}))
    assert profile["columns"]["x"]["mean"] is None
    json.dumps(profile, allow_nan=False)


def test_large_frames_profile_categories_on_a_sample() -> None:
    n = SAMPLE_ROWS + 5
    frame = pd.DataFrame({"k": np.where(np.arange(n) % 2 == 0, "even", "odd"), "v": np.arange(n)})
    profile = profile_frame(frame)
    assert profile["sample_rows"] == SAMPLE_ROWS
    assert profile["columns"]["k"]["distinct"] == 2
    assert sum(t["count"] for t in profile["columns"]["k"]["top"]) == SAMPLE_ROWS
    assert profile["columns"]["v"]["max"] == n - 1  # numbers always cover every row


def test_sources_names_and_shapes() -> None:
    frame_set = build_dataset(_frame())
    assert (frame_set.source, frame_set.source_type, frame_set.num_rows, frame_set.num_columns) == (
        "in-memory DataFrame",
        "dataframe",
        3,
        3,
    )
    array = build_dataset(np.zeros((4, 2)), name="zeros", source="s3://bucket/zeros.npy")
    assert (array.name, array.source, array.source_type) == ("zeros", "s3://bucket/zeros.npy", "ndarray")
    assert array.schema == {"0": "float64", "1": "float64"}
    assert build_dataset(np.zeros(3)).source == "in-memory ndarray"
    cube = build_dataset(np.zeros((2, 3, 4), dtype="float32"))
    assert (cube.num_rows, cube.profile["shape"]) == (2, [2, 3, 4])


def test_bad_inputs_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="training, validation, test"):
        dataset_input(_frame(), context="train")
    with pytest.raises(InvalidInput, match="got list"):
        build_dataset([1, 2, 3])
    with pytest.raises(InvalidInput, match="no file at"):
        build_dataset(tmp_path / "missing.csv")


def test_unhashable_cells_are_digested_and_profiled_as_text() -> None:
    frame = pd.DataFrame({"tags": [["a"], ["b", "c"], ["a"]], "n": [1, 2, 3]})
    dataset = build_dataset(frame)
    changed = frame.copy()
    changed.at[1, "tags"] = ["b"]
    assert build_dataset(changed).digest != dataset.digest
    assert dataset.profile["columns"]["tags"]["top"][0] == {"value": "['a']", "count": 2}

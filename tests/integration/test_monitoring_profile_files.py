"""Profiles of real files — Parquet, CSV, JSON Lines, globs, directories, memory:// and S3 — read in
chunks, and profiles stored as one Parquet file; the results equal profiling the DataFrame."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.monitoring.profile_io import METADATA_KEY
from loopml.monitoring.profiles import Profile, profile


def frame(n: int = 2_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 1, n)
    income[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "income": income,
            "age": rng.integers(18, 90, n),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "active": rng.random(n) < 0.3,
        }
    )


def assert_same_statistics(got: Profile, want: Profile) -> None:
    assert got.n_rows == want.n_rows
    assert list(got.columns) == list(want.columns)
    for name, w in want.columns.items():
        g = got.columns[name]
        assert (g.kind, g.count, g.missing, g.min, g.max) == (w.kind, w.count, w.missing, w.min, w.max), name
        assert g.sketch == w.sketch, name
        assert (g.categories, g.other) == (w.categories, w.other), name
        if w.mean is not None:
            assert g.mean == pytest.approx(w.mean, rel=1e-9) and g.std == pytest.approx(w.std, rel=1e-9)


def write_jsonl(df: pd.DataFrame, path: Path) -> None:
    """JSON Lines with exact floats (json writes repr) and null for NaN."""
    with path.open("w") as f:
        for record in df.to_dict(orient="records"):
            clean = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()}
            f.write(json.dumps({k: v.item() if hasattr(v, "item") else v for k, v in clean.items()}) + "\n")


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_a_file_profiled_in_chunks_equals_the_dataframe(tmp_path: Path, fmt: str) -> None:
    df = frame()
    path = tmp_path / f"data.{fmt}"
    if fmt == "parquet":
        df.to_parquet(path, row_group_size=300)
    elif fmt == "csv":
        df.to_csv(path, index=False)
    else:
        write_jsonl(df, path)
    got = profile(str(path), chunk_size=250, sample_size=400)
    assert_same_statistics(got, profile(df))
    assert len(got.sample) == 400
    assert set(got.sample["city"]) <= {"paris", "lyon", "nice"}


def test_a_glob_a_directory_and_a_list_profile_every_file(tmp_path: Path) -> None:
    df = frame(3_000)
    for i, part in enumerate(np.array_split(np.arange(len(df)), 3)):
        df.iloc[part].to_parquet(tmp_path / f"part-{i}.parquet")
    (tmp_path / "_SUCCESS").write_text("")
    want = profile(df)
    assert_same_statistics(profile(str(tmp_path / "part-*.parquet"), chunk_size=700), want)
    assert_same_statistics(profile(tmp_path, chunk_size=700), want)
    listed = [str(tmp_path / f"part-{i}.parquet") for i in range(3)]
    assert_same_statistics(profile(listed), want)


def test_columns_restricts_reading_and_unknown_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    frame(100).to_parquet(path)
    p = profile(str(path), columns=["city", "income"])
    assert list(p.columns) == ["city", "income"] and list(p.sample.columns) == ["city", "income"]
    with pytest.raises(InvalidInput, match=r"unknown column 'height' in columns=: .*data.parquet"):
        profile(str(path), columns=["height"])
    jsonl = tmp_path / "data.jsonl"
    write_jsonl(frame(10), jsonl)
    with pytest.raises(InvalidInput, match="unknown column 'height' in columns="):
        profile(str(jsonl), columns=["height"])


def test_sparse_json_lines_count_absent_fields_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"a": 1.5}\n{"a": 2.5}\n{"b": "x"}\n{"a": 3.5, "b": "y"}\n')
    p = profile(str(path), chunk_size=1)
    assert (p.columns["a"].count, p.columns["a"].missing, p.columns["a"].kind) == (3, 1, "numeric")
    assert (p.columns["b"].count, p.columns["b"].missing, p.columns["b"].categories) == (
        2,
        2,
        {"x": 1, "y": 1},
    )


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"no input file matches '.*nothing-\*.parquet'"):
        profile(str(tmp_path / "nothing-*.parquet"))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"this is not parquet")
    with pytest.raises(InvalidInput, match=r"cannot read '.*broken.parquet'"):
        profile(str(broken))
    with pytest.raises(NotFound, match="no profile file at"):
        Profile.from_parquet(tmp_path / "missing.parquet")
    plain = tmp_path / "plain.parquet"
    frame(5).to_parquet(plain)
    with pytest.raises(InvalidInput, match="is a Parquet file but not a loopml profile"):
        Profile.from_parquet(plain)
    with pytest.raises(InvalidInput, match="sample_size must be a whole number of at least 1, got 0"):
        profile(str(plain), sample_size=0)


def test_a_profile_is_one_parquet_file_with_its_statistics_in_the_metadata(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    df = frame()
    df["when"] = pd.date_range("2024-03-30", periods=len(df), freq="h", tz="Europe/Paris")
    df["plan"] = pd.Categorical(np.where(df["age"] > 50, "pro", "free"))
    p = profile(df, sample_size=100)
    path = tmp_path / "ref" / "profile.parquet"
    p.to_parquet(path)
    table = pq.read_table(path)
    assert table.num_rows == 100
    stats = json.loads(table.schema.metadata[METADATA_KEY])
    assert stats["n_rows"] == len(df) and [c["name"] for c in stats["columns"]] == list(df.columns)
    restored = Profile.from_parquet(path)
    assert restored == p
    assert restored.sample.dtypes.equals(p.sample.dtypes)
    assert Profile.from_json(p.to_json(tmp_path / "profile.json")) == p
    assert Profile.from_json(tmp_path / "profile.json") == p


def test_memory_urls_profile_and_store(tmp_path: Path) -> None:
    import fsspec

    df = frame(500)
    fs = fsspec.filesystem("memory")
    with fs.open("/loopml-test/in/data.parquet", "wb") as f:
        df.to_parquet(f)
    p = profile("memory://loopml-test/in/*.parquet", chunk_size=100)
    assert_same_statistics(p, profile(df))
    p.to_parquet("memory://loopml-test/out/profile.parquet")
    assert Profile.from_parquet("memory://loopml-test/out/profile.parquet") == p
    fs.rm("/loopml-test", recursive=True)


@pytest.mark.s3
def test_profiles_of_and_on_s3(s3_bucket: str, tmp_path: Path) -> None:
    import s3fs

    df = frame(1_000)
    local = tmp_path / "data.parquet"
    df.to_parquet(local, row_group_size=200)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.put(str(local), f"{s3_bucket.removeprefix('s3://')}/day=1/data.parquet")
    p = profile(f"{s3_bucket}/day=*/data.parquet", chunk_size=300)
    assert_same_statistics(p, profile(df))
    p.to_parquet(f"{s3_bucket}/refs/profile.parquet")
    assert Profile.from_parquet(f"{s3_bucket}/refs/profile.parquet") == p
    p.to_json(f"{s3_bucket}/refs/profile.json")
    assert Profile.from_json(f"{s3_bucket}/refs/profile.json") == p


_MEMORY_SCRIPT = """
import resource, sys
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
from loopml.monitoring.profiles import profile
path, rows = sys.argv[1], int(sys.argv[2])
small = path + ".small.parquet"
pq.write_table(pa.table({"x": np.arange(1000.0), "y": np.ones(1000)}), small)
profile(small, chunk_size=100)  # warm up: the same imports and code paths on a tiny file
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
p = profile(path, chunk_size=100_000)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert p.n_rows == rows, p.n_rows
print((after - before) // 1024)
"""


@pytest.mark.slow
def test_a_large_parquet_file_is_profiled_in_bounded_memory(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 5_000_000  # 80 MB of float64 per column in memory
    path = tmp_path / "big.parquet"
    rng = np.random.default_rng(0)
    with pq.ParquetWriter(path, pa.schema([("x", pa.float64()), ("y", pa.float64())])) as writer:
        for _ in range(rows // 500_000):
            batch = {"x": rng.normal(size=500_000), "y": rng.lognormal(size=500_000)}
            writer.write_table(pa.table(batch), row_group_size=100_000)
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(path), str(rows)],
        capture_output=True,
        text=True,
        check=True,
    )
    grown_mb = int(out.stdout.strip())
    print(f"peak memory grew by {grown_mb} MB")
    assert grown_mb < 40, f"peak memory grew by {grown_mb} MB profiling 160 MB of data"

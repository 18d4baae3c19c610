"""The batch-scoring side of ``bench_serving.py``: the CSV, the plain pandas loop, the checks.

Runs in loopml's venv (``bench_serving.py --_worker``), where pandas, pyarrow and joblib are
installed; they are imported inside the functions, so the orchestrator never imports them.

- :func:`write_csv`: ``rows`` rows of the breast-cancer features (rows of the data set drawn
  with replacement, each value times 1 + N(0, 0.05), rounded to 4 decimals), an ``id`` column
  first, written in 500,000-row slices with pyarrow's CSV writer (seeded: the same file every run).
- :func:`pandas_batch`: the baseline loopml's ``loopml batch`` is compared with: the pickled
  pipeline loaded with joblib, ``pd.read_csv(chunksize=...)``, ``predict`` on each chunk,
  ``id`` + ``prediction`` appended to a Parquet file with one ``pq.ParquetWriter``.
- :func:`check_outputs`: both Parquet outputs hold every row, and the same predictions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _common as c

CSV_SLICE = 500_000
BYTES_PER_ROW = 300  # the CSV's size per row (~270) plus both Parquet outputs, rounded up
ID = "id"
PREDICTION = "prediction"


def write_csv(path: Path, rows: int, seed: int) -> dict[str, Any]:
    """Write the ``rows``-row input CSV (``id`` + the 30 features) to ``path``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer(as_frame=True).data
    base, cols = X.to_numpy(), list(X.columns)
    rng = np.random.default_rng(seed)
    options = pacsv.WriteOptions(quoting_style="none")
    schema = pa.schema([(ID, pa.int64())] + [(col, pa.float64()) for col in cols])
    with pacsv.CSVWriter(str(path), schema, write_options=options) as writer:
        for start in range(0, rows, CSV_SLICE):
            n = min(CSV_SLICE, rows - start)
            values = base[rng.integers(0, len(base), n)] * rng.normal(1.0, 0.05, (n, len(cols)))
            arrays = [pa.array(np.arange(start, start + n))] + [pa.array(v) for v in np.round(values, 4).T]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
    return {"rows": rows, "bytes": path.stat().st_size}


def pandas_batch(model_path: Path, input_csv: Path, output: Path, chunk_size: int) -> dict[str, Any]:
    """The plain pandas loop over ``input_csv``; the rows scored and the chunks read."""
    import joblib
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    model = joblib.load(model_path)
    cols = list(model.feature_names_in_)
    writer, rows, chunks = None, 0, 0
    try:
        for chunk in pd.read_csv(input_csv, chunksize=chunk_size):
            pred = model.predict(chunk[cols])
            table = pa.table({ID: chunk[ID].to_numpy(), PREDICTION: pred})
            writer = writer or pq.ParquetWriter(output, table.schema)
            writer.write_table(table)
            rows, chunks = rows + len(chunk), chunks + 1
    finally:
        if writer is not None:
            writer.close()
    return {"rows": rows, "chunks": chunks, "chunk_size": chunk_size, "peak_rss_mb_self": c.peak_rss_mb()}


def prediction_column(table: Any, features: set[str]) -> str | None:
    """The column of ``table`` that holds the predictions: ``prediction`` or else the only
    column that is neither ``id`` nor a feature."""
    names = list(table.column_names)
    if PREDICTION in names:
        return PREDICTION
    others = [n for n in names if n != ID and n not in features]
    return others[0] if len(others) == 1 else None


def check_outputs(expected_rows: int, outputs: dict[str, Path], features: list[str]) -> dict[str, Any]:
    """Every output has ``expected_rows`` rows, ids in input order (when it has an ``id``
    column), and the same predictions as the others."""
    import numpy as np
    import pyarrow.parquet as pq

    out: dict[str, Any] = {}
    preds: dict[str, Any] = {}
    for tool, path in outputs.items():
        if not path.exists():
            out[tool] = {"ok": False, "note": f"no output at {path}"}
            continue
        table = pq.read_table(path)
        col = prediction_column(table, set(features))
        ids_ok = ID not in table.column_names or bool(
            np.array_equal(table.column(ID).to_numpy(), np.arange(table.num_rows))
        )
        out[tool] = {"rows": table.num_rows, "columns": table.column_names, "prediction_column": col}
        out[tool]["ids_in_order"] = ids_ok
        out[tool]["ok"] = table.num_rows == expected_rows and col is not None and ids_ok
        if col is not None:
            preds[tool] = np.asarray(table.column(col).to_numpy(), dtype="int64")
    same = len(preds) == len(outputs) and all(
        np.array_equal(p, next(iter(preds.values()))) for p in preds.values()
    )
    out["same_predictions"] = same
    out["ok"] = same and all(v["ok"] for k, v in out.items() if k in outputs)
    return out

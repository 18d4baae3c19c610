"""Model deployment: on-demand REST serving, batch scoring and the prediction log.

``loopml serve`` runs :func:`~loopml.serving.app.create_scoring_app` under uvicorn;
``loopml batch`` and :func:`loopml.score_batch` score files in chunks (:mod:`.batch`); every
prediction the server makes is appended to Parquet files (:mod:`.prediction_log`). See
docs/serving.md. Importing this package loads nothing heavy: FastAPI, pandas and pyarrow are
imported by the functions that need them.
"""

from __future__ import annotations

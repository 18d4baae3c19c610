"""Peer runners: the tracking workloads on other tools, each run inside the tool's own venv.

- ``mlflow_peer.py``: MLflow's SQLite store, run by ``benchmarks/.peers/mlflow/bin/python``.
- ``venv.py``: creates (``--install-peers``) and locates those venvs.
"""

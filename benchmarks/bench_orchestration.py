#!/usr/bin/env python3
"""Orchestration benchmark: loopml's @flow/@task against Prefect 3.9.1's, in the same run.

Workloads (each tool in fresh subprocesses with its own store, see README.md; the
in-process ones are written once in _orchestration_workloads.py for both tools):

  import            ``import loopml`` / ``import prefect`` in fresh subprocesses (median of N).
  one_task_process  a one-task flow in a fresh Python process, process start to exit.
  persistence       a fresh process runs a flow of 300 tasks and exits at once: task runs
                    found in the store afterwards.
  first_flow        the first flow of a worker process (store creation; Prefect: API server).
  empty_flow        an empty flow (median after the warm-up flow).
  sequential        1,000 sequential trivial tasks in one flow: flow wall, task runs recorded
                    when it returns, and the wait until all are recorded (drain).
  store_bytes       SQLite file growth over that 1,000-task flow on a fresh store, per task run.
  submit, map       1,000 tasks through ``.submit()`` + ``wait``, and through ``.map()``.
  subflows          100 subflows of 5 tasks each.
  subflow_overhead  a flow calling 100 empty subflows: per-subflow ms.
  retries           a task failing twice then succeeding (retries=3, retry_delay_seconds=0).
  cache             an INPUTS-cached task: first call, then the cache hit.
  scale_10k         10,000 sequential tasks in one flow (fresh process): time per 1,000-task
                    slice, RSS (Prefect only with --prefect-10k at --scale >= 1: minutes).

Prints one JSON object on stdout (progress on stderr): the figures of both tools, ratios
``prefect / loopml`` and a pass/fail per target. Usage::

  .venv/bin/python benchmarks/bench_orchestration.py --install-peers    # both tools, ~12 min
  .venv/bin/python benchmarks/bench_orchestration.py --scale 0.05       # smoke run, ~3 min
  .venv/bin/python benchmarks/bench_orchestration.py --no-peers         # loopml only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c
import _orchestration_workloads as owl
from _common import pc
from bench_tracking import busy_note, clean_env, get, merge_repeats, ratio
from peers import venv as peer_venv

WHO = "bench_orchestration"
HERE = Path(__file__).resolve().parent
MARKER = ".bench_orchestration"
TOOLS = ("loopml", "prefect")

BASE_SIZES: dict[str, Any] = {
    "tasks": 1000,  # sequential, submit, map (and the store-bytes flow)
    "subflows": 100,
    "subflow_tasks": 5,
    "subflow_overhead": 100,  # empty subflows in one parent flow
    "big_tasks": 10_000,
    "big_slices": 10,
    "exit_tasks": 300,  # persistence: tasks of the flow that exits at once
    "light_samples": 5,  # empty flow, retries, cache
    "seq_samples": 3,  # sequential (the first one also measures the store bytes)
    "heavy_samples": 1,  # submit, map, subflows, subflow_overhead
}
SCALED = ("tasks", "subflows", "subflow_overhead", "big_tasks", "exit_tasks")


@dataclass_free_store := None  # placeholder removed below (keeps mypy quiet about reassignments)

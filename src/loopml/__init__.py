"""loopml: the whole MLOps loop in one install.

Two ways in, like httpx: the fluent API for notebooks and scripts
(``loopml.start_run()``, ``loopml.log_metric()``) and explicit objects for programs
(``loopml.Client(tracking_uri=...)``). Importing loopml loads nothing heavy: each name below is
imported from its module when first used (PEP 562), so ``import loopml`` and every ``loopml``
command start without the tracking, orchestration, serving or model modules they do not use.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__

if TYPE_CHECKING:
    from . import cache_policies as cache_policies
    from . import runtime as runtime
    from .entities import Dataset as Dataset
    from .entities import DatasetInput as DatasetInput
    from .entities import Event as Event
    from .entities import Experiment as Experiment
    from .entities import FileInfo as FileInfo
    from .entities import FlowRun as FlowRun
    from .entities import LifecycleStage as LifecycleStage
    from .entities import LogRecord as LogRecord
    from .entities import Metric as Metric
    from .entities import MetricHistory as MetricHistory
    from .entities import ModelChange as ModelChange
    from .entities import ModelStage as ModelStage
    from .entities import ModelVersion as ModelVersion
    from .entities import PagedList as PagedList
    from .entities import Param as Param
    from .entities import RegisteredModel as RegisteredModel
    from .entities import Run as Run
    from .entities import RunArtifact as RunArtifact
    from .entities import RunData as RunData
    from .entities import RunInfo as RunInfo
    from .entities import RunStatus as RunStatus
    from .entities import RunTag as RunTag
    from .entities import StateType as StateType
    from .entities import TaskRun as TaskRun
    from .errors import AlreadyExists as AlreadyExists
    from .errors import Conflict as Conflict
    from .errors import InvalidFilter as InvalidFilter
    from .errors import InvalidInput as InvalidInput
    from .errors import LoopmlError as LoopmlError
    from .errors import MissingExtra as MissingExtra
    from .errors import NotFound as NotFound
    from .errors import PermissionDenied as PermissionDenied
    from .errors import RunTimedOut as RunTimedOut
    from .errors import SchemaOutdated as SchemaOutdated
    from .errors import StoreError as StoreError
    from .errors import Unauthenticated as Unauthenticated
    from .errors import UpstreamFailed as UpstreamFailed
    from .models.api import ModelInfo as ModelInfo
    from .models.api import load_model as load_model
    from .models.api import log_model as log_model
    from .models.api import save_model as save_model
    from .models.signature import ModelSignature as ModelSignature
    from .models.signature import infer_signature as infer_signature
    from .monitoring.reference import log_reference as log_reference
    from .orchestration.flow import Flow as Flow
    from .orchestration.flow import flow as flow
    from .orchestration.futures import TaskFuture as TaskFuture
    from .orchestration.futures import as_completed as as_completed
    from .orchestration.futures import unmapped as unmapped
    from .orchestration.futures import wait as wait
    from .orchestration.options import exponential_backoff as exponential_backoff
    from .orchestration.run_artifacts import create_link_artifact as create_link_artifact
    from .orchestration.run_artifacts import create_markdown_artifact as create_markdown_artifact
    from .orchestration.run_artifacts import create_table_artifact as create_table_artifact
    from .orchestration.run_logger import get_run_logger as get_run_logger
    from .orchestration.runners import DaskTaskRunner as DaskTaskRunner
    from .orchestration.runners import InlineTaskRunner as InlineTaskRunner
    from .orchestration.runners import ProcessPoolTaskRunner as ProcessPoolTaskRunner
    from .orchestration.runners import ThreadPoolTaskRunner as ThreadPoolTaskRunner
    from .orchestration.states import State as State
    from .orchestration.task import Task as Task
    from .orchestration.task import task as task
    from .registry.api import register_model as register_model
    from .serving.batch import BatchResult as BatchResult
    from .serving.batch import score_batch as score_batch
    from .tracking.client import Client as Client
    from .tracking.fluent import ActiveRun as ActiveRun
    from .tracking.fluent import active_run as active_run
    from .tracking.fluent import create_experiment as create_experiment
    from .tracking.fluent import delete_tag as delete_tag
    from .tracking.fluent import download_artifacts as download_artifacts
    from .tracking.fluent import end_run as end_run
    from .tracking.fluent import get_artifact_uri as get_artifact_uri
    from .tracking.fluent import get_experiment as get_experiment
    from .tracking.fluent import get_experiment_by_name as get_experiment_by_name
    from .tracking.fluent import get_run as get_run
    from .tracking.fluent import get_tracking_uri as get_tracking_uri
    from .tracking.fluent import last_active_run as last_active_run
    from .tracking.fluent import log_artifact as log_artifact
    from .tracking.fluent import log_artifacts as log_artifacts
    from .tracking.fluent import log_dict as log_dict
    from .tracking.fluent import log_figure as log_figure
    from .tracking.fluent import log_input as log_input
    from .tracking.fluent import log_metric as log_metric
    from .tracking.fluent import log_metrics as log_metrics
    from .tracking.fluent import log_param as log_param
    from .tracking.fluent import log_params as log_params
    from .tracking.fluent import log_text as log_text
    from .tracking.fluent import search_runs as search_runs
    from .tracking.fluent import set_experiment as set_experiment
    from .tracking.fluent import set_tag as set_tag
    from .tracking.fluent import set_tags as set_tags
    from .tracking.fluent import set_tracking_uri as set_tracking_uri
    from .tracking.fluent import start_run as start_run

__all__ = [
    "ActiveRun",
    "AlreadyExists",
    "BatchResult",
    "Client",
    "Conflict",
    "DaskTaskRunner",
    "Dataset",
    "DatasetInput",
    "Event",
    "Experiment",
    "FileInfo",
    "Flow",
    "FlowRun",
    "InlineTaskRunner",
    "InvalidFilter",
    "InvalidInput",
    "LifecycleStage",
    "LogRecord",
    "LoopmlError",
    "Metric",
    "MetricHistory",
    "MissingExtra",
    "ModelChange",
    "ModelInfo",
    "ModelSignature",
    "ModelStage",
    "ModelVersion",
    "NotFound",
    "PagedList",
    "Param",
    "PermissionDenied",
    "ProcessPoolTaskRunner",
    "RegisteredModel",
    "Run",
    "RunArtifact",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "RunTimedOut",
    "SchemaOutdated",
    "State",
    "StateType",
    "StoreError",
    "Task",
    "TaskFuture",
    "TaskRun",
    "ThreadPoolTaskRunner",
    "Unauthenticated",
    "UpstreamFailed",
    "__version__",
    "active_run",
    "as_completed",
    "cache_policies",
    "create_experiment",
    "create_link_artifact",
    "create_markdown_artifact",
    "create_table_artifact",
    "delete_tag",
    "download_artifacts",
    "end_run",
    "exponential_backoff",
    "flow",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_run_logger",
    "get_tracking_uri",
    "infer_signature",
    "last_active_run",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_reference",
    "log_text",
    "register_model",
    "runtime",
    "save_model",
    "score_batch",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "task",
    "unmapped",
    "wait",
]

# name -> the module (relative to this package) it comes from
_WHERE = {
    "Dataset": "entities",
    "DatasetInput": "entities",
    "Event": "entities",
    "Experiment": "entities",
    "FileInfo": "entities",
    "FlowRun": "entities",
    "LifecycleStage": "entities",
    "LogRecord": "entities",
    "Metric": "entities",
    "MetricHistory": "entities",
    "ModelChange": "entities",
    "ModelStage": "entities",
    "ModelVersion": "entities",
    "PagedList": "entities",
    "Param": "entities",
    "RegisteredModel": "entities",
    "Run": "entities",
    "RunArtifact": "entities",
    "RunData": "entities",
    "RunInfo": "entities",
    "RunStatus": "entities",
    "RunTag": "entities",
    "StateType": "entities",
    "TaskRun": "entities",
    "AlreadyExists": "errors",
    "Conflict": "errors",
    "InvalidFilter": "errors",
    "InvalidInput": "errors",
    "LoopmlError": "errors",
    "MissingExtra": "errors",
    "NotFound": "errors",
    "PermissionDenied": "errors",
    "RunTimedOut": "errors",
    "SchemaOutdated": "errors",
    "StoreError": "errors",
    "Unauthenticated": "errors",
    "UpstreamFailed": "errors",
    "ModelInfo": "models.api",
    "load_model": "models.api",
    "log_model": "models.api",
    "save_model": "models.api",
    "ModelSignature": "models.signature",
    "infer_signature": "models.signature",
    "log_reference": "monitoring.reference",
    "Flow": "orchestration.flow",
    "flow": "orchestration.flow",
    "TaskFuture": "orchestration.futures",
    "as_completed": "orchestration.futures",
    "unmapped": "orchestration.futures",
    "wait": "orchestration.futures",
    "exponential_backoff": "orchestration.options",
    "create_link_artifact": "orchestration.run_artifacts",
    "create_markdown_artifact": "orchestration.run_artifacts",
    "create_table_artifact": "orchestration.run_artifacts",
    "get_run_logger": "orchestration.run_logger",
    "DaskTaskRunner": "orchestration.runners",
    "InlineTaskRunner": "orchestration.runners",
    "ProcessPoolTaskRunner": "orchestration.runners",
    "ThreadPoolTaskRunner": "orchestration.runners",
    "State": "orchestration.states",
    "Task": "orchestration.task",
    "task": "orchestration.task",
    "register_model": "registry.api",
    "BatchResult": "serving.batch",
    "score_batch": "serving.batch",
    "Client": "tracking.client",
    "ActiveRun": "tracking.fluent",
    "active_run": "tracking.fluent",
    "create_experiment": "tracking.fluent",
    "delete_tag": "tracking.fluent",
    "download_artifacts": "tracking.fluent",
    "end_run": "tracking.fluent",
    "get_artifact_uri": "tracking.fluent",
    "get_experiment": "tracking.fluent",
    "get_experiment_by_name": "tracking.fluent",
    "get_run": "tracking.fluent",
    "get_tracking_uri": "tracking.fluent",
    "last_active_run": "tracking.fluent",
    "log_artifact": "tracking.fluent",
    "log_artifacts": "tracking.fluent",
    "log_dict": "tracking.fluent",
    "log_figure": "tracking.fluent",
    "log_input": "tracking.fluent",
    "log_metric": "tracking.fluent",
    "log_metrics": "tracking.fluent",
    "log_param": "tracking.fluent",
    "log_params": "tracking.fluent",
    "log_text": "tracking.fluent",
    "search_runs": "tracking.fluent",
    "set_experiment": "tracking.fluent",
    "set_tag": "tracking.fluent",
    "set_tags": "tracking.fluent",
    "set_tracking_uri": "tracking.fluent",
    "start_run": "tracking.fluent",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value  # the next access skips __getattr__
        return value
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f".{name}", __name__)  # a subpackage: loopml.models, ...
    raise AttributeError(f"module 'loopml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

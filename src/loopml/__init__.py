"""loopml: the whole MLOps loop in one install.

Two ways in, like httpx: the fluent API for notebooks and scripts
(``loopml.start_run()``, ``loopml.log_metric()``) and explicit objects for programs
(``loopml.Client(tracking_uri=...)``). Importing loopml loads nothing heavy.
"""

from ._version import __version__ as __version__
from .entities import Dataset as Dataset
from .entities import DatasetInput as DatasetInput
from .entities import Event as Event
from .entities import Experiment as Experiment
from .entities import FileInfo as FileInfo
from .entities import LifecycleStage as LifecycleStage
from .entities import Metric as Metric
from .entities import MetricHistory as MetricHistory
from .entities import ModelChange as ModelChange
from .entities import ModelStage as ModelStage
from .entities import ModelVersion as ModelVersion
from .entities import PagedList as PagedList
from .entities import Param as Param
from .entities import RegisteredModel as RegisteredModel
from .entities import Run as Run
from .entities import RunData as RunData
from .entities import RunInfo as RunInfo
from .entities import RunStatus as RunStatus
from .entities import RunTag as RunTag
from .errors import AlreadyExists as AlreadyExists
from .errors import Conflict as Conflict
from .errors import InvalidFilter as InvalidFilter
from .errors import InvalidInput as InvalidInput
from .errors import LoopmlError as LoopmlError
from .errors import MissingExtra as MissingExtra
from .errors import NotFound as NotFound
from .errors import PermissionDenied as PermissionDenied
from .errors import SchemaOutdated as SchemaOutdated
from .errors import StoreError as StoreError
from .errors import Unauthenticated as Unauthenticated
from .models.api import ModelInfo as ModelInfo
from .models.api import load_model as load_model
from .models.api import log_model as log_model
from .models.api import save_model as save_model
from .models.signature import ModelSignature as ModelSignature
from .models.signature import infer_signature as infer_signature
from .registry.api import register_model as register_model
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
    "Client",
    "Conflict",
    "Dataset",
    "DatasetInput",
    "Event",
    "Experiment",
    "FileInfo",
    "InvalidFilter",
    "InvalidInput",
    "LifecycleStage",
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
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "SchemaOutdated",
    "StoreError",
    "Unauthenticated",
    "__version__",
    "active_run",
    "create_experiment",
    "delete_tag",
    "download_artifacts",
    "end_run",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
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
    "log_text",
    "register_model",
    "save_model",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

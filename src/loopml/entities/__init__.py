"""Frozen value objects shared by every layer: what the store returns and the client hands out."""

from .dataset import Dataset as Dataset
from .dataset import DatasetInput as DatasetInput
from .experiment import Experiment as Experiment
from .file_info import FileInfo as FileInfo
from .flow import CacheEntry as CacheEntry
from .flow import FlowRun as FlowRun
from .flow import LogRecord as LogRecord
from .flow import RunArtifact as RunArtifact
from .flow import StateType as StateType
from .flow import TaskRun as TaskRun
from .lifecycle import LifecycleStage as LifecycleStage
from .lifecycle import RunStatus as RunStatus
from .metric import Metric as Metric
from .metric import Param as Param
from .metric import RunTag as RunTag
from .metric_history import MetricHistory as MetricHistory
from .model import Event as Event
from .model import ModelChange as ModelChange
from .model import ModelStage as ModelStage
from .model import ModelVersion as ModelVersion
from .model import RegisteredModel as RegisteredModel
from .paged_list import PagedList as PagedList
from .run import Run as Run
from .run import RunData as RunData
from .run import RunInfo as RunInfo
from .user import ApiToken as ApiToken
from .user import IssuedToken as IssuedToken
from .user import Permission as Permission
from .user import PermissionLevel as PermissionLevel
from .user import ResourceKind as ResourceKind
from .user import User as User

__all__ = [
    "ApiToken",
    "CacheEntry",
    "Dataset",
    "DatasetInput",
    "Event",
    "Experiment",
    "FileInfo",
    "FlowRun",
    "IssuedToken",
    "LifecycleStage",
    "LogRecord",
    "Metric",
    "MetricHistory",
    "ModelChange",
    "ModelStage",
    "ModelVersion",
    "PagedList",
    "Param",
    "Permission",
    "PermissionLevel",
    "RegisteredModel",
    "ResourceKind",
    "Run",
    "RunArtifact",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "StateType",
    "TaskRun",
    "User",
]

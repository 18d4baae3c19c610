"""Monitoring: reference profiles, drift tests, drift reports and the monitor of a served model.

``import loopml.monitoring`` is cheap: each name below is imported from its module when first
used (pandas, pyarrow and scipy load then, not at import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .drift import detect_drift as detect_drift
    from .monitors import MonitorResult as MonitorResult
    from .monitors import WindowDrift as WindowDrift
    from .monitors import monitor as monitor
    from .profiles import ColumnProfile as ColumnProfile
    from .profiles import Profile as Profile
    from .profiles import merge_profiles as merge_profiles
    from .profiles import profile as profile
    from .reference import load_reference as load_reference
    from .reference import log_reference as log_reference
    from .report import ColumnDrift as ColumnDrift
    from .report import DriftReport as DriftReport
    from .stattests import DriftTest as DriftTest
    from .stattests import drift_test as drift_test
    from .stattests import drift_tests as drift_tests

__all__ = [
    "ColumnDrift",
    "ColumnProfile",
    "DriftReport",
    "DriftTest",
    "MonitorResult",
    "Profile",
    "WindowDrift",
    "detect_drift",
    "drift_test",
    "drift_tests",
    "load_reference",
    "log_reference",
    "merge_profiles",
    "monitor",
    "profile",
]

_WHERE = {
    "ColumnDrift": "report",
    "ColumnProfile": "profiles",
    "DriftReport": "report",
    "DriftTest": "stattests",
    "MonitorResult": "monitors",
    "Profile": "profiles",
    "WindowDrift": "monitors",
    "detect_drift": "drift",
    "drift_test": "stattests",
    "drift_tests": "stattests",
    "load_reference": "reference",
    "log_reference": "reference",
    "merge_profiles": "profiles",
    "monitor": "monitors",
    "profile": "profiles",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml.monitoring' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)

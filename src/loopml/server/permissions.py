"""What each route of the REST API needs, in one table: :data:`RULES`.

A server run with ``--auth`` looks up every request's route here by (method, path template, as
FastAPI spells it: ``/api/v1/runs/{run_id}``). A rule says who may call it:

- ``PUBLIC``: anyone, without a token (``/health`` only);
- ``SIGNED_IN``: any valid token. Creates (the creator gets MANAGE on what they create) and
  lists/searches, which answer only what the caller may READ (the scoped store filters them);
- a level (READ, EDIT, MANAGE) on one experiment or registered model, and where the request names
  it: a path parameter, a body field, or a run id whose experiment it is;
- ``ADMIN_ONLY``: admins only. **A route missing from the table gets this** (:func:`rule_for`),
  and a test fails for every route of the app without an entry: a new route is refused to
  everyone but admins until it is given its rule here.

Admins pass every rule. The machinery that applies the table is in :mod:`loopml.server.auth`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from ..entities import PermissionLevel, ResourceKind

__all__ = [
    "ADMIN_ONLY",
    "PUBLIC",
    "RULES",
    "SIGNED_IN",
    "Access",
    "Locator",
    "Rule",
    "is_public_ui_path",
    "is_ui_path",
    "public_paths",
    "rule_for",
]

READ, EDIT, MANAGE = PermissionLevel.READ, PermissionLevel.EDIT, PermissionLevel.MANAGE
EXPERIMENT, MODEL = ResourceKind.EXPERIMENT, ResourceKind.REGISTERED_MODEL


class Access(Enum):
    PUBLIC = "public"
    SIGNED_IN = "signed in"
    RESOURCE = "resource"
    ADMIN = "admin"


@dataclass(frozen=True)
class Locator:
    """Where a request names its resource: ``source`` ``path`` (a path parameter), ``body`` (a
    field of the JSON body) or ``query``; with ``run`` the value is a run id and the resource is
    the run's experiment; with ``artifact`` the value is an artifact path under the server's
    artifacts destination (``<experiment id>/<run id>/artifacts/...``), whose first segment
    (once normalized as the artifact routes normalize it) is the experiment id."""

    source: Literal["path", "body", "query"]
    name: str
    run: bool = False
    artifact: bool = False


@dataclass(frozen=True)
class Rule:
    """``access``; for RESOURCE: the ``level`` needed on the ``kind`` of resource that ``locate``
    finds. ``creates``: a resource that does not exist yet passes (the request creates it and its
    creator gets MANAGE), as registering the first version of a model does."""

    access: Access
    kind: ResourceKind | None = None
    locate: Locator | None = None
    level: PermissionLevel | None = None
    creates: bool = False


PUBLIC = Rule(Access.PUBLIC)
SIGNED_IN = Rule(Access.SIGNED_IN)
ADMIN_ONLY = Rule(Access.ADMIN)


def _experiment(level: PermissionLevel, where: Locator | None = None) -> Rule:
    return Rule(Access.RESOURCE, EXPERIMENT, where or Locator("path", "experiment_id"), level)


def _run(level: PermissionLevel) -> Rule:
    return Rule(Access.RESOURCE, EXPERIMENT, Locator("path", "run_id", run=True), level)


def _model(level: PermissionLevel, *, creates: bool = False) -> Rule:
    return Rule(Access.RESOURCE, MODEL, Locator("path", "name"), level, creates)


def _artifacts(level: PermissionLevel, source: Literal["path", "query"]) -> Rule:
    return Rule(Access.RESOURCE, EXPERIMENT, Locator(source, "path", artifact=True), level)


_E = "/api/v1/experiments/{experiment_id}"
_R = "/api/v1/runs/{run_id}"
_M = "/api/v1/registered-models/{name}"
_V = _M + "/versions/{version}"
_F = "/api/v1/flow-runs/{flow_run_id}"

#: (method, path template) -> what the route needs. Flow and task records, logs, run artifacts and
#: the task cache belong to no experiment or model: any signed-in user may use them.
RULES: dict[tuple[str, str], Rule] = {
    # ---- the process, the schema and its documentation
    ("GET", "/health"): PUBLIC,
    ("GET", "/ready"): SIGNED_IN,
    ("GET", "/openapi.json"): SIGNED_IN,
    ("GET", "/docs"): SIGNED_IN,
    ("GET", "/docs/oauth2-redirect"): SIGNED_IN,
    # ---- experiments
    ("POST", "/api/v1/experiments"): SIGNED_IN,
    ("GET", "/api/v1/experiments"): SIGNED_IN,
    ("GET", _E): _experiment(READ),
    ("PATCH", _E): _experiment(EDIT),
    ("DELETE", _E): _experiment(MANAGE),
    ("POST", _E + "/restore"): _experiment(MANAGE),
    ("PUT", _E + "/tags/{key:path}"): _experiment(EDIT),
    # ---- runs and their data (a run's permissions are its experiment's)
    ("POST", "/api/v1/runs"): _experiment(EDIT, Locator("body", "experiment_id")),
    ("POST", "/api/v1/runs/search"): SIGNED_IN,
    ("GET", _R): _run(READ),
    ("PATCH", _R): _run(EDIT),
    ("DELETE", _R): _run(MANAGE),
    ("POST", _R + "/restore"): _run(MANAGE),
    ("POST", _R + "/terminate"): _run(EDIT),
    ("POST", _R + "/metrics"): _run(EDIT),
    ("POST", _R + "/params"): _run(EDIT),
    ("PUT", _R + "/tags/{key:path}"): _run(EDIT),
    ("DELETE", _R + "/tags/{key:path}"): _run(EDIT),
    ("POST", _R + "/batch"): _run(EDIT),
    ("GET", _R + "/metrics/{key:path}/history"): _run(READ),
    ("POST", _R + "/inputs"): _run(EDIT),
    ("GET", _R + "/inputs"): _run(READ),
    # ---- artifacts under the destination: <experiment id>/<run id>/artifacts/<path> (HEAD is GET)
    ("GET", "/api/v1/artifacts"): _artifacts(READ, "query"),
    ("GET", "/api/v1/artifacts/{path:path}"): _artifacts(READ, "path"),
    ("PUT", "/api/v1/artifacts/{path:path}"): _artifacts(EDIT, "path"),
    # ---- the model registry
    ("POST", "/api/v1/registered-models"): SIGNED_IN,
    ("POST", "/api/v1/registered-models/search"): SIGNED_IN,
    ("GET", _M): _model(READ),
    ("PATCH", _M): _model(EDIT),
    ("DELETE", _M): _model(MANAGE),
    ("PUT", _M + "/tags/{key:path}"): _model(EDIT),
    ("DELETE", _M + "/tags/{key:path}"): _model(EDIT),
    ("GET", _M + "/history"): _model(READ),
    ("GET", _M + "/latest-versions"): _model(READ),
    ("POST", _M + "/versions"): _model(EDIT, creates=True),
    ("GET", _V): _model(READ),
    ("PATCH", _V): _model(EDIT),
    ("DELETE", _V): _model(MANAGE),
    ("PUT", _V + "/tags/{key:path}"): _model(EDIT),
    ("DELETE", _V + "/tags/{key:path}"): _model(EDIT),
    ("POST", _V + "/stage"): _model(EDIT),
    ("PUT", _M + "/aliases/{alias:path}"): _model(EDIT),
    ("DELETE", _M + "/aliases/{alias:path}"): _model(EDIT),
    ("GET", _M + "/aliases/{alias:path}"): _model(READ),
    ("POST", _M + "/events"): _model(EDIT),
    ("POST", "/api/v1/model-versions/search"): SIGNED_IN,
    ("GET", "/api/v1/events"): SIGNED_IN,
    # ---- flow and task records
    ("POST", "/api/v1/flow-runs"): SIGNED_IN,
    ("POST", "/api/v1/flow-runs/search"): SIGNED_IN,
    ("POST", "/api/v1/flow-runs/heartbeat"): SIGNED_IN,
    ("GET", _F): SIGNED_IN,
    ("PATCH", _F): SIGNED_IN,
    ("GET", _F + "/task-runs"): SIGNED_IN,
    ("GET", _F + "/logs"): SIGNED_IN,
    ("POST", "/api/v1/records"): SIGNED_IN,
    ("GET", "/api/v1/run-artifacts"): SIGNED_IN,
    ("GET", "/api/v1/task-cache/{cache_key:path}"): SIGNED_IN,
    ("POST", "/api/v1/task-cache"): SIGNED_IN,
    ("DELETE", "/api/v1/task-cache"): SIGNED_IN,
}


#: The web UI (:mod:`loopml.server.ui`): its pages are for any signed-in user (each page shows
#: only what the user may READ, and its actions go through the API routes above); the sign-in
#: page and the assets are public.
UI_PREFIX = "/ui"
UI_PUBLIC_PATHS = frozenset({UI_PREFIX + "/login"})
UI_PUBLIC_PREFIX = UI_PREFIX + "/static/"


def is_ui_path(path: str) -> bool:
    """A path (or path template) of the web UI: ``/`` or under ``/ui``."""
    return path in ("/", UI_PREFIX) or path.startswith(UI_PREFIX + "/")


def is_public_ui_path(path: str) -> bool:
    return path in UI_PUBLIC_PATHS or path.startswith(UI_PUBLIC_PREFIX)


def rule_for(method: str, path: str) -> Rule:
    """The rule of a route; ADMIN_ONLY for a route the table does not know (HEAD is GET)."""
    if is_ui_path(path):
        return PUBLIC if is_public_ui_path(path) else SIGNED_IN
    return RULES.get(("GET" if method == "HEAD" else method, path), ADMIN_ONLY)


def public_paths() -> frozenset[str]:
    """The paths anyone may call without a token."""
    return frozenset(path for (_method, path), rule in RULES.items() if rule.access is Access.PUBLIC)

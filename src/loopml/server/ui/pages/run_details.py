"""What the run page gathers besides the run itself: the models logged among its artifacts
(their ``loopml-model.yaml`` and ``requirements.txt``), its datasets' columns (schema and
profile side by side), its parent and its child runs."""

from __future__ import annotations

import posixpath
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ....entities import DatasetInput, PagedList, PermissionLevel, Run
from ....errors import LoopmlError, NotFound
from ....models.descriptor import DESCRIPTOR_FILE, ModelDescriptor
from ...auth import caller_of
from ...scoped import scoped
from ..access import EXPERIMENT, allowed

if TYPE_CHECKING:
    from fastapi import Request

    from .run_artifacts import RunArtifacts

__all__ = [
    "LoggedModel",
    "RunFamily",
    "dataset_columns",
    "find_models",
    "run_family",
    "system_tag",
]

#: The most directory listings spent looking for models among a run's artifacts.
MODEL_SEARCH_LISTINGS = 40
#: How deep under the artifact root a model directory is looked for.
MODEL_SEARCH_DEPTH = 3
#: The most bytes of a descriptor or requirements.txt read.
MODEL_FILE_LIMIT = 256 * 1024
#: The most child runs listed.
CHILD_LIMIT = 100
REQUIREMENTS_FILE = "requirements.txt"
SYSTEM_TAG_PREFIX = "loopml."
_STATISTICS = ("min", "p50", "max", "mean", "std")


def system_tag(key: str) -> bool:
    """Tags loopml sets itself (``loopml.*``), hidden behind a toggle."""
    return key.startswith(SYSTEM_TAG_PREFIX)


@dataclass(frozen=True)
class LoggedModel:
    """A model directory among a run's artifacts: ``path`` (relative to the run's root), its
    descriptor (None with ``error`` when it cannot be read) and its requirements."""

    path: str
    descriptor: ModelDescriptor | None
    requirements: str | None
    error: str = ""

    @property
    def name(self) -> str:
        return self.path or "(artifact root)"


def find_models(artifacts: RunArtifacts) -> list[LoggedModel]:
    """Every directory holding a ``loopml-model.yaml``, breadth first, within
    :data:`MODEL_SEARCH_DEPTH` levels and :data:`MODEL_SEARCH_LISTINGS` listings."""
    found: list[LoggedModel] = []
    pending: deque[tuple[str, int]] = deque([("", 0)])
    listings = 0
    while pending and listings < MODEL_SEARCH_LISTINGS:
        rel, depth = pending.popleft()
        entries = artifacts.list(rel)
        listings += 1
        files = {posixpath.basename(e.path) for e in entries if not e.is_dir}
        if DESCRIPTOR_FILE in files:
            found.append(_read_model(artifacts, rel, REQUIREMENTS_FILE in files))
            continue
        if depth < MODEL_SEARCH_DEPTH:
            pending.extend((e.path, depth + 1) for e in entries if e.is_dir)
    return found


def _read_model(artifacts: RunArtifacts, rel: str, has_requirements: bool) -> LoggedModel:
    from ....models.yamlio import load_yaml

    def inside(name: str) -> str:
        return f"{rel}/{name}" if rel else name

    try:
        text, _ = artifacts.read_head(inside(DESCRIPTOR_FILE), MODEL_FILE_LIMIT)
        data = load_yaml(text, what=inside(DESCRIPTOR_FILE))
        if not isinstance(data, dict):
            raise NotFound(f"{inside(DESCRIPTOR_FILE)} holds no mapping")
        descriptor = ModelDescriptor.from_dict(data, source=inside(DESCRIPTOR_FILE))
        requirements = None
        if has_requirements:
            raw, _ = artifacts.read_head(inside(REQUIREMENTS_FILE), MODEL_FILE_LIMIT)
            requirements = raw.decode("utf-8", errors="replace")
    except (LoopmlError, KeyError, TypeError, ValueError) as exc:
        message = exc.message if isinstance(exc, LoopmlError) else str(exc)
        return LoggedModel(rel, None, None, f"cannot read {inside(DESCRIPTOR_FILE)}: {message}")
    return LoggedModel(rel, descriptor, requirements)


def dataset_columns(item: DatasetInput) -> list[dict[str, Any]]:
    """One row per column of the dataset: its name and dtype (schema, else profile), missing
    values, numeric statistics or distinct count and top values (profile, when recorded)."""
    profile = item.dataset.profile.get("columns") if isinstance(item.dataset.profile, dict) else None
    profiled: dict[str, Any] = profile if isinstance(profile, dict) else {}
    names = list(item.dataset.schema) + [n for n in profiled if n not in item.dataset.schema]
    rows = []
    for name in names:
        found = profiled.get(name)
        stats: dict[str, Any] = found if isinstance(found, dict) else {}
        top = stats.get("top") or []
        rows.append(
            {
                "name": name,
                "type": item.dataset.schema.get(name) or stats.get("type", ""),
                "missing": stats.get("missing"),
                "stats": {k: stats.get(k) for k in _STATISTICS},
                "numeric": any(k in stats for k in _STATISTICS),
                "distinct": stats.get("distinct"),
                "top": ", ".join(
                    f"{t.get('value')} ({t.get('count')})" for t in top[:3] if isinstance(t, dict)
                ),
            }
        )
    return rows


@dataclass(frozen=True)
class RunFamily:
    """A run's parent (``parent`` None when it is gone or not readable: ``parent_id`` stays)
    and its child runs in the same experiment (``more`` when there are more than listed)."""

    parent_id: str | None
    parent: Run | None
    children: list[Run]
    more: bool


def run_family(request: Request, run: Run) -> RunFamily:
    """The parent and the children of ``run``, as the signed-in user may see them."""
    store = request.app.state.store
    parent_id = run.info.parent_run_id
    parent = None
    if parent_id:
        try:
            candidate = store.get_run(parent_id)
            if allowed(request, PermissionLevel.READ, EXPERIMENT, candidate.info.experiment_id):
                parent = candidate
        except NotFound:
            parent = None
    user = caller_of(request)
    view = scoped(store, user) if user else store
    quoted = run.run_id.replace("\\", "\\\\").replace("'", "\\'")
    page: PagedList[Run] = view.search_runs(
        [run.info.experiment_id], f"parent_run_id = '{quoted}'", ["start_time ASC"], "all", CHILD_LIMIT
    )
    return RunFamily(parent_id, parent, list(page), page.token is not None)

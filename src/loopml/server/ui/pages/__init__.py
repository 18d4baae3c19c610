"""The UI's pages, one module per area; :data:`ROUTERS` is what :func:`install_ui` mounts."""

from __future__ import annotations

from . import compare, experiments, flows, home, models, monitoring, runs

__all__ = ["ROUTERS"]

ROUTERS = (
    home.router,
    experiments.router,
    compare.router,
    runs.router,
    models.router,
    flows.router,
    monitoring.router,
)

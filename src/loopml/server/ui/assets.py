"""``/ui/static/<name>``: the UI's own CSS and JavaScript, and plotly's bundled ``plotly.min.js``
(from the installed plotly package, never fetched from the internet or copied here)."""

from __future__ import annotations

import mimetypes
from importlib import resources
from pathlib import Path

from fastapi.responses import FileResponse, Response

from ...errors import NotFound
from .routing import ui_router

__all__ = ["PLOTLY", "router"]

router = ui_router()

PLOTLY = "plotly.min.js"
_CACHE = "public, max-age=86400"


@router.get("/static/{name:path}")
def static_file(name: str) -> Response:
    """One asset; 404 for anything that is not a file of the UI's static folder or plotly.js."""
    path = _plotly_js() if name == PLOTLY else _own(name)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": _CACHE})


def _own(name: str) -> Path:
    folder = Path(str(resources.files("loopml.server.ui") / "static")).resolve()
    path = (folder / name).resolve()
    if folder not in path.parents or not path.is_file():
        raise NotFound(f"no UI asset {name!r}", name=name)
    return path


def _plotly_js() -> Path:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / PLOTLY
    if not path.is_file():  # pragma: no cover - every plotly release since 4 ships it
        raise NotFound("this plotly installation has no package_data/plotly.min.js")
    return path

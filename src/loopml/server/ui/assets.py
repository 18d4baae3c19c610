"""``/ui/static/<name>``: the UI's own CSS and JavaScript, and plotly's bundled ``plotly.min.js``
(from the installed plotly package, never fetched from the internet or copied here).

Text assets go gzip-compressed to browsers that accept it (plotly.min.js: 4.8 MB -> ~1.4 MB),
compressed once per app and file version and kept in ``app.state.ui_gzip``."""

from __future__ import annotations

import mimetypes
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, Response

from ...errors import NotFound
from .routing import ui_router

__all__ = ["PLOTLY", "router"]

router = ui_router()

PLOTLY = "plotly.min.js"
_CACHE = "public, max-age=86400"


_COMPRESSED = (".js", ".css", ".svg", ".html", ".json")


@router.get("/static/{name:path}")
def static_file(name: str, request: Request) -> Response:
    """One asset; 404 for anything that is not a file of the UI's static folder or plotly.js."""
    path = _plotly_js() if name == PLOTLY else _own(name)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {"Cache-Control": _CACHE, "Vary": "Accept-Encoding"}
    if path.suffix in _COMPRESSED and "gzip" in request.headers.get("accept-encoding", ""):
        body = _gzipped(request.app.state, path)
        return Response(body, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
    return FileResponse(path, media_type=media_type, headers=headers)


def _gzipped(state: Any, path: Path) -> bytes:
    import gzip

    cache: dict[tuple[str, int], bytes] = state.ui_gzip
    key = (str(path), path.stat().st_mtime_ns)
    found = cache.get(key)
    if found is None:
        found = cache[key] = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
    return found


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

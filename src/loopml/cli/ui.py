"""``loopml ui``: the web UI on the embedded store (or ``--tracking-uri``'s SQL store), for one
person on this machine: ``loopml server`` without authentication, on 127.0.0.1."""

from __future__ import annotations

import os

import click

from . import CliState, pass_state, tracking_uri_option

__all__ = ["ui"]


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535), help="Port.")
@click.option("--open/--no-open", "open_browser", default=False, help="Open a browser on the UI.")
@tracking_uri_option
@pass_state
def ui(state: CliState, host: str, port: int, open_browser: bool) -> None:
    """Open the web UI: experiments, runs, models, flows and drift of the local store, at
    http://HOST:PORT/. Needs the ui extra (pip install 'loopml[ui]')."""
    import importlib.util

    from ..errors import InvalidInput, MissingExtra
    from ..settings import load_settings
    from .server import check_store, run_uvicorn

    for module in ("jinja2", "plotly"):
        if importlib.util.find_spec(module) is None:
            raise MissingExtra("ui", module=module)
    settings = load_settings(tracking_uri=state.tracking_uri)
    uri = settings.resolved_tracking_uri
    if uri.startswith(("http://", "https://")):
        raise InvalidInput(f"loopml ui opens a local store; the server at {uri} serves its UI at {uri}/")
    check_store(uri, settings.sqlite_busy_timeout_s)
    os.environ["LOOPML_SERVER_AUTH"] = "0"
    os.environ["LOOPML_BACKEND_STORE_URI"] = uri
    os.environ["LOOPML_ARTIFACTS_DESTINATION"] = settings.resolved_artifact_root
    click.echo(f"loopml UI on http://{host}:{port}/ (store {uri}); Ctrl+C stops it")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.5, webbrowser.open, [f"http://{host}:{port}/"]).start()
    run_uvicorn(host=host, port=port, workers=1, access_log=False)

"""The ``loopml`` command: ``loopml <noun> <verb>`` plus a few top-level verbs.

Only click is imported here; each command imports what it needs (the Client, SQLAlchemy,
pandas, scikit-learn) when it runs, so ``loopml --help`` stays fast. Every
:class:`~loopml.errors.LoopmlError` ends the command with ``error: <message>`` on stderr
and the error's ``exit_code``; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .._version import __version__
from ..errors import LoopmlError
from . import CliState
from .batch import batch
from .db import db
from .experiments import experiments
from .flows import cache, flows
from .models import models
from .monitor import drift, monitor, profile
from .permissions import permissions
from .runs import runs
from .serve import serve
from .server import server
from .ui import ui
from .users import create_admin, users

__all__ = ["cli", "main"]


class LoopmlGroup(click.Group):
    """The root group: turns a LoopmlError raised by any command into a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LoopmlError as exc:
            from .output import print_error

            print_error(exc)
            ctx.exit(exc.exit_code)


@click.group(cls=LoopmlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--tracking-uri",
    metavar="URI",
    default=None,
    help="Metadata store (sqlite:///path, postgresql://...). Default: LOOPML_TRACKING_URI, "
    "else SQLite in LOOPML_HOME (~/.loopml).",
)
@click.version_option(__version__, "-V", "--version", prog_name="loopml")
@click.pass_context
def cli(ctx: click.Context, tracking_uri: str | None) -> None:
    """loopml: track, register, deploy and monitor models in one loop."""
    ctx.obj = CliState(tracking_uri=tracking_uri)


@cli.command()
def version() -> None:
    """Print loopml's version and Python's."""
    import platform

    click.echo(f"loopml {__version__} (Python {platform.python_version()}, {sys.executable})")


@cli.command()
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".loopml-demo"),
    show_default=True,
    help="Where the demo keeps its database and artifacts (never ~/.loopml).",
)
def demo(home: Path) -> None:
    """Train and track models in a flow, serve the best over HTTP, swap in a new version, batch-score.

    The demo always writes to its own HOME (sqlite:///HOME/loopml.db and HOME/artifacts);
    --tracking-uri does not apply to it.
    """
    from ..demo import run_demo
    from .output import stdout_console

    run_demo(home, console=stdout_console())


cli.add_command(experiments)
cli.add_command(runs)
cli.add_command(models)
cli.add_command(db)
cli.add_command(flows)
cli.add_command(cache)
cli.add_command(server)
cli.add_command(serve)
cli.add_command(batch)
cli.add_command(monitor)
cli.add_command(drift)
cli.add_command(profile)
cli.add_command(ui)
cli.add_command(users)
cli.add_command(permissions)
server.add_command(create_admin)


def main(argv: list[str] | None = None) -> None:
    """The console-script entry point (``loopml``) and ``python -m loopml``."""
    cli.main(args=argv, prog_name="loopml")

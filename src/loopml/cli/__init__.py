"""The ``loopml`` command (click), one module per command group; the root group is in ``main``.

:class:`CliState` is what the root group's options resolve to. Commands receive it with
``@pass_state`` and build the Client through it, on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from .. import Client

__all__ = ["CliState", "pass_state", "tracking_uri_option"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    """The root group's options, handed to every command as ``ctx.obj``."""

    tracking_uri: str | None = None
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        """The Client for ``--tracking-uri`` (else the settings), built on first use, closed at exit."""
        if self._client is None:
            from .. import Client

            self._client = Client(tracking_uri=self.tracking_uri)
            ctx = click.get_current_context(silent=True)
            close = getattr(self._client, "close", None)
            if ctx is not None and callable(close):
                ctx.find_root().call_on_close(close)
        return self._client


pass_state = click.make_pass_decorator(CliState, ensure=True)


def tracking_uri_option(command: F) -> F:
    """``--tracking-uri`` on a command too, so ``loopml runs list --tracking-uri URI`` works like
    ``loopml --tracking-uri URI runs list``; given on both, the command's wins."""

    def remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.ensure_object(CliState).tracking_uri = value

    return click.option(
        "--tracking-uri",
        metavar="URI",
        default=None,
        expose_value=False,
        callback=remember,
        help="Metadata store URI; same as `loopml --tracking-uri`.",
    )(command)

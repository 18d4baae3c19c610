"""The one exception tree of loopml.

Every error loopml raises on its own account is a :class:`LoopmlError`. Each class
knows the HTTP status a server answers with and the exit code the CLI ends with::

    LoopmlError                  500  exit 1   something went wrong inside loopml
    ├── InvalidInput             400  exit 2   a value given by the caller is not acceptable
    │   ├── InvalidFilter        400  exit 2   a search filter does not parse (names the position)
    │   └── PayloadTooLarge      413  exit 2   a request body above the server's limit
    ├── Unauthenticated          401  exit 6   no or bad credentials
    ├── PermissionDenied         403  exit 7   credentials lack the permission
    ├── NotFound                 404  exit 3   an id or name that does not exist
    ├── AlreadyExists            409  exit 4   a create that would duplicate a name or id
    ├── Conflict                 409  exit 5   the request contradicts stored state
    ├── StoreError               503  exit 10  the metadata or artifact store failed
    ├── RunTimedOut              504  exit 12  a task or flow run exceeded its timeout_seconds
    ├── UpstreamFailed           424  exit 13  a task did not run: a task it waits for failed
    ├── ModelFailed              500  exit 14  a served model raised while predicting
    ├── NotReady                 503  exit 15  a served model is not loaded yet
    │   └── SchemaOutdated       503  exit 10  the database schema needs ``loopml db upgrade``
    └── MissingExtra             500  exit 11  an optional dependency is not installed

Errors raised by user code (a training function, a task) are never wrapped:
they propagate unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlreadyExists",
    "Conflict",
    "InvalidFilter",
    "InvalidInput",
    "LoopmlError",
    "MissingExtra",
    "ModelFailed",
    "NotFound",
    "NotReady",
    "PayloadTooLarge",
    "PermissionDenied",
    "RunTimedOut",
    "SchemaOutdated",
    "StoreError",
    "Unauthenticated",
    "UpstreamFailed",
]


class LoopmlError(Exception):
    """Base of every loopml error. ``details`` carries machine-readable context."""

    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body a server sends: ``{"error": {code, message, details}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(LoopmlError):
    """A value given by the caller is not acceptable; the message names it."""

    http_status = 400
    exit_code = 2
    code = "invalid_input"


class InvalidFilter(InvalidInput):
    """A search filter does not parse; ``position`` is the 0-based offset of the problem."""

    code = "invalid_filter"

    def __init__(self, message: str, *, filter_string: str, position: int, expected: str = "") -> None:
        pointer = f"{filter_string}\n{' ' * position}^"
        full = f"{message} at position {position}"
        if expected:
            full += f" (expected {expected})"
        super().__init__(f"{full}:\n{pointer}", filter=filter_string, position=position, expected=expected)
        self.position = position
        self.expected = expected


class PayloadTooLarge(InvalidInput):
    """A request body larger than the server accepts; the message gives both sizes."""

    http_status = 413
    code = "payload_too_large"


class Unauthenticated(LoopmlError):
    http_status = 401
    exit_code = 6
    code = "unauthenticated"


class PermissionDenied(LoopmlError):
    http_status = 403
    exit_code = 7
    code = "permission_denied"


class NotFound(LoopmlError):
    """An id or a name that does not exist."""

    http_status = 404
    exit_code = 3
    code = "not_found"


class AlreadyExists(LoopmlError):
    """A create that would duplicate an existing name or id."""

    http_status = 409
    exit_code = 4
    code = "already_exists"


class Conflict(LoopmlError):
    """The request contradicts stored state (a param re-logged with another value, a finished run)."""

    http_status = 409
    exit_code = 5
    code = "conflict"


class StoreError(LoopmlError):
    """The metadata store or the artifact store failed."""

    http_status = 503
    exit_code = 10
    code = "store_error"


class SchemaOutdated(StoreError):
    """The database schema is older than this loopml; run ``loopml db upgrade URI``."""

    code = "schema_outdated"


class RunTimedOut(LoopmlError):
    """A task or flow run did not finish within its ``timeout_seconds``."""

    http_status = 504
    exit_code = 12
    code = "timed_out"


class UpstreamFailed(LoopmlError):
    """A task was not run because a task it depends on (an argument or ``wait_for``) failed."""

    http_status = 424
    exit_code = 13
    code = "upstream_failed"


class ModelFailed(LoopmlError):
    """A served model raised while predicting; the server answers 500 and keeps serving."""

    exit_code = 14
    code = "model_error"


class NotReady(LoopmlError):
    """A served model is still loading (or failed to load); ``GET /ready`` says which."""

    http_status = 503
    exit_code = 15
    code = "not_ready"


class MissingExtra(LoopmlError):
    """An optional dependency is missing; the message says which extra to install."""

    exit_code = 11
    code = "missing_extra"

    def __init__(self, extra: str, *, module: str) -> None:
        super().__init__(
            f"this feature needs the optional dependency {module!r}: pip install 'loopml[{extra}]'",
            extra=extra,
            module=module,
        )
        self.extra = extra


def error_class(code: str) -> type[LoopmlError] | None:
    """The error class whose ``code`` is ``code`` (``None`` for an unknown code).

    The tree is walked at each call, parents before children, so a subclass defined in
    another module counts, and a subclass that keeps its parent's code never shadows it.
    """
    stack: list[type[LoopmlError]] = [LoopmlError]
    while stack:
        cls = stack.pop(0)
        if cls.code == code:
            return cls
        stack.extend(cls.__subclasses__())
    return None


def error_from_wire(
    cls: type[LoopmlError], message: str, details: dict[str, Any] | None = None
) -> LoopmlError:
    """An instance of ``cls`` with the ``message`` and ``details`` of an error body, as the
    server raised it (the HTTP store re-raises what the server's store raised)."""
    details = dict(details or {})
    error = cls.__new__(cls)
    LoopmlError.__init__(error, message, **details)
    if isinstance(error, InvalidFilter):
        error.position = int(details.get("position", 0))
        error.expected = str(details.get("expected", ""))
    if isinstance(error, MissingExtra):
        error.extra = str(details.get("extra", ""))
    return error

"""The settings table: every knob of loopml, read from ``LOOPML_*`` environment variables.

Nothing is read at import. :func:`load_settings` resolves the table when a Client, a
server or a CLI command is built, so a change to the environment is seen by the next one.

The table is plain Python (a frozen dataclass and one parser per field) rather than
pydantic-settings: building the first Client is on the path of every fresh process that
loads a model or runs a flow, and pydantic-settings alone costs ~0.2 s to import there.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidInput

__all__ = ["ENV_PREFIX", "Settings", "load_settings"]

ENV_PREFIX = "LOOPML_"


def _path(text: str) -> Path:
    return Path(text).expanduser()


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be > 0")
    return value


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
        raise ValueError("must be true or false (1/0, yes/no, on/off)")
    return value in ("1", "true", "yes", "on")


def _setting(default: Any, description: str, parse: Callable[[str], Any] = str) -> Any:
    return field(default=default, metadata={"description": description, "parse": parse})


@dataclass(frozen=True)
class Settings:
    """loopml's settings; each field is read from ``LOOPML_<FIELD>`` (upper case)."""

    home: Path = field(
        default_factory=lambda: Path("~/.loopml").expanduser(),  # read when built
        metadata={"description": "Where the embedded store keeps its database and artifacts", "parse": _path},
    )
    tracking_uri: str = _setting(
        "", "Metadata store: sqlite:///path, postgresql://..., http(s)://; default: SQLite in home."
    )
    artifact_root: str = _setting(
        "", "Where artifacts go: a local path or any fsspec URL; default: <home>/artifacts."
    )
    result_storage: str = _setting(
        "", "Where persisted task results go: a local path or fsspec URL; default: <home>/results."
    )
    experiment_name: str = _setting("", "The experiment fluent runs go to.")
    experiment_id: str = _setting("", "Like experiment_name, by id.")
    tracking_token: str = field(
        default="",
        repr=False,  # a secret: never in a repr or a log line
        metadata={
            "description": "API token sent to a loopml server as `Authorization: Bearer <token>`.",
            "parse": str,
        },
    )
    backend_store_uri: str = _setting(
        "", "The server's metadata store (`loopml server --backend-store-uri`); default: SQLite in home."
    )
    artifacts_destination: str = _setting(
        "",
        "Where the server keeps artifacts (`loopml server --artifacts-destination`); "
        "default: <home>/artifacts.",
    )
    sqlite_busy_timeout_s: float = _setting(
        60.0, "How long a SQLite writer waits for the lock before failing.", _positive_float
    )
    server_auth: bool = _setting(
        False, "The server requires API tokens and checks permissions (`loopml server --auth`).", _flag
    )
    async_logging: bool = _setting(
        False,
        "Over HTTP, log_metric / log_param / set_tag are queued and sent in batches by a background "
        "thread (every ~50 ms or 1,000 values), flushed at run end and at exit.",
        _flag,
    )

    @property
    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or f"sqlite:///{(self.home / 'loopml.db').as_posix()}"

    @property
    def resolved_backend_store_uri(self) -> str:
        return self.backend_store_uri or f"sqlite:///{(self.home / 'loopml.db').as_posix()}"

    @property
    def resolved_artifacts_destination(self) -> str:
        return self.artifacts_destination or (self.home / "artifacts").as_posix()

    @property
    def resolved_result_storage(self) -> str:
        return self.result_storage or (self.home / "results").as_posix()

    @property
    def resolved_artifact_root(self) -> str:
        return self.artifact_root or (self.home / "artifacts").as_posix()


def load_settings(**overrides: object) -> Settings:
    """Read the environment now; explicit ``overrides`` (not None) win over it.

    A value that does not parse is InvalidInput naming the variable and the value.
    """
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(Settings):
        given = overrides.get(spec.name)
        variable = ENV_PREFIX + spec.name.upper()
        raw = given if given is not None else os.environ.get(variable)
        if raw is None:
            continue
        try:
            values[spec.name] = spec.metadata["parse"](os.fspath(raw) if isinstance(raw, Path) else str(raw))
        except ValueError as exc:
            source = spec.name if given is not None else variable
            raise InvalidInput(
                f"setting {source} = {raw!r} is invalid: {exc} ({spec.metadata['description']})",
                setting=spec.name,
            ) from None
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(Settings)})
    if unknown:
        raise InvalidInput(f"unknown setting(s) {unknown}")
    return Settings(**values)

"""The settings table: every knob of loopml, read from ``LOOPML_*`` environment variables.

Nothing is read at import. :func:`load_settings` resolves the table when a Client, a
server or a CLI command is built, so a change to the environment is seen by the next one.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """loopml's settings; each field is read from ``LOOPML_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="LOOPML_", frozen=True, extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path("~/.loopml"),
        description="Where the embedded store keeps its database and artifacts.",
    )
    tracking_uri: str = Field(
        default="",
        description="Metadata store: sqlite:///path, postgresql://..., http(s)://; default: SQLite in home.",
    )
    artifact_root: str = Field(
        default="",
        description="Where artifacts go: a local path or any fsspec URL; default: <home>/artifacts.",
    )
    result_storage: str = Field(
        default="",
        description="Where persisted task results go: a local path or fsspec URL; default: <home>/results.",
    )
    experiment_name: str = Field(default="", description="The experiment fluent runs go to.")
    experiment_id: str = Field(default="", description="Like experiment_name, by id.")
    sqlite_busy_timeout_s: float = Field(
        default=60.0, gt=0, description="How long a SQLite writer waits for the lock before failing."
    )

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or f"sqlite:///{(self.home / 'loopml.db').as_posix()}"

    @property
    def resolved_result_storage(self) -> str:
        return self.result_storage or (self.home / "results").as_posix()

    @property
    def resolved_artifact_root(self) -> str:
        return self.artifact_root or (self.home / "artifacts").as_posix()


def load_settings(**overrides: object) -> Settings:
    """Read the environment now; explicit ``overrides`` (not None) win over it."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**given)  # type: ignore[arg-type]

"""``loopml models list|show|versions|history|transition|alias|predict``: the model registry."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import CliState, pass_state, tracking_uri_option

if TYPE_CHECKING:
    from rich.table import Table

    from ..entities import ModelChange, ModelVersion, RegisteredModel

__all__ = ["models"]

_FRAME_SUFFIXES = (".csv", ".parquet", ".json")


@click.group()
def models() -> None:
    """Registered models: versions, stages, aliases, history, predictions."""


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A table of plain text cells (user values are never read as markup)."""
    from rich.table import Table
    from rich.text import Text

    from .output import format_value

    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(Text("-" if cell is None else format_value(cell)) for cell in row))
    return table


def version_to_dict(mv: ModelVersion) -> dict[str, Any]:
    return {
        "name": mv.name,
        "version": mv.version,
        "current_stage": mv.current_stage.value,
        "aliases": list(mv.aliases),
        "source": mv.source,
        "storage_location": mv.storage_location,
        "run_id": mv.run_id,
        "description": mv.description,
        "tags": mv.tags,
        "user_id": mv.user_id,
        "creation_time": mv.creation_time,
        "last_update_time": mv.last_update_time,
    }


def model_to_dict(model: RegisteredModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "description": model.description,
        "tags": model.tags,
        "aliases": model.aliases,
        "latest_versions": [version_to_dict(v) for v in model.latest_versions],
        "creation_time": model.creation_time,
        "last_update_time": model.last_update_time,
    }


def change_to_dict(change: ModelChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "timestamp": change.timestamp,
        "actor": change.actor,
        "version": change.version,
        "action": change.action,
        "field": change.field,
        "old_value": change.old_value,
        "new_value": change.new_value,
        "comment": change.comment,
    }


def _version_rows(versions: Sequence[ModelVersion]) -> list[list[Any]]:
    from .output import format_time

    return [
        [
            v.version,
            v.current_stage.value,
            ", ".join(v.aliases),
            v.run_id,
            format_time(v.creation_time),
            v.source,
        ]
        for v in versions
    ]


_VERSION_HEADERS = ("version", "stage", "aliases", "run id", "created", "source")


@models.command("list")
@click.option(
    "--filter", "-f", "filter_string", metavar="FILTER", default="", help="e.g. \"tags.team = 'ml'\"."
)
@click.option(
    "--order-by", "-o", multiple=True, metavar="CLAUSE", help="Sort key, repeatable. Default: name."
)
@click.option("--max-results", "-n", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@tracking_uri_option
@pass_state
def list_models(
    state: CliState, filter_string: str, order_by: tuple[str, ...], max_results: int, as_json: bool
) -> None:
    """List registered models with their aliases and the latest version of each stage."""
    from .output import format_time, print_json, stdout_console

    found = state.client().search_registered_models(filter_string, list(order_by) or None, max_results)
    if as_json:
        print_json([model_to_dict(m) for m in found])
        return
    console = stdout_console()
    if not found:
        console.print(
            "no registered models" + (f" match {filter_string!r}" if filter_string else ""), markup=False
        )
        return
    rows = [
        [
            m.name,
            ", ".join(f"{s.current_stage.value}: v{s.version}" for s in m.latest_versions),
            ", ".join(f"@{a}: v{n}" for a, n in m.aliases.items()),
            format_time(m.last_update_time),
            m.description,
        ]
        for m in found
    ]
    headers = ("name", "latest versions", "aliases", "updated", "description")
    console.print(_table(f"{len(found)} registered model(s)", headers, rows))


@models.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@tracking_uri_option
@pass_state
def show_model(state: CliState, name: str, as_json: bool) -> None:
    """Show a registered model: description, tags, aliases, latest versions and their datasets."""
    from .output import format_time, input_to_dict, inputs_table, key_value_table, print_json, stdout_console

    client = state.client()
    model = client.get_registered_model(name)
    lineage = {v.version: client.get_model_version_datasets(name, v.version) for v in model.latest_versions}
    if as_json:
        data = model_to_dict(model)
        for entry in data["latest_versions"]:
            entry["datasets"] = [input_to_dict(i) for i in lineage[entry["version"]]]
        print_json(data)
        return
    console = stdout_console()
    overview = [
        ("name", model.name),
        ("description", model.description or "-"),
        ("created", format_time(model.creation_time)),
        ("updated", format_time(model.last_update_time)),
    ]
    console.print(key_value_table("Registered model", overview))
    console.print()
    console.print(key_value_table("Tags", dict(sorted(model.tags.items()))))
    console.print()
    console.print(key_value_table("Aliases", {f"@{a}": f"version {n}" for a, n in model.aliases.items()}))
    console.print()
    console.print(_table("Latest versions", _VERSION_HEADERS, _version_rows(model.latest_versions)))
    for version in sorted(lineage, reverse=True):
        console.print()
        console.print(inputs_table(lineage[version], title=f"Datasets of version {version}"))


@models.command("versions")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@tracking_uri_option
@pass_state
def list_versions(state: CliState, name: str, as_json: bool) -> None:
    """List the versions of a registered model, newest first."""
    from .output import print_json, stdout_console

    client = state.client()
    client.get_registered_model(name)  # NotFound for an unknown model
    escaped = name.replace("\\", "\\\\").replace("'", "\\'")
    found: list[ModelVersion] = []
    token: str | None = None
    while True:
        page = client.search_model_versions(f"name = '{escaped}'", ["version DESC"], 1000, token)
        found.extend(page)
        token = page.token
        if token is None:
            break
    if as_json:
        print_json([version_to_dict(v) for v in found])
        return
    stdout_console().print(
        _table(f"{len(found)} version(s) of {name}", _VERSION_HEADERS, _version_rows(found))
    )


@models.command("history")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@tracking_uri_option
@pass_state
def show_history(state: CliState, name: str, as_json: bool) -> None:
    """The audit history of a registered model (kept after it is deleted), oldest first."""
    from .output import format_time, print_json, stdout_console

    changes = state.client().get_model_history(name)
    if as_json:
        print_json([change_to_dict(c) for c in changes])
        return
    rows = [
        [format_time(c.timestamp), c.actor, c.version, c.action, c.field, c.old_value, c.new_value, c.comment]
        for c in changes
    ]
    headers = ("time", "actor", "version", "action", "field", "old", "new", "comment")
    stdout_console().print(_table(f"History of {name}", headers, rows))


@models.command("transition")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.argument("stage")
@click.option("--archive-existing", is_flag=True, help="Move the other versions in STAGE to Archived.")
@click.option("--comment", "-m", default=None, help="Why: kept in the model's history.")
@tracking_uri_option
@pass_state
def transition(
    state: CliState, name: str, version: int, stage: str, archive_existing: bool, comment: str | None
) -> None:
    """Move VERSION of NAME to STAGE (None, Staging, Production or Archived)."""
    mv = state.client().transition_model_version_stage(name, version, stage, archive_existing, comment)
    click.echo(f"{mv.name} version {mv.version} is now in {mv.current_stage.value}")


@models.command("alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--comment", "-m", default=None, help="Why: kept in the model's history.")
@tracking_uri_option
@pass_state
def set_alias(state: CliState, name: str, alias: str, version: int, comment: str | None) -> None:
    """Point ALIAS of NAME at VERSION (models:/NAME@ALIAS then loads it)."""
    state.client().set_registered_model_alias(name, alias, version, comment)
    click.echo(f"models:/{name}@{alias} -> version {version}")


@models.command("predict")
@click.argument("uri")
@click.option(
    "--input",
    "-i",
    "input_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The rows to score: a .csv, .parquet or .json (records) file.",
)
@click.option(
    "--output",
    "-o",
    "output_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write predictions to this .csv, .parquet or .json file (default: JSON on stdout).",
)
@tracking_uri_option
@pass_state
def predict(state: CliState, uri: str, input_path: Path, output_path: Path | None) -> None:
    """Score the rows of --input with the model at URI (models:/NAME/VERSION, models:/NAME@ALIAS, ...)."""
    import loopml

    from ..errors import InvalidInput

    for path in (input_path, output_path):
        if path is not None and path.suffix.lower() not in _FRAME_SUFFIXES:
            raise InvalidInput(f"{path} must end in .csv, .parquet or .json", path=str(path))
    location = state.client().resolve_model_uri(uri) if uri.startswith("models:/") else uri
    predictions = loopml.load_model(location).predict(_read_frame(input_path))
    _write_predictions(predictions, output_path)


def _read_frame(path: Path) -> Any:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_json(path, orient="records")


def _write_predictions(predictions: Any, path: Path | None) -> None:
    import pandas as pd

    from .output import print_json

    if isinstance(predictions, pd.DataFrame):
        frame = predictions
    elif getattr(predictions, "ndim", 1) == 2:
        frame = pd.DataFrame(predictions)
    else:
        frame = pd.DataFrame({"prediction": list(predictions)})
    if path is None:
        import json

        print_json(json.loads(frame.to_json(orient="records")))
        return
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records")
    click.echo(f"wrote {len(frame)} prediction(s) to {path}")

"""``loopml batch URI --input PATH|GLOB --output PATH``: score files with a model, chunk by chunk."""

from __future__ import annotations

import sys

import click

from . import CliState, pass_state, tracking_uri_option

__all__ = ["batch"]

_FORMATS = click.Choice(["parquet", "csv", "jsonl"], case_sensitive=False)


@click.command("batch")
@click.argument("uri")
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    required=True,
    metavar="PATH|GLOB",
    help="Rows to score: a .csv, .parquet or .jsonl file (.gz for CSV and JSON Lines), a glob, a"
    " directory or an fsspec URL (s3://...). Repeatable.",
)
@click.option("--output", "-o", required=True, metavar="PATH", help="Where the predictions go.")
@click.option(
    "--format", "output_format", type=_FORMATS, default=None, help="Output format (default: from --output)."
)
@click.option(
    "--input-format", type=_FORMATS, default=None, help="Input format (default: from each extension)."
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Rows read and scored at a time.",
)
@click.option("--id-column", metavar="COL", default=None, help="Input column copied into the output.")
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Where to score.",
)
@click.option(
    "--dask-address",
    metavar="tcp://HOST:PORT",
    default=None,
    help="Dask scheduler (default: a LocalCluster).",
)
@click.option(
    "--rejects", metavar="PATH", default=None, help="Rejected rows (default: <output stem>.rejects.<ext>)."
)
@click.option("--probabilities", is_flag=True, help="Add probability_<class> columns.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr (default: when it is a terminal).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@tracking_uri_option
@pass_state
def batch(
    state: CliState,
    uri: str,
    inputs: tuple[str, ...],
    output: str,
    output_format: str | None,
    input_format: str | None,
    chunk_size: int,
    id_column: str | None,
    engine: str,
    dask_address: str | None,
    rejects: str | None,
    probabilities: bool,
    overwrite: bool,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Score the rows of --input with the model at URI and write them to --output.

    URI is models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/STAGE, runs:/RUN_ID/PATH or a
    model directory. Rows the model's signature refuses go to the rejects file with the reason.
    """
    from ..serving.batch import score_batch

    result = score_batch(
        uri,
        list(inputs),
        output,
        format=output_format.lower() if output_format else None,
        input_format=input_format.lower() if input_format else None,
        chunk_size=chunk_size,
        id_column=id_column,
        engine=engine,
        dask_address=dask_address,
        rejects=rejects,
        probabilities=probabilities,
        progress=sys.stderr.isatty() if progress is None else progress,
        overwrite=overwrite,
        client=state.client() if uri.startswith("models:/") else None,
    )
    if as_json:
        from .output import print_json

        print_json(result.to_dict())
        return
    version = f" version {result.model_version}" if result.model_version else ""
    click.echo(
        f"scored {result.rows_scored:,} of {result.rows_read:,} rows ({result.rows_rejected:,} rejected)"
        f" with {result.model_name}{version} in {result.seconds:.2f} s ({result.rows_per_second:,.0f} rows/s)"
    )
    click.echo(f"output:  {result.output}")
    if result.rejects is not None:
        click.echo(f"rejects: {result.rejects}")

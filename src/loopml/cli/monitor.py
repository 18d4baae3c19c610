"""``loopml monitor URI``: drift of a served model's traffic against its reference profile;
``loopml drift REFERENCE CURRENT``: drift between two datasets or profiles;
``loopml profile DATA``: a reference profile of a file, in chunks."""

from __future__ import annotations

from typing import Any

import click

from . import CliState, pass_state, tracking_uri_option

__all__ = ["drift", "monitor", "profile"]

_TESTS = click.Choice(["ks", "wasserstein", "psi", "jensenshannon", "chisquare"])


@click.command("monitor")
@click.argument("uri")
@click.option("--since", default="1d", show_default=True, help="How far back: 90s, 30m, 1h, 1d, 2w.")
@click.option("--window", default=None, help="Cut the period into windows of this length (e.g. 1h).")
@click.option("--until", default=None, metavar="ISO", help="End of the period (default: now, UTC).")
@click.option("--served-name", default=None, help="The name the server logged under (default: the model's).")
@click.option(
    "--prediction-log", default=None, metavar="URL", help="The log's root [<artifact root>/predictions]."
)
@click.option(
    "--report", "report_path", default=None, metavar="PATH", help="Write the latest HTML report here."
)
@click.option("--test", "test", type=_TESTS, default=None, help="Force one drift test for every column.")
@click.option("--drift-share", default=0.5, show_default=True, type=click.FloatRange(0, 1))
@click.option("--no-prediction-drift", is_flag=True, help="Do not score the reference sample with the model.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@tracking_uri_option
@pass_state
def monitor(
    state: CliState,
    uri: str,
    since: str,
    window: str | None,
    until: str | None,
    served_name: str | None,
    prediction_log: str | None,
    report_path: str | None,
    test: str | None,
    drift_share: float,
    no_prediction_drift: bool,
    as_json: bool,
) -> None:
    """Compare the predictions logged for model URI (models:/NAME@ALIAS, /STAGE, /VERSION) over
    --since with its version's reference profile; record a monitoring run, add a drift.detected
    event when the latest window drifts. Exit code 0 either way: read the verdict in the output."""
    from ..monitoring.monitors import monitor as run_monitor

    result = run_monitor(
        uri,
        since=since,
        window=window,
        until=until,
        served_name=served_name,
        prediction_log=prediction_log,
        report=report_path,
        tests=test,
        drift_share=drift_share,
        prediction_drift=not no_prediction_drift,
        client=state.client(),
    )
    doc = _result_doc(result)
    if as_json:
        from .output import print_json

        print_json(doc)
        return
    _print_result(doc)


def _result_doc(result: Any) -> dict[str, Any]:
    windows = []
    for w in result.windows:
        entry: dict[str, Any] = {"start": w.window.start.isoformat(), "end": w.window.end.isoformat()}
        entry["rows"] = w.rows
        if w.report is not None:
            dataset = w.report.to_dict()["dataset"]
            columns = w.report.to_dict()["columns"]
            entry |= {
                "versions": list(w.versions),
                "drift_share": dataset["drift_share"],
                "drift_detected": dataset["drift_detected"],
                "drifted_columns": [n for n, c in columns.items() if c.get("drift_detected")],
            }
        windows.append(entry)
    return {
        "model_uri": result.model_uri,
        "served_name": result.served_name,
        "version": result.version,
        "run_id": result.run_id,
        "drift_detected": result.drift_detected,
        "event_id": result.event_id,
        "report": result.report_path,
        "windows": windows,
    }


def _print_result(doc: dict[str, Any]) -> None:
    from rich.table import Table

    from .output import stdout_console

    table = Table("window start", "rows", "drift share", "verdict", "drifted columns")
    for w in doc["windows"]:
        if "drift_share" not in w:
            table.add_row(w["start"], "0", "-", "no predictions", "")
            continue
        verdict = "[red]drift[/red]" if w["drift_detected"] else "[green]ok[/green]"
        drifted = ", ".join(w["drifted_columns"][:8]) + (" ..." if len(w["drifted_columns"]) > 8 else "")
        table.add_row(w["start"], f"{w['rows']:,}", f"{w['drift_share']:.0%}", verdict, drifted)
    console = stdout_console()
    console.print(table)
    verdict = "DRIFT" if doc["drift_detected"] else "no drift"
    console.print(f"{doc['served_name']} version {doc['version']}: {verdict} in the latest window")
    console.print(f"monitoring run: {doc['run_id']}")
    if doc["event_id"] is not None:
        console.print(f"event: drift.detected #{doc['event_id']}")
    if doc["report"]:
        console.print(f"report: {doc['report']}")


@click.command("drift")
@click.argument("reference")
@click.argument("current")
@click.option("--column", "columns", multiple=True, help="Compare only these columns (repeatable).")
@click.option("--test", "test", type=_TESTS, default=None, help="Force one drift test for every column.")
@click.option("--prediction", default=None, metavar="COL", help="The model output column (prediction drift).")
@click.option("--drift-share", default=0.5, show_default=True, type=click.FloatRange(0, 1))
@click.option("--report", "report_path", default=None, metavar="PATH", help="Write the HTML report here.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def drift(
    reference: str,
    current: str,
    columns: tuple[str, ...],
    test: str | None,
    prediction: str | None,
    drift_share: float,
    report_path: str | None,
    as_json: bool,
) -> None:
    """Drift between REFERENCE and CURRENT: each a data file, glob or URL (Parquet, CSV, JSON
    Lines), or a saved profile (.profile.parquet / .json from `loopml profile`)."""
    from ..monitoring.drift import detect_drift
    from ..monitoring.reference import load_reference

    sides = [load_reference(p) if _is_profile(p) else p for p in (reference, current)]
    report = detect_drift(
        sides[0],
        sides[1],
        columns=list(columns) or None,
        tests=test,
        prediction=prediction,
        drift_share=drift_share,
    )
    if report_path:
        report.to_html(report_path)
    if as_json:
        click.echo(report.to_json())
        return
    _print_report(report.to_dict(), report_path)


def _print_report(doc: dict[str, Any], report_path: str | None) -> None:
    from rich.table import Table

    from .output import stdout_console

    table = Table("column", "kind", "test", "statistic", "p-value", "effect", "verdict")
    for name, c in doc["columns"].items():
        effect = c.get("effect") or {}
        verdict = (
            c.get("skipped") or "skipped"
            if c.get("drift_detected") is None
            else ("[red]drift[/red]" if c["drift_detected"] else "[green]ok[/green]")
        )
        table.add_row(
            name,
            c["kind"],
            c.get("test") or "-",
            _num(c.get("statistic")),
            _num(c.get("p_value")),
            f"{effect['name']} {_num(effect.get('value'))}" if effect else "-",
            verdict,
        )
    console = stdout_console()
    console.print(table)
    d = doc["dataset"]
    verdict = "DRIFT" if d["drift_detected"] else "no drift"
    console.print(f"{d['n_drifted']} of {d['n_columns']} columns drifted ({d['drift_share']:.0%}): {verdict}")
    if report_path:
        console.print(f"report: {report_path}")


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def _is_profile(path: str) -> bool:
    """A registry/run reference, a profile JSON, or a Parquet file written by Profile.to_parquet."""
    if path.startswith(("models:/", "runs:/")) or path.endswith(".json"):
        return True
    if not path.endswith(".parquet") or any(ch in path for ch in "*?["):
        return False
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, ValueError):
        return False
    return b"loopml.profile" in metadata


@click.command("profile")
@click.argument("data")
@click.option(
    "--output", "-o", required=True, metavar="PATH", help="Where the profile goes (.parquet or .json)."
)
@click.option("--column", "columns", multiple=True, help="Profile only these columns (repeatable).")
@click.option("--sample-size", default=10_000, show_default=True, type=click.IntRange(min=1))
@click.option("--chunk-size", default=1_000_000, show_default=True, type=click.IntRange(min=1))
def profile(data: str, output: str, columns: tuple[str, ...], sample_size: int, chunk_size: int) -> None:
    """Profile DATA (a file, glob, directory or URL of Parquet, CSV or JSON Lines; read in chunks)
    and save the profile: a reference for `loopml drift`."""
    import time

    from ..monitoring.profiles import profile as build

    started = time.perf_counter()
    found = build(data, columns=list(columns) or None, sample_size=sample_size, chunk_size=chunk_size)
    if output.endswith(".json"):
        found.to_json(output)
    else:
        found.to_parquet(output)
    seconds = time.perf_counter() - started
    click.echo(
        f"profiled {found.n_rows:,} rows x {len(found.columns)} columns in {seconds:.2f} s "
        f"({found.n_rows / max(seconds, 1e-9):,.0f} rows/s): {output}"
    )

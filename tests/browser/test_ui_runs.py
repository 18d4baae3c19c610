"""The run page, its metric charts (downsampled on the server) and the artifact browser, in
Chromium against a real ``loopml server``."""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from ui_testing import UiServer, screenshot

from loopml import Client
from loopml.entities import Metric

BIG_POINTS = 100_000
SPIKE_AT = 61_234
SPIKE = 1_000.0
DIP_AT = 23_456
DIP = -500.0


@dataclass(frozen=True)
class Logged:
    """What the fixture logged: a parent run and its child, the run the tests look at."""

    experiment_id: str
    parent_id: str
    run_id: str


def _png(width: int = 240, height: int = 120) -> bytes:
    """A small RGB PNG (a gradient), written by hand."""
    rows = b"".join(
        b"\0" + b"".join(bytes((x * 10 % 256, y * 15 % 256, 160)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _log_model(client: Client, run_id: str, tmp: Path) -> None:
    """A small scikit-learn model saved with an input example (so it has a signature), logged
    as the run's ``model`` directory."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from loopml.models import save_model

    frame = pd.DataFrame({"sepal_length": [5.1, 4.9, 6.3, 5.8], "petal_width": [0.2, 0.1, 1.8, 1.2]})
    model = LogisticRegression().fit(frame, [0, 0, 1, 1])
    save_model(model, tmp / "model", input_example=frame.head(2))
    client.log_artifacts(run_id, tmp / "model", "model")


def _log_artifacts(client: Client, run_id: str, tmp: Path) -> None:
    store = client.artifact_store(run_id)
    store.log_text("line one\nline two <b>not bold</b>\n", "notes/hello.txt")
    store.log_text("# Report Title\n\nSome *emphasis*.\n\n<script>window.pwned = 1</script>\n", "report.md")
    store.log_bytes(json.dumps({"zeta": 1, "alpha": [1, 2, {"deep": True}]}).encode(), "config.json")
    store.log_bytes(_png(), "plots/curve.png")
    rows = "\n".join(f"{i},{i * i},name-{i}" for i in range(120))
    store.log_text("id,square,label\n" + rows + "\n", "data/table.csv")
    store.log_bytes(bytes(range(256)) * 4, "blob.bin")
    try:
        import pandas as pd

        pd.DataFrame({"a": range(80), "b": [f"x{i}" for i in range(80)]}).to_parquet(tmp / "t.parquet")
        store.log_file(tmp / "t.parquet", "data")
    except ImportError:  # pragma: no cover - the test extra installs pyarrow
        pass


@pytest.fixture(scope="module")
def logged(ui_server: UiServer, tmp_path_factory: pytest.TempPathFactory) -> Logged:
    import pandas as pd

    tmp = tmp_path_factory.mktemp("ui-runs")
    client = ui_server.client()
    experiment_id = client.create_experiment("ui-runs")
    parent = client.create_run(experiment_id, run_name="sweep-parent")
    run = client.create_run(
        experiment_id, run_name="trial-7", parent_run_id=parent.run_id, tags={"team": "vision"}
    )
    run_id = run.run_id
    client.log_batch(
        run_id,
        [Metric("loss", 1.0 / (1 + s), 1_700_000_000_000 + s * 1000, s) for s in range(50)]
        + [Metric("accuracy", 0.5 + s / 100, 1_700_000_000_000 + s * 1000, s) for s in range(50)],
        params={"learning_rate": "0.01", "depth": "5"},
        tags={"loopml.source.kind": "script"},
    )
    values = [float(i % 100) for i in range(BIG_POINTS)]
    values[SPIKE_AT], values[DIP_AT] = SPIKE, DIP
    client.log_batch(run_id, [Metric("big", v, 1_700_000_000_000 + i, i) for i, v in enumerate(values)])
    train = pd.DataFrame({"sepal_length": [5.1, 4.9, 6.3, 5.8, 6.0], "species": ["a", "a", "b", "b", "b"]})
    client.log_input(run_id, train, context="training", name="iris-train")
    _log_model(client, run_id, tmp)
    _log_artifacts(client, run_id, tmp)
    client.set_terminated(run_id)
    client.set_terminated(parent.run_id)
    client.close()
    return Logged(experiment_id, parent.run_id, run_id)


def test_the_run_page_shows_what_the_run_recorded(ui_server: UiServer, logged: Logged, page: Any) -> None:
    answer = page.goto(f"{ui_server.url}/ui/runs/{logged.run_id}")
    assert answer.status == 200
    assert "trial-7" in page.inner_text("h1") and "FINISHED" in page.inner_text("h1")
    assert page.inner_text("#run-id") == logged.run_id
    params = page.inner_text("#run-params")
    assert "learning_rate" in params and "0.01" in params and "depth" in params
    metrics = page.inner_text("#run-metrics")
    assert "loss" in metrics and "accuracy" in metrics and "0.99" in metrics  # accuracy's latest
    page.wait_for_function(
        "document.querySelector('#run-metrics tr[data-key=loss] .js-latest-step').textContent === '49'"
    )
    tags = page.locator("#run-tags")
    assert "team" in tags.inner_text() and "vision" in tags.inner_text()
    assert not page.is_visible("text=loopml.source.kind")  # behind the toggle
    page.click("text=system tag")
    assert page.is_visible("text=loopml.source.kind")
    datasets = page.inner_text("#run-datasets")
    assert "iris-train" in datasets and "training" in datasets and "sepal_length" in datasets
    assert "species" in datasets and "5 rows" in datasets
    models = page.inner_text("#run-models")
    assert "sklearn" in models and "petal_width" in models and "scikit-learn" in models  # requirements
    assert "double" in models
    screenshot(page, "run-page")


def test_a_metric_chart_is_drawn(ui_server: UiServer, logged: Logged, page: Any) -> None:
    page.goto(f"{ui_server.url}/ui/runs/{logged.run_id}")
    card = page.locator(".chart-card[data-key=loss]")
    card.locator(".js-plotly-plot .scatterlayer .trace path.js-line").wait_for()
    assert "50 points" in card.locator(".chart-note").inner_text()
    page.check("input[name=x-axis][value=time]")
    plot = "document.querySelector('.chart-card[data-key=loss] .js-plotly-plot')"
    page.wait_for_function(f"{plot}._fullLayout.xaxis.type === 'date'")
    card.locator(".js-plotly-plot .scatterlayer .trace path.js-line").wait_for()  # redrawn, not wiped
    assert page.evaluate(f"{plot}.data[0].x[0]") == 1_700_000_000_000
    card.scroll_into_view_if_needed()
    screenshot(page, "run-charts")


def test_a_long_history_is_drawn_from_the_budget_and_keeps_its_spikes(
    ui_server: UiServer, logged: Logged, page: Any
) -> None:
    with page.expect_response(lambda r: "/metrics/big/history" in r.url) as answered:
        page.goto(f"{ui_server.url}/ui/runs/{logged.run_id}")
    fetched = answered.value.json()
    budget = int(answered.value.url.rsplit("max_points=", 1)[1])
    assert fetched["total_points"] == BIG_POINTS and len(fetched["values"]) <= budget < BIG_POINTS
    assert max(fetched["values"]) == SPIKE and min(fetched["values"]) == DIP
    assert fetched["steps"] == sorted(fetched["steps"]) and fetched["steps"][0] == 0
    assert fetched["steps"][-1] == BIG_POINTS - 1
    page.locator(".chart-card[data-key=big] .js-plotly-plot .scatterlayer path.js-line").wait_for()
    drawn = page.evaluate("document.querySelector('.chart-card[data-key=big] .js-plotly-plot').data[0].y")
    assert len(drawn) <= budget and max(drawn) == SPIKE and min(drawn) == DIP
    note = page.locator(".chart-card[data-key=big] .chart-note").inner_text()
    assert f"of {BIG_POINTS:,} points" in note


def test_charts_are_first_drawn_as_svg_without_waiting_for_plotly(
    ui_server: UiServer, logged: Logged, page: Any
) -> None:
    page.route("**/static/plotly.min.js", lambda route: route.abort())  # plotly never arrives
    page.goto(f"{ui_server.url}/ui/runs/{logged.run_id}")
    loss = page.locator(".chart-card[data-key=loss]")
    line = loss.locator("svg.chart-preview polyline")
    line.wait_for()
    assert len((line.get_attribute("points") or "").split()) == 50
    assert loss.get_attribute("data-state") == "sketched"
    page.wait_for_function(
        "document.querySelector('.chart-card[data-key=loss] .chart-note').textContent"
        ".includes('plotly.min.js did not load')"
    )
    big = page.locator(".chart-card[data-key=big] svg.chart-preview")
    big.locator("polyline").wait_for()
    labels = big.locator("text").all_text_contents()
    assert str(int(SPIKE)) in labels and str(int(DIP)) in labels  # the y axis spans the spike and the dip
    assert page.locator(".js-plotly-plot").count() == 0
    screenshot(page, "run-charts-first-drawing")
    page.check("input[name=x-axis][value=time]")  # redrawn as SVG with dates on the x axis
    page.wait_for_function(
        "[...document.querySelectorAll('.chart-card[data-key=loss] svg.chart-preview text')]"
        ".some((t) => /^\\d{4}-\\d{2}-\\d{2} /.test(t.textContent))"
    )
    assert len((line.get_attribute("points") or "").split()) == 50


def test_parent_and_child_link_each_other(ui_server: UiServer, logged: Logged, page: Any) -> None:
    page.goto(f"{ui_server.url}/ui/runs/{logged.parent_id}")
    page.click("#child-runs >> text=trial-7")
    page.wait_for_url(f"**/ui/runs/{logged.run_id}")
    page.click("#parent-run >> text=sweep-parent")
    page.wait_for_url(f"**/ui/runs/{logged.parent_id}")
    assert "sweep-parent" in page.inner_text("h1")
    compare = page.get_attribute("#compare-family", "href")
    assert compare is not None and logged.run_id in compare and logged.parent_id in compare
    screenshot(page, "run-parent")


def test_an_unknown_run_is_a_404_page_back_to_the_experiments(ui_server: UiServer, page: Any) -> None:
    answer = page.goto(f"{ui_server.url}/ui/runs/no-such-run")
    assert answer.status == 404
    assert "no-such-run" in page.inner_text("main")
    page.click("text=← Back to the experiments")
    page.wait_for_url("**/ui/experiments")
    screenshot(page, "run-404")


def _browse(page: Any, ui_server: UiServer, logged: Logged, path: str = "") -> Any:
    url = f"{ui_server.url}/ui/runs/{logged.run_id}/artifacts" + (f"?path={path}" if path else "")
    return page.goto(url)


def test_the_artifact_browser_lists_a_directory(ui_server: UiServer, logged: Logged, page: Any) -> None:
    assert _browse(page, ui_server, logged).status == 200
    listing = page.inner_text("#artifact-list")
    for name in ("model/", "notes/", "plots/", "data/", "report.md", "config.json", "blob.bin"):
        assert name in listing, name
    page.click("#artifact-list >> text=notes/")
    page.wait_for_url("**path=notes")
    assert "hello.txt" in page.inner_text("#artifact-list")
    assert "notes" in page.inner_text("nav.path")
    screenshot(page, "artifacts-listing")


def test_previews_text_markdown_and_json(ui_server: UiServer, logged: Logged, page: Any) -> None:
    _browse(page, ui_server, logged, "notes/hello.txt")
    assert "line two <b>not bold</b>" in page.inner_text("pre.preview-text")  # text, not markup
    _browse(page, ui_server, logged, "report.md")
    assert page.inner_text(".markdown h1") == "Report Title"
    assert page.inner_text(".markdown em") == "emphasis"
    assert "<script>" in page.inner_text(".markdown") and page.evaluate("window.pwned") is None
    screenshot(page, "artifacts-markdown")
    _browse(page, ui_server, logged, "config.json")
    pretty = page.inner_text("pre.kind-json")
    assert json.loads(pretty) == {"zeta": 1, "alpha": [1, 2, {"deep": True}]}
    assert '\n  "alpha": [' in pretty
    screenshot(page, "artifacts-json")
    _browse(page, ui_server, logged, "model/loopml-model.yaml")
    assert "flavor: sklearn" in page.inner_text("pre.kind-yaml")


def test_previews_an_image_and_table_heads(ui_server: UiServer, logged: Logged, page: Any) -> None:
    _browse(page, ui_server, logged, "plots/curve.png")
    image = page.locator("img.preview-image")
    page.wait_for_function("document.querySelector('img.preview-image').complete")
    assert image.evaluate("img => img.naturalWidth") == 240
    screenshot(page, "artifacts-image")
    _browse(page, ui_server, logged, "data/table.csv")
    table = page.locator("table.preview-table")
    assert table.locator("th").all_inner_texts() == ["id", "square", "label"]
    assert table.locator("tbody tr").count() == 50
    assert table.locator("tbody tr").nth(7).locator("td").all_inner_texts() == ["7", "49", "name-7"]
    screenshot(page, "artifacts-csv")
    _browse(page, ui_server, logged, "data/t.parquet")
    assert page.locator("table.preview-table tbody tr").count() == 50
    assert "of 80 rows" in page.inner_text("#preview")
    _browse(page, ui_server, logged, "blob.bin")
    assert "binary file" in page.inner_text("#preview").lower()


def test_raw_bytes_are_downloads_and_only_images_show_inline(ui_server: UiServer, logged: Logged) -> None:
    base = f"{ui_server.url}/ui/runs/{logged.run_id}/artifacts/raw"
    blob = httpx.get(base, params={"path": "blob.bin"})
    assert blob.status_code == 200 and blob.content == bytes(range(256)) * 4
    assert blob.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in blob.headers["content-security-policy"]
    image = httpx.get(base, params={"path": "plots/curve.png", "inline": "1"})
    assert image.headers["content-type"] == "image/png" and image.content == _png()
    report = httpx.get(base, params={"path": "report.md", "inline": "1"})
    assert report.headers["content-type"] == "application/octet-stream"
    assert report.headers["content-disposition"].startswith("attachment")
    for bad in ("../../../../etc/passwd", "/etc/passwd", "notes/../../x"):
        assert httpx.get(base, params={"path": bad}).status_code in (400, 404), bad


def test_an_unknown_artifact_is_a_404_page_back_to_the_run(
    ui_server: UiServer, logged: Logged, page: Any
) -> None:
    answer = _browse(page, ui_server, logged, "nothing/here.txt")
    assert answer.status == 404
    assert "nothing/here.txt" in page.inner_text("main")
    screenshot(page, "artifacts-404")
    page.click("text=← Back to the run's artifacts")
    page.wait_for_url(f"**/ui/runs/{logged.run_id}/artifacts")
    assert _browse(page, ui_server, logged, "../../secrets").status == 400


def test_charts_past_the_first_few_are_drawn_when_scrolled_into_view_or_asked_for(
    ui_server: UiServer, logged: Logged, page: Any
) -> None:
    client = ui_server.client()
    run_id = client.create_run(logged.experiment_id, run_name="many-metrics").run_id
    keys = [f"m{i:02d}" for i in range(12)]
    client.log_batch(
        run_id,
        [Metric(k, float(s * i), 1_700_000_000_000 + s, s) for i, k in enumerate(keys) for s in range(5)],
    )
    client.close()
    page.goto(f"{ui_server.url}/ui/runs/{run_id}")
    drawn = ".chart-card[data-key={}] .js-plotly-plot"
    for key in keys[:4]:
        page.locator(drawn.format(key)).wait_for()
    assert page.locator(drawn.format("m11")).count() == 0  # not drawn yet: far below
    page.click("#run-metrics >> text=m10")  # the table links to a chart and draws it
    page.locator(drawn.format("m10")).wait_for()
    page.locator(".chart-card[data-key=m11]").scroll_into_view_if_needed()
    page.locator(drawn.format("m11")).wait_for()
    page.wait_for_function(
        "document.querySelector('#run-metrics tr[data-key=m07] .js-latest-step').textContent === '4'"
    )


def test_with_auth_a_run_shows_only_to_its_readers(loopml_auth_server: Any, page: Any) -> None:
    import uuid

    from loopml.entities import PermissionLevel, ResourceKind
    from loopml.entities.user import EVERYONE
    from loopml.store.resolver import open_store

    stamp = uuid.uuid4().hex[:10]
    store = open_store(loopml_auth_server.store_uri)
    try:
        users = store.users
        hidden = store.create_experiment(f"h{stamp}", f"runs-secret-{stamp}", f"loopml-artifacts:/h{stamp}")
        shown = store.create_experiment(f"s{stamp}", f"runs-open-{stamp}", f"loopml-artifacts:/s{stamp}")
        users.set_permission(EVERYONE, ResourceKind.EXPERIMENT, hidden.experiment_id, PermissionLevel.NONE)
        reader = users.create_user(f"run-reader-{stamp}")
        users.set_permission(
            reader.username, ResourceKind.EXPERIMENT, shown.experiment_id, PermissionLevel.READ
        )
        secret = users.create_token(reader.username).secret
        now = 1_700_000_000_000
        parent = store.create_run(
            run_id=uuid.uuid4().hex,
            experiment_id=hidden.experiment_id,
            run_name="secret-parent",
            start_time=now,
        )
        run = store.create_run(
            run_id=uuid.uuid4().hex,
            experiment_id=shown.experiment_id,
            run_name="open-run",
            start_time=now,
            parent_run_id=parent.run_id,
        )
        store.log_batch(run.run_id, [Metric("loss", 1.0 / (1 + s), now + s, s) for s in range(30)], [], [])
    finally:
        store.close()
    admin = {"Authorization": f"Bearer {loopml_auth_server.admin_token}"}
    for target in (run, parent):
        where = target.info.artifact_uri.removeprefix("loopml-artifacts:/")
        put = httpx.put(
            f"{loopml_auth_server.url}/api/v1/artifacts/{where}/note.txt", content=b"hi", headers=admin
        )
        assert put.status_code == 201, put.text
    page.goto(f"{loopml_auth_server.url}/ui/login?next=/ui/runs/{run.run_id}")
    page.fill("#token", secret)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/ui/runs/{run.run_id}")
    card = page.locator(".chart-card[data-key=loss]")
    page.wait_for_selector(".chart-card[data-key=loss][data-state=drawn], .chart-card[data-state=failed]")
    assert card.get_attribute("data-state") == "drawn", card.inner_text()  # the API let it read
    card.locator(".js-plotly-plot path.js-line").wait_for()
    assert "(not found, or not readable)" in page.inner_text("#parent-run")  # no link, no name
    assert "secret-parent" not in page.inner_text("main")
    assert page.locator("#compare-family").count() == 0  # nothing readable to compare with
    screenshot(page, "run-page-auth")
    base = loopml_auth_server.url
    assert page.goto(f"{base}/ui/runs/{run.run_id}/artifacts?path=note.txt").status == 200
    assert page.inner_text("pre.preview-text") == "hi"
    for url in (
        f"{base}/ui/runs/{parent.run_id}",
        f"{base}/ui/runs/{parent.run_id}/artifacts?path=note.txt",
        f"{base}/ui/runs/{parent.run_id}/artifacts/raw?path=note.txt",
    ):
        answer = page.goto(url)
        assert answer.status == 404, url
        assert "secret-parent" not in page.inner_text("main")

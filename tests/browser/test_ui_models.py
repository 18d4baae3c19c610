"""The registry's pages in a real browser against a real ``loopml server``: the models list, a
model's versions with stages, aliases and lineage, the history timeline, and the actions
(stage transition, alias move, descriptions) made through the page and recorded in the history;
with ``--auth``, a READ-only user sees no action and the API refuses their transition."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest
from ui_testing import UiServer, screenshot

from loopml import Client
from loopml.entities import PermissionLevel, ResourceKind
from loopml.registry.api import register_model
from loopml.store.resolver import open_store


def _train(client: Client, experiment_id: str, name: str) -> str:
    """A finished run that logged a training dataset; its id."""
    run = client.create_run(experiment_id, run_name=name)
    run_id = run.info.run_id
    frame = pd.DataFrame({"tenure": [1, 5, 9], "plan": ["a", "b", "a"]})
    client.log_input(run_id, frame, "training", name="customers")
    client.log_metric(run_id, "auc", 0.9)
    client.set_terminated(run_id, "FINISHED")
    return run_id


def _model(client: Client, name: str) -> list[str]:
    """``name`` with v1 in Production (alias champion) and v2 in Staging, each from a run of its
    own; the run ids."""
    experiment_id = client.get_or_create_experiment(f"train-{name}").experiment_id
    runs = [_train(client, experiment_id, f"{name}-train-{i}") for i in (1, 2)]
    for run_id in runs:
        register_model(f"runs:/{run_id}/model", name, description="gradient boosting", client=client)
    client.update_registered_model(name, "Predicts which customers leave next month.")
    client.transition_model_version_stage(name, 1, "Production", comment="first release")
    client.transition_model_version_stage(name, 2, "Staging")
    client.set_registered_model_alias(name, "champion", 1)
    return runs


@pytest.fixture(scope="module")
def client(ui_server: UiServer) -> Iterator[Client]:
    made = ui_server.client()
    yield made
    made.close()


@pytest.fixture(scope="module")
def churn(client: Client) -> list[str]:
    runs = _model(client, "churn")
    register_model("s3://bucket/fraud/model", "fraud", client=client)  # a version without a run
    return runs


def _fresh(client: Client) -> str:
    name = f"m-{uuid.uuid4().hex[:8]}"
    _model(client, name)
    return name


def test_the_models_list_shows_latest_versions_aliases_and_descriptions(
    ui_server: UiServer, page: Any, churn: list[str]
) -> None:
    page.goto(f"{ui_server.url}/ui/models")
    row = page.locator("tr[data-model='churn']")
    assert row.locator(".latest").inner_text().split() == ["Staging", "v2", "Production", "v1"]
    assert row.locator(".aliases").inner_text() == "@champion → v1"
    assert "Predicts which customers leave" in row.locator(".description").inner_text()
    assert page.locator("tr[data-model='fraud'] .latest").inner_text().split() == ["None", "v1"]
    screenshot(page, "models-list")
    row.locator("a.model-link").click()
    page.wait_for_url(f"{ui_server.url}/ui/models/churn")
    assert page.inner_text("h1").startswith("churn")


def test_a_malformed_filter_shows_its_error_next_to_the_box(
    ui_server: UiServer, page: Any, churn: Any
) -> None:
    page.goto(f"{ui_server.url}/ui/models")
    page.fill("#model-filter", "name = 'churn")
    page.press("#model-filter", "Enter")
    page.wait_for_selector(".filter-error")
    assert "quote" in page.inner_text(".filter-error").lower()
    page.fill("#model-filter", "name LIKE 'fr%'")
    page.press("#model-filter", "Enter")
    page.wait_for_url("**/ui/models?filter=*")
    assert page.locator("tr[data-model]").evaluate_all("rows => rows.map(r => r.dataset.model)") == ["fraud"]


def test_many_models_are_paged(ui_server: UiServer, page: Any, client: Client) -> None:
    for i in range(53):
        client.create_registered_model(f"paged-{i:02d}")
    page.goto(f"{ui_server.url}/ui/models?filter=" + "name LIKE 'paged-%'")
    assert page.locator("tr[data-model]").count() == 50
    assert page.inner_text(".pager .where") == "models 1\u201350"
    page.click(".pager a[rel=next]")
    page.wait_for_selector("text=models 51\u201353")
    assert page.locator("tr[data-model]").evaluate_all("rows => rows.map(r => r.dataset.model)") == [
        "paged-50",
        "paged-51",
        "paged-52",
    ]
    page.click(".pager a[rel=prev]")
    page.wait_for_selector("text=models 1\u201350")


def test_the_model_page_shows_versions_stages_aliases_lineage_and_history(
    ui_server: UiServer, page: Any, churn: list[str]
) -> None:
    page.goto(f"{ui_server.url}/ui/models/churn")
    v1, v2 = page.locator("tr#v1"), page.locator("tr#v2")
    assert v1.locator(".stage").inner_text() == "Production"
    assert v2.locator(".stage").inner_text() == "Staging"
    assert v1.locator(".aliases").inner_text() == "@champion"
    assert v1.locator("a.run-link").get_attribute("href") == f"/ui/runs/{churn[0]}"
    assert v2.locator("a.run-link").get_attribute("href") == f"/ui/runs/{churn[1]}"
    assert v1.locator(".run").inner_text().startswith("churn-train-1")
    assert "customers" in v1.locator(".datasets").inner_text()
    assert "training" in v1.locator(".datasets").inner_text()
    assert "gradient boosting" in v1.locator(".description").inner_text()
    assert page.inner_text("#model-description") == "Predicts which customers leave next month."
    entries = page.locator("#model-history li")
    assert entries.first.locator(".what").inner_text() == "pointed @champion at version 1"
    production = page.locator("#model-history li", has_text="moved version 1 to Production")
    assert production.locator(".comment").inner_text() == "first release"
    screenshot(page, "model-page")


def test_a_version_without_a_run_and_an_unknown_model(ui_server: UiServer, page: Any, churn: Any) -> None:
    page.goto(f"{ui_server.url}/ui/models/fraud")
    assert page.locator("tr#v1 .run").inner_text() == "no run"
    answer = page.goto(f"{ui_server.url}/ui/models/no-such-model")
    assert answer.status == 404
    assert "no-such-model" in page.inner_text(".message")
    screenshot(page, "model-404")
    page.click("text=← Back to models")
    page.wait_for_url(f"{ui_server.url}/ui/models")


def test_a_stage_transition_made_in_the_ui_appears_in_the_history(
    ui_server: UiServer, page: Any, client: Client
) -> None:
    name = _fresh(client)
    page.goto(f"{ui_server.url}/ui/models/{name}")
    page.select_option("#transition-version", "2")
    page.select_option("#transition-stage", "Production")
    page.check("#transition-archive")
    page.fill("#transition-comment", "won the A/B test")
    with page.expect_navigation():
        page.click("#transition-form button[type=submit]")
    # newest first: the archiving of v1 that the transition caused, then the transition
    texts = page.locator("#model-history li .what").all_inner_texts()
    assert texts[:2] == ["moved version 1 to Archived", "moved version 2 to Production"]
    moved = page.locator("#model-history li").nth(1)
    assert moved.locator(".diff").inner_text() == "Staging → Production"
    assert moved.locator(".comment").inner_text() == "won the A/B test"
    assert page.locator("tr#v2 .stage").inner_text() == "Production"
    assert page.locator("tr#v1 .stage").inner_text() == "Archived"  # archive existing
    screenshot(page, "model-after-transition")
    moves = [
        (c.version, c.new_value, c.comment)
        for c in client.get_model_history(name)
        if c.action == "model_version.stage_transitioned"
    ]
    assert moves[-2] == (2, "Production", "won the A/B test")


def test_moving_an_alias_and_editing_descriptions_in_the_ui(
    ui_server: UiServer, page: Any, client: Client
) -> None:
    name = _fresh(client)
    page.goto(f"{ui_server.url}/ui/models/{name}")
    page.fill("#alias-name", "champion")
    page.select_option("#alias-version", "2")
    page.fill("#alias-comment", "v2 is better")
    with page.expect_navigation():
        page.click("#alias-form button[type=submit]")
    assert client.get_registered_model(name).aliases == {"champion": 2}
    newest = page.locator("#model-history li").first
    assert newest.locator(".what").inner_text() == "pointed @champion at version 2"
    assert newest.locator(".diff").inner_text() == "v1 → v2"
    assert newest.locator(".comment").inner_text() == "v2 is better"
    assert page.locator("tr#v2 .aliases").inner_text() == "@champion"

    page.click("text=Edit description")
    page.fill("#model-description-text", "Churn in the next 30 days.")
    page.fill("#model-description-comment", "clearer")
    with page.expect_navigation():
        page.click("#model-description-form button[type=submit]")
    assert page.inner_text("#model-description") == "Churn in the next 30 days."
    assert page.locator("#model-history li").first.locator(".comment").inner_text() == "clearer"

    page.select_option("#version-description-version", "1")
    assert page.input_value("#version-description-text") == "gradient boosting"
    page.fill("#version-description-text", "the first one")
    with page.expect_navigation():
        page.click("#version-description-form button[type=submit]")
    assert client.get_model_version(name, 1).description == "the first one"
    assert page.locator("#model-history li").first.locator(".what").inner_text() == (
        "changed the description of version 1"
    )


def test_a_refused_action_shows_the_apis_message(ui_server: UiServer, page: Any, client: Client) -> None:
    name = _fresh(client)
    page.goto(f"{ui_server.url}/ui/models/{name}")
    page.fill("#alias-name", "latest")
    page.click("#alias-form button[type=submit]")
    error = page.locator("#alias-form .form-error")
    error.wait_for()
    assert "reserved" in error.inner_text()
    screenshot(page, "model-refused-action")
    assert client.get_registered_model(name).aliases == {"champion": 1}


# ---- with --auth ---------------------------------------------------------------------------------


@pytest.fixture
def secured_model(loopml_auth_server: Any) -> Iterator[dict[str, str]]:
    """A model on the auth server, a user holding READ on it and one holding EDIT; their tokens."""
    store = open_store(loopml_auth_server.store_uri)
    suffix = uuid.uuid4().hex[:8]
    name = f"secured-{suffix}"
    try:
        store.registry.create_model_version(name, "s3://b/m", "s3://b/m", actor="admin")
        store.registry.create_model_version(name, "s3://b/m2", "s3://b/m2", actor="admin")
        tokens = {"name": name}
        for role, level in (("reader", PermissionLevel.READ), ("editor", PermissionLevel.EDIT)):
            username = f"{role}-{suffix}"
            store.users.create_user(username)
            store.users.set_permission(username, ResourceKind.REGISTERED_MODEL, name, level)
            tokens[role] = store.users.create_token(username).secret
            tokens[f"{role}_name"] = username
        yield tokens
    finally:
        store.close()


def _sign_in(page: Any, url: str, token: str, target: str) -> None:
    page.goto(f"{url}/ui/login?next={target}")
    page.fill("#token", token)
    with page.expect_navigation():
        page.click("form button[type=submit]")


def test_a_reader_sees_no_actions_and_the_api_refuses_their_transition(
    loopml_auth_server: Any, page: Any, secured_model: dict[str, str]
) -> None:
    name, url = secured_model["name"], loopml_auth_server.url
    _sign_in(page, url, secured_model["reader"], f"/ui/models/{name}")
    page.wait_for_selector("tr#v2")
    assert page.locator("#model-actions").count() == 0
    assert page.locator("form.action-form").count() == 0
    assert page.locator("text=Edit description").count() == 0
    screenshot(page, "model-read-only")
    refused = httpx.post(
        f"{url}/api/v1/registered-models/{name}/versions/1/stage",
        json={"stage": "Production", "comment": "sneaky"},
        headers={"Authorization": f"Bearer {secured_model['reader']}"},
    )
    assert refused.status_code == 403
    store = open_store(loopml_auth_server.store_uri)
    try:
        assert store.registry.get_model_version(name, 1).current_stage == "None"
    finally:
        store.close()


def test_an_editor_sees_the_actions_and_their_transition_is_recorded_as_theirs(
    loopml_auth_server: Any, page: Any, secured_model: dict[str, str]
) -> None:
    name, url = secured_model["name"], loopml_auth_server.url
    _sign_in(page, url, secured_model["editor"], f"/ui/models/{name}")
    page.select_option("#transition-version", "1")
    page.select_option("#transition-stage", "Staging")
    page.fill("#transition-comment", "ready for shadow traffic")
    with page.expect_navigation():
        page.click("#transition-form button[type=submit]")
    newest = page.locator("#model-history li").first
    assert newest.locator(".who").inner_text() == secured_model["editor_name"]
    assert newest.locator(".comment").inner_text() == "ready for shadow traffic"
    screenshot(page, "model-editor")

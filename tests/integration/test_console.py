"""The web console in headless Chromium against a real ``ddbpipe serve`` over moto: sign
in, export two tables from the template and watch it finish, restore a backup from the
Backups page, see a failure, and the refusals (another user's tables, a form without its
CSRF token, a session signed out)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ddbpipe import ExportConfig, export_table
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.pipeline.templates import console_template
from ddbpipe.stores import StoreConfig
from tests.support.console_server import (
    BUCKET,
    PASSWORD,
    REGION,
    ConsoleServer,
    ConsoleUser,
    save_screenshot,
    session_cookie,
)

pytestmark = pytest.mark.integration

RUN_TIMEOUT_MS = 90_000


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def signed_in(page: Any, server: ConsoleServer, user: ConsoleUser) -> Any:
    """``page`` with a session of ``user``."""
    page.context.add_cookies([server.cookie(user)])
    return page


def fill_export(page: Any, name: str, tables: str, output: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Source DynamoDB table name").fill(tables)
    page.get_by_label("Output S3 folder").fill(output)


def test_sign_in_with_an_access_key_by_its_labels(page: Any, console_server: ConsoleServer) -> None:
    user = console_server.admin()
    page.goto(console_server.console + "/tables")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))
    page.get_by_label("Access key ID").fill(user.access_key_id)
    page.get_by_label("Secret access key").fill("not-the-secret")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")
    page.get_by_label("Secret access key").fill(user.secret_access_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(console_server.console + "/tables")
    expect(page.locator("header.top")).to_contain_text(user.name)


def test_sign_in_with_the_console_password(page: Any, console_server: ConsoleServer) -> None:
    user = console_server.forum_user()
    page.goto(console_server.console + "/sign-in?method=password")
    page.get_by_label("User name").fill(user.name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Pipelines")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "ddbpipe-console")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    assert not cookie["secure"]  # plain HTTP on loopback


def test_export_two_tables_runs_to_finished_with_logs_and_backup(
    page: Any, console_server: ConsoleServer, tmp_path: Path
) -> None:
    signed_in(page, console_server, console_server.admin())
    page.goto(console_server.console + "/pipelines/new")
    name = unique("two-tables")
    fill_export(page, name, "Forum, Thread", f"s3://{BUCKET}/exports")
    page.get_by_label("S3 location for logs").fill(f"s3://{BUCKET}/logs")
    expect(page.get_by_label("Tag key 1")).to_have_value("dynamodbdatapipeline")
    expect(page.get_by_label("Tag value 1")).to_have_value("true")
    save_screenshot(page, tmp_path, "create")
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    activities = page.locator("article.component", has_text="TableBackupActivity")
    expect(activities).to_have_count(2)
    for index in range(2):  # the page refreshes itself while the pipeline runs
        expect(activities.nth(index).locator("tr.instance .badge")).to_have_text(
            re.compile("FINISHED"), timeout=RUN_TIMEOUT_MS
        )
    expect(page.locator(".summary")).to_contain_text("HEALTHY", timeout=RUN_TIMEOUT_MS)
    expect(activities.first).to_contain_text(f"exported {40} items")
    save_screenshot(page, tmp_path, "detail-finished")
    activities.first.get_by_role("link", name=re.compile("Activity.log")).click()
    expect(page.locator("pre.log")).to_contain_text("exported 40 items")
    expect(page.locator("main")).to_contain_text(f"s3://{BUCKET}/logs/")
    page.go_back()
    activities.first.get_by_role("link", name="Backup folder").click()
    expect(page.locator("main")).to_contain_text("40 items")
    expect(page.locator("table.list tbody tr")).to_have_count(1)


def test_restore_from_the_backups_page_into_an_existing_table(
    page: Any, console_server: ConsoleServer, tmp_path: Path
) -> None:
    folder = f"s3://{BUCKET}/exports/restore-{uuid.uuid4().hex[:6]}"
    config = ExportConfig(
        workers=1,
        dynamo=DynamoConfig(region=REGION, endpoint_url=console_server.aws_url),
        store=StoreConfig(region=REGION, endpoint_url=console_server.aws_url),
    )
    backup = export_table("Forum", folder, config).folder
    signed_in(page, console_server, console_server.admin())
    page.goto(console_server.console + "/backups")
    row = page.locator("tr", has_text=backup)
    expect(row).to_contain_text("Forum")
    expect(row).to_contain_text("40")
    row.get_by_role("link", name=re.compile("Restore")).click()
    expect(page.get_by_label("Input S3 folder")).to_have_value(backup)
    expect(page.locator(".keycheck")).to_contain_text("Key schema matches")
    page.get_by_label("Target DynamoDB table name").fill("Reply")
    page.get_by_role("button", name="Check again").click()
    expect(page.locator(".keycheck")).to_contain_text("matches: Reply has key pk (S)")
    page.get_by_label("Name", exact=True).fill(unique("restore"))
    page.get_by_role("button", name="Activate").click()
    activity = page.locator("article.component", has_text="TableLoadActivity")
    expect(activity.locator("tr.instance .badge")).to_have_text(
        re.compile("FINISHED"), timeout=RUN_TIMEOUT_MS
    )
    expect(activity).to_contain_text("imported 40 items into Reply")
    item = console_server.client("dynamodb").get_item(
        TableName="Reply", Key={"pk": {"S": "Forum-7"}}
    )
    assert item["Item"]["n"] == {"N": "7"}


def test_a_pipeline_on_a_missing_table_shows_error(
    page: Any, console_server: ConsoleServer, tmp_path: Path
) -> None:
    signed_in(page, console_server, console_server.admin())
    page.goto(console_server.console + "/pipelines/new?template=export")
    name = unique("missing-table")
    fill_export(page, name, "NoSuchTable", f"s3://{BUCKET}/exports")
    page.get_by_role("button", name="Activate").click()
    expect(page.locator(".summary")).to_contain_text("ERROR", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("tr.failure .error-message").first).to_contain_text("NoSuchTable")
    expect(page.locator("pre.trace").first).to_contain_text("Traceback")
    save_screenshot(page, tmp_path, "detail-failed")
    page.goto(console_server.console + "/pipelines")
    row = page.locator("tr", has_text=name)
    expect(row).to_have_class(re.compile("row-error"))
    expect(row.locator(".badge.bad")).to_contain_text(["ERROR"])
    page.get_by_label("State").select_option("ERROR")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr", has_text=name)).to_have_count(1)
    expect(page.locator("tbody tr .badge", has_text="HEALTHY")).to_have_count(0)
    page.goto(console_server.console + "/pipelines")
    save_screenshot(page, tmp_path, "list")


def test_forum_user_does_not_see_orders_and_is_refused_for_it(
    page: Any, console_server: ConsoleServer, tmp_path: Path
) -> None:
    signed_in(page, console_server, console_server.forum_user())
    page.goto(console_server.console + "/tables")
    names = page.locator("table.list tbody tr td:first-child")
    expect(names).to_have_text(["Forum", "Reply", "Thread"])
    save_screenshot(page, tmp_path, "tables")
    page.goto(console_server.console + "/pipelines/new?template=export&table=Orders")
    page.get_by_label("Name", exact=True).fill(unique("orders"))
    page.get_by_label("Output S3 folder").fill(f"s3://{BUCKET}/exports")
    response = page.expect_response(lambda r: r.request.method == "POST")
    with response as answer:
        page.get_by_role("button", name="Activate").click()
    assert answer.value.status == 403
    expect(page.get_by_role("heading", name="Not authorized")).to_be_visible()
    message = page.locator(".message")
    expect(message).to_contain_text("user/forum-user is not authorized to perform: dynamodb:Scan")
    expect(message).to_contain_text(f"arn:aws:dynamodb:{REGION}:123456789012:table/Orders")


def test_a_post_without_its_csrf_token_is_refused(page: Any, console_server: ConsoleServer) -> None:
    signed_in(page, console_server, console_server.admin())
    page.goto(console_server.console + "/pipelines")
    refused = page.request.post(
        console_server.console + "/pipelines/new",
        form={"name": "no-token", "template": "export", "action": "save"},
    )
    assert refused.status == 403
    assert "CSRF" in refused.text()
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    wrong = page.request.post(
        console_server.console + "/pipelines/new",
        form={"name": "", "csrf_token": token[::-1], "action": "save"},
    )
    assert wrong.status == 403
    accepted = page.request.post(
        console_server.console + "/pipelines/new",
        form={"name": "", "csrf_token": token, "action": "save"},
    )
    assert accepted.status == 400  # past the token: the form's own problems
    assert "Name is required." in accepted.text()
    user = console_server.admin()
    sign_in = page.request.post(
        console_server.console + "/sign-in",
        form={"access_key_id": user.access_key_id, "secret_access_key": user.secret_access_key},
    )
    assert sign_in.status == 403
    assert "CSRF" in sign_in.text()


def test_signing_out_ends_the_session(page: Any, console_server: ConsoleServer) -> None:
    cookie = session_cookie(console_server, console_server.admin())
    page.context.add_cookies([cookie])
    page.goto(console_server.console + "/pipelines")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    request = urllib.request.Request(
        console_server.console + "/pipelines",
        headers={"Cookie": f"{cookie['name']}={cookie['value']}"},
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.build_opener(NoRedirect).open(request, timeout=30)
    assert answer.value.code == 303
    assert "/console/sign-in" in answer.value.headers["location"]


def test_validation_problems_are_shown_beside_the_fields_with_values_kept(
    page: Any, console_server: ConsoleServer
) -> None:
    signed_in(page, console_server, console_server.admin())
    page.goto(console_server.console + "/pipelines/new?template=export")
    page.get_by_label("Source DynamoDB table name").fill("Forum")
    page.get_by_label("DynamoDB read throughput ratio").fill("7")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#name-error")).to_have_text("Name is required.")
    expect(page.locator("#myDDBReadThroughputRatio-error")).to_contain_text("between 0.1 and 1.0")
    expect(page.get_by_label("Source DynamoDB table name")).to_have_value("Forum")
    expect(page.get_by_label("DynamoDB read throughput ratio")).to_have_value("7")


def test_errors_are_json_for_api_clients_and_a_page_on_console_paths(
    console_server: ConsoleServer,
) -> None:
    api = urllib.request.Request(
        console_server.url + "/console/no-such-page",
        headers={"X-Amz-Target": "DataPipeline.ListPipelines"},
    )
    with pytest.raises(urllib.error.HTTPError) as json_error:
        urllib.request.urlopen(api, timeout=30)
    assert json_error.value.code == 404
    assert b"UnknownOperationException" in json_error.value.read()
    with pytest.raises(urllib.error.HTTPError) as page_error:
        urllib.request.urlopen(console_server.console + "/no-such-page", timeout=30)
    assert page_error.value.code == 404
    text = page_error.value.read().decode()
    assert text.startswith("<!doctype html>")
    assert "/console/static/console.css" in text
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        urllib.request.urlopen(
            urllib.request.Request(
                console_server.url + "/",
                data=b"{}",
                headers={"Content-Type": "application/x-amz-json-1.1"},
            ),
            timeout=30,
        )
    assert unsigned.value.code == 400
    assert b"MissingAuthenticationTokenException" in unsigned.value.read()


def test_a_session_ends_when_its_access_key_is_deleted(
    page: Any, console_server: ConsoleServer
) -> None:
    user = console_server.add_user(unique("short-lived"), managed=("AWSDataPipeline_FullAccess",))
    page.context.add_cookies([session_cookie(console_server, user)])
    page.goto(console_server.console + "/pipelines")
    expect(page.get_by_role("heading", name="Pipelines")).to_be_visible()
    console_server.ddbpipe("users", "delete-access-key", user.name, user.access_key_id)
    page.goto(console_server.console + "/pipelines")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_import_a_definition_file_then_edit_it_with_problems_shown_by_object(
    page: Any, console_server: ConsoleServer, tmp_path: Path
) -> None:
    document = console_template("export", ["Thread"])
    document["values"].update(
        {"myOutputS3Loc": f"s3://{BUCKET}/exports", "myPipelineLogUri": f"s3://{BUCKET}/logs"}
    )
    definition = tmp_path / "pipeline.json"
    definition.write_text(json.dumps(document))
    signed_in(page, console_server, console_server.admin())
    page.goto(console_server.console + "/pipelines/new?source=definition")
    name = unique("uploaded")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Definition file").set_input_files(str(definition))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.locator("article.component", has_text="TableBackupActivity")).to_contain_text(
        "PENDING"
    )
    page.get_by_role("link", name="Edit definition").click()
    text = page.get_by_label("Pipeline definition (JSON)").input_value()
    assert '"myDDBTableName": "Thread"' in text
    broken = text.replace('"ref": "DDBSourceTable"', '"ref": "NoSuchObject"')
    page.get_by_label("Pipeline definition (JSON)").fill(broken)
    page.get_by_role("button", name="Validate").click()
    problems = page.locator(".object-problems > li", has_text="TableBackupActivity")
    expect(problems).to_contain_text("NoSuchObject")
    expect(page.get_by_label("Pipeline definition (JSON)")).to_have_value(broken)
    page.get_by_label("Pipeline definition (JSON)").fill("{not json")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("This is not JSON")


def test_rerun_mark_finished_deactivate_and_delete(
    page: Any, console_server: ConsoleServer
) -> None:
    signed_in(page, console_server, console_server.admin())
    page.goto(console_server.console + "/pipelines/new?template=export")
    name = unique("actions")
    fill_export(page, name, "AlsoMissing", f"s3://{BUCKET}/exports")
    page.get_by_label("On a schedule").check()
    page.get_by_label("Run every").fill("1 day")
    page.get_by_role("button", name="Activate").click()
    activity = page.locator("#object-TableBackupActivity")
    badge = activity.locator("tr.instance .badge")
    expect(badge).to_have_text(re.compile("FAILED"), timeout=RUN_TIMEOUT_MS)
    expect(page.locator(".summary")).to_contain_text("SCHEDULED")  # the next run is tomorrow
    activity.get_by_role("button", name="Rerun").click()
    expect(activity.locator(".attempt-list li")).to_have_count(2, timeout=RUN_TIMEOUT_MS)
    expect(badge).to_have_text(re.compile("FAILED"), timeout=RUN_TIMEOUT_MS)
    activity.get_by_role("button", name="Mark finished").click()
    expect(badge).to_have_text(re.compile("FINISHED"))
    page.get_by_role("button", name="Deactivate").click()
    expect(page.locator(".summary")).to_contain_text(re.compile("INACTIVE|DEACTIVATING"))
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name=f"Delete pipeline {name}?")).to_be_visible()
    page.get_by_role("button", name="Delete pipeline").click()
    expect(page.get_by_role("heading", name="Pipelines")).to_be_visible()
    expect(page.locator("tbody tr", has_text=name)).to_have_count(0)

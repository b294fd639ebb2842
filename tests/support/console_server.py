"""``ddbpipe serve`` with its web console, as a real process over its own moto server, for
the console's browser tests.

As a pytest plugin it gives the session fixture ``console_server``: a moto server (its
own, so that tests resetting the shared one do not touch it) holding the tables
``Forum``, ``Thread``, ``Reply`` and ``Orders`` and the bucket ``console-backups``; and
``ddbpipe serve`` in region us-west-2, account 123456789012 (the account and region of
the DynamoDB guide's Forum/Thread/Reply policy), with a local root and two backup
prefixes. ``session_cookie`` signs a user in over HTTP, and ``ConsoleServer.cookie`` keeps one
session per user, for tests that start signed in;
``save_screenshot`` writes a page's picture to the test's folder, and also to the folder
``$DDBPIPE_CONSOLE_SCREENSHOTS`` names, when set.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.support.servers import REPO_ROOT, running_server

REGION = "us-west-2"
ACCOUNT_ID = "123456789012"
BUCKET = "console-backups"
TABLES = ("Forum", "Thread", "Reply", "Orders")
ITEMS = 40
FIXTURES = REPO_ROOT / "tests" / "unit" / "server" / "fixtures"
EMR_POLICY = FIXTURES / "EMRforDynamoDBDataPipeline.json"
FORUM_POLICY = FIXTURES / "ForumThreadReplyTables.json"
SCREENSHOTS_VARIABLE = "DDBPIPE_CONSOLE_SCREENSHOTS"
PASSWORD = "console-password-1"


@dataclass(frozen=True)
class ConsoleUser:
    """A user of the console server: its access key and console password."""

    name: str
    access_key_id: str
    secret_access_key: str
    password: str = PASSWORD


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class ConsoleServer:
    """A running ``ddbpipe serve`` with its console, and its moto server."""

    def __init__(
        self, url: str, aws_url: str, state: Path, local_root: Path, log_path: Path
    ) -> None:
        self.url = url
        self.aws_url = aws_url
        self.state = state
        self.local_root = local_root
        self.log_path = log_path
        self.users: dict[str, ConsoleUser] = {}
        self.cookies: dict[str, dict[str, Any]] = {}

    def cookie(self, user: ConsoleUser) -> dict[str, Any]:
        """A session cookie of ``user``, signed in once for the whole session (sign-in
        attempts are limited per address and per user)."""
        if user.name not in self.cookies:
            self.cookies[user.name] = session_cookie(self, user)
        return self.cookies[user.name]

    @property
    def console(self) -> str:
        """The console's base URL."""
        return f"{self.url}/console"

    def ddbpipe(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run ``ddbpipe ARGS --state STATE``; its standard output."""
        command = [str(Path(sys.executable).parent / "ddbpipe"), *args, "--state", str(self.state)]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def add_user(
        self, name: str, *, managed: tuple[str, ...] = (), policies: tuple[Path, ...] = ()
    ) -> ConsoleUser:
        """A user with these policies, an access key and a console password."""
        if name in self.users:
            return self.users[name]
        args = ["users", "add", name, "--json", "--console-password"]
        for each in managed:
            args += ["--managed", each]
        for path in policies:
            args += ["--policy", str(path)]
        output = self.ddbpipe(*args, env={"DDBPIPE_CONSOLE_PASSWORD": PASSWORD})
        key = json.loads(output)["results"][0]["new_access_key"]
        user = ConsoleUser(name, key["access_key_id"], key["secret_access_key"])
        self.users[name] = user
        return user

    def admin(self) -> ConsoleUser:
        """A user allowed Data Pipeline, DynamoDB and S3, with the guide's EMR policy."""
        return self.add_user(
            "admin",
            managed=(
                "AWSDataPipeline_FullAccess",
                "AmazonDynamoDBFullAccess",
                "AmazonS3FullAccess",
            ),
            policies=(EMR_POLICY,),
        )

    def forum_user(self) -> ConsoleUser:
        """The guide's user limited to the Forum, Thread and Reply tables."""
        return self.add_user(
            "forum-user",
            managed=("AWSDataPipeline_FullAccess",),
            policies=(FORUM_POLICY, EMR_POLICY),
        )

    def client(self, service: str) -> Any:
        """A boto3 client of the moto server behind the console."""
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        return session.client(
            service, endpoint_url=self.aws_url, config=Config(retries={"max_attempts": 2})
        )

    def log(self) -> str:
        """What the server wrote so far."""
        return self.log_path.read_text(errors="replace")


def create_table(dynamodb: Any, name: str, items: int = ITEMS) -> None:
    """A table keyed by ``pk`` (S) holding ``items`` items."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for start in range(0, items, 25):
        batch = [
            {"PutRequest": {"Item": {"pk": {"S": f"{name}-{n}"}, "n": {"N": str(n)}}}}
            for n in range(start, min(items, start + 25))
        ]
        dynamodb.batch_write_item(RequestItems={name: batch})


def sign_in_over_http(console: str, fields: dict[str, str]) -> tuple[int, str, str]:
    """Load the sign-in page at ``console`` for its CSRF token and cookie, then post
    ``fields``: the status, the session cookie (``name=value``) and the page."""
    with urllib.request.urlopen(console + "/sign-in", timeout=30) as form:
        page = form.read().decode()
        nonce = form.headers["set-cookie"].split(";")[0]
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, page[:500]
    body = urllib.parse.urlencode({**fields, "csrf_token": found.group(1)}).encode()
    request = urllib.request.Request(
        console + "/sign-in", data=body, method="POST", headers={"Cookie": nonce}
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, "", answer.read().decode()
    except urllib.error.HTTPError as answer:
        cookie = (answer.headers["set-cookie"] or "").split(";")[0]
        return answer.code, cookie, answer.read().decode(errors="replace")


def session_cookie(server: ConsoleServer, user: ConsoleUser) -> dict[str, Any]:
    """Sign ``user`` in over HTTP; the session cookie, as Playwright adds cookies."""
    status, cookie, page = sign_in_over_http(
        server.console,
        {
            "method": "key",
            "access_key_id": user.access_key_id,
            "secret_access_key": user.secret_access_key,
        },
    )
    if status != 303:
        raise AssertionError(f"signing in answered {status}: {page[:500]!r}")
    name, _, value = cookie.partition("=")
    return {"name": name, "value": value, "url": server.url + "/console"}


def save_screenshot(page: Any, folder: Path, name: str) -> Path:
    """A full-page PNG of ``page`` in ``folder`` (and in ``$DDBPIPE_CONSOLE_SCREENSHOTS``)."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    extra = os.environ.get(SCREENSHOTS_VARIABLE)
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        (Path(extra) / path.name).write_bytes(path.read_bytes())
    return path


def wait_for(predicate: Any, timeout: float = 60.0, what: str = "the condition") -> None:
    """Poll ``predicate`` until it is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="session")
def console_server(
    tmp_path_factory: pytest.TempPathFactory, server_log_dir: Path
) -> Iterator[ConsoleServer]:
    """``ddbpipe serve`` with its console over its own moto (see the module doc)."""
    root = tmp_path_factory.mktemp("ddbpipe-console")
    state = root / "state"
    local_root = root / "local"
    (local_root / "backups").mkdir(parents=True)
    moto_bin = str(Path(sys.executable).parent / "moto_server")
    with running_server(
        "console-moto", lambda port: [moto_bin, "-H", "127.0.0.1", "-p", str(port)], server_log_dir
    ) as moto:

        def command(port: int) -> list[str]:
            return [
                str(Path(sys.executable).parent / "ddbpipe"),
                "serve",
                "--port",
                str(port),
                "--state",
                str(state),
                "--region",
                REGION,
                "--account-id",
                ACCOUNT_ID,
                "--endpoint-url",
                moto.url,
                "--s3-endpoint-url",
                moto.url,
                "--local-root",
                str(local_root),
                "--backup-prefix",
                f"s3://{BUCKET}/exports",
                "--backup-prefix",
                str(local_root / "backups"),
                "--rate-limit",
                "off",
                "--workers",
                "1",
            ]

        server = ConsoleServer("", moto.url, state, local_root, server_log_dir / "console.log")
        dynamodb = server.client("dynamodb")
        for table in TABLES:
            create_table(dynamodb, table)
        server.client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        with running_server("console", command, server_log_dir) as process:
            server.url = process.url
            yield server

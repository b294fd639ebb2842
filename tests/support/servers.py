"""Pytest plugin: a credential-free test environment, a loopback-only network guard,
and the local servers (moto, dynalite, rclone serve s3) as fixtures.

Servers start lazily, once per session, on free 127.0.0.1 ports, and stop when the
session ends. Tests that use them are marked ``integration``; when such a test fails,
its report carries the tail of each server's log written during the test.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
DYNALITE_CLI = REPO_ROOT / "tests" / "servers" / "node_modules" / "dynalite" / "cli.js"
INSTALL_HINT = "run tests/servers/install (./run test does)"

START_TIMEOUT_S = 30.0
STOP_GRACE_S = 5.0
LOG_TAIL_LINES = 60

SERVER_FIXTURES = frozenset(
    {
        "moto_server",
        "dynalite_server",
        "rclone_server",
        "moto",
        "dynalite",
        "rclone",
        "dynamodb_endpoint",
        "s3_endpoint",
        "s3_bucket",
    }
)
FIXTURE_SERVERS = {
    "moto_server": "moto",
    "moto": "moto",
    "dynalite_server": "dynalite",
    "dynalite": "dynalite",
    "rclone_server": "rclone",
    "rclone": "rclone",
}
PARAMETRIZED_FIXTURES = ("dynamodb_endpoint", "s3_endpoint")


# --- test environment ---------------------------------------------------------------

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _prepare_environment() -> Path:
    """Point the AWS SDK at fake credentials and empty config files; return the temp dir."""
    config_dir = Path(tempfile.mkdtemp(prefix="ddbpipe-tests-aws-"))
    atexit.register(shutil.rmtree, config_dir, ignore_errors=True)
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL"):
            del os.environ[name]
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)
    (config_dir / "config").touch()
    (config_dir / "credentials").touch()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(config_dir / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(config_dir / "credentials"),
        }
    )
    for name in ("NO_PROXY", "no_proxy"):
        existing = [entry for entry in os.environ.get(name, "").split(",") if entry]
        os.environ[name] = ",".join([*existing, *LOOPBACK_NAMES])
    return config_dir


AWS_CONFIG_DIR = _prepare_environment()


# --- network guard ------------------------------------------------------------------


class NetworkGuardError(RuntimeError):
    """A test tried to reach a host that is not loopback."""


def is_loopback_host(host: str | bytes) -> bool:
    """Whether ``host`` names this machine's loopback interface."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _is_ip_literal(host: str | bytes) -> bool:
    """Whether ``host`` is a numeric IP address, which resolves without DNS."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_address(sock: socket.socket, address: Any) -> None:
    """Refuse an internet socket address that is not loopback."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host, port = address[0], address[1]
    if not is_loopback_host(host):
        raise NetworkGuardError(
            f"test network guard: refused to connect to {host!r} port {port}; "
            "tests may only reach 127.0.0.0/8, ::1 and localhost"
        )


class NetworkGuard:
    """Wraps socket connect and name resolution so that only loopback is reachable."""

    def __init__(self) -> None:
        self._saved: tuple[Any, Any, Any] | None = None

    def install(self) -> None:
        """Start refusing non-loopback connections and name lookups."""
        if self._saved is not None:
            return
        connect, connect_ex, getaddrinfo = (
            socket.socket.connect,
            socket.socket.connect_ex,
            socket.getaddrinfo,
        )
        self._saved = (connect, connect_ex, getaddrinfo)

        def guarded_connect(sock: socket.socket, address: Any) -> None:
            _check_address(sock, address)
            connect(sock, address)

        def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
            _check_address(sock, address)
            return connect_ex(sock, address)

        def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host is not None and not _is_ip_literal(host) and not is_loopback_host(host):
                raise NetworkGuardError(
                    f"test network guard: refused to resolve {host!r}; "
                    "tests may only reach 127.0.0.0/8, ::1 and localhost"
                )
            return getaddrinfo(host, *args, **kwargs)

        socket.socket.connect = guarded_connect  # type: ignore[assignment]
        socket.socket.connect_ex = guarded_connect_ex  # type: ignore[assignment]
        socket.getaddrinfo = guarded_getaddrinfo

    def uninstall(self) -> None:
        """Restore the original socket functions."""
        if self._saved is None:
            return
        connect, connect_ex, getaddrinfo = self._saved
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo
        self._saved = None


NETWORK_GUARD = NetworkGuard()


# --- endpoints ----------------------------------------------------------------------


CLIENT_CONFIG = Config(
    response_checksum_validation="when_required",
    request_checksum_calculation="when_required",
    s3={"addressing_style": "path"},
)


@dataclass(frozen=True)
class Endpoint:
    """A local AWS-compatible server and the credentials it accepts."""

    name: str
    url: str
    region: str = "us-east-1"
    access_key: str = "testing"
    secret_key: str = "testing"

    def boto3_session(self) -> boto3.Session:
        """A boto3 session holding this endpoint's credentials and region."""
        return boto3.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` that talks to this endpoint."""
        config = kwargs.pop("config", None)
        kwargs.setdefault("endpoint_url", self.url)
        kwargs["config"] = CLIENT_CONFIG.merge(config) if config else CLIENT_CONFIG
        session: Any = self.boto3_session()
        return session.client(service, **kwargs)


# --- server processes ---------------------------------------------------------------


class ServerStartError(RuntimeError):
    """A server process exited or did not accept connections in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A pre-exec hook that has Linux kill the child when this process dies, if available."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return hook


class ServerProcess:
    """A server subprocess on a free 127.0.0.1 port, with its output in a log file."""

    def __init__(self, name: str, command: Callable[[int], list[str]], log_path: Path) -> None:
        self.name = name
        self.command = command
        self.log_path = log_path
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = START_TIMEOUT_S, attempts: int = 3) -> None:
        """Start the server and return once its port accepts connections."""
        for attempt in range(1, attempts + 1):
            self.port = free_port()
            self._spawn()
            try:
                self._wait_until_ready(timeout)
                return
            except ServerStartError:
                exited = self.process is not None and self.process.poll() is not None
                self.stop()
                if not exited or attempt == attempts:
                    raise

    def _spawn(self) -> None:
        """Launch the process in its own process group, output appended to the log."""
        argv = self.command(self.port)
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,
                preexec_fn=_die_with_parent_hook(),
            )
        _RUNNING[self.name] = self

    def _wait_until_ready(self, timeout: float) -> None:
        """Wait until the port accepts TCP connections while the process runs."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(
                    f"{self.name} exited with status {self.process.returncode} before "
                    f"listening on port {self.port}\n{self.log_tail()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            if self.process.poll() is None:
                return
        raise ServerStartError(
            f"{self.name} did not listen on port {self.port} within {timeout:.0f} s\n"
            f"{self.log_tail()}"
        )

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Stop the server: SIGTERM to its process group, SIGKILL after ``grace`` seconds."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            self._signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal_group(process.pid, signal.SIGKILL)
                process.wait()
        self.process = None
        if _RUNNING.get(self.name) is self:
            del _RUNNING[self.name]

    @staticmethod
    def _signal_group(pid: int, signum: int) -> None:
        """Send ``signum`` to the process group led by ``pid``."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signum)

    def log_size(self) -> int:
        """The log file's current length in bytes."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_tail(self, offset: int = 0, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the log written after byte ``offset``."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                text = log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


_RUNNING: dict[str, ServerProcess] = {}


def _stop_all_servers() -> None:
    """Stop every server still running."""
    for server in list(_RUNNING.values()):
        server.stop()


atexit.register(_stop_all_servers)


@contextlib.contextmanager
def running_server(
    name: str, command: Callable[[int], list[str]], log_dir: Path
) -> Iterator[ServerProcess]:
    """A started server, stopped when the block ends."""
    server = ServerProcess(name, command, log_dir / f"{name}.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _venv_tool(name: str) -> str:
    """The path of a console script installed next to this Python, or a test failure."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{path} is missing: install the dev extras, then {INSTALL_HINT}")
    return str(path)


def _node() -> str:
    """The node executable with dynalite installed, or a test failure."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not on PATH: install Node.js 18+, then {INSTALL_HINT}")
    if not DYNALITE_CLI.exists():
        pytest.fail(f"{DYNALITE_CLI} is missing: {INSTALL_HINT}")
    return node


# --- pytest hooks -------------------------------------------------------------------

_LOG_OFFSETS = pytest.StashKey[dict[str, int]]()


def pytest_configure(config: pytest.Config) -> None:
    """Refuse non-loopback network access for the whole session."""
    NETWORK_GUARD.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the servers and restore the socket functions."""
    _stop_all_servers()
    NETWORK_GUARD.uninstall()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a server fixture as ``integration``."""
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def _servers_used(item: pytest.Item) -> set[str]:
    """Names of the servers a test asks for, directly or through a parameter."""
    fixturenames = set(getattr(item, "fixturenames", ()))
    names = {server for fixture, server in FIXTURE_SERVERS.items() if fixture in fixturenames}
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        names.update(
            str(callspec.params[fixture])
            for fixture in PARAMETRIZED_FIXTURES
            if fixture in callspec.params
        )
    return names


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Remember how long each running server's log is before the test starts."""
    item.stash[_LOG_OFFSETS] = {name: server.log_size() for name, server in _RUNNING.items()}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the servers' log lines written during a failed test to its report."""
    report = yield
    if report.failed:
        offsets = item.stash.get(_LOG_OFFSETS, {})
        for name in sorted(_servers_used(item)):
            server = _RUNNING.get(name)
            if server is None:
                continue
            tail = server.log_tail(offsets.get(name, 0))
            if tail:
                report.sections.append((f"{name} server log ({call.when})", tail))
    return report


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def server_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory holding the servers' log files for this session."""
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="session")
def moto_server(server_log_dir: Path) -> Iterator[Endpoint]:
    """moto_server (DynamoDB, S3 and more) for the whole session."""
    moto_bin = _venv_tool("moto_server")
    with running_server(
        "moto", lambda port: [moto_bin, "-H", "127.0.0.1", "-p", str(port)], server_log_dir
    ) as server:
        yield Endpoint(name="moto", url=server.url)


@pytest.fixture(scope="session")
def dynalite_server(server_log_dir: Path) -> Iterator[Endpoint]:
    """dynalite (DynamoDB, in memory) for the whole session."""
    node = _node()

    def command(port: int) -> list[str]:
        return [
            node,
            str(DYNALITE_CLI),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--createTableMs",
            "0",
            "--deleteTableMs",
            "0",
            "--updateTableMs",
            "0",
        ]

    with running_server("dynalite", command, server_log_dir) as server:
        yield Endpoint(name="dynalite", url=server.url)


@pytest.fixture(scope="session")
def rclone_server(
    server_log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Endpoint]:
    """rclone serve s3 (S3 that checks signatures) over a temp dir, for the whole session."""
    rclone = _venv_tool("rclone")
    root = tmp_path_factory.mktemp("rclone-root")
    access_key = "AK" + secrets.token_hex(9).upper()
    secret_key = secrets.token_hex(20)

    def command(port: int) -> list[str]:
        return [
            rclone,
            "serve",
            "s3",
            str(root),
            "--addr",
            f"127.0.0.1:{port}",
            "--auth-key",
            f"{access_key},{secret_key}",
            "--config",
            os.devnull,
        ]

    with running_server("rclone", command, server_log_dir) as server:
        yield Endpoint(name="rclone", url=server.url, access_key=access_key, secret_key=secret_key)


def reset_moto(endpoint: Endpoint) -> None:
    """Clear all of moto's state."""
    request = urllib.request.Request(f"{endpoint.url}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@pytest.fixture
def moto(moto_server: Endpoint) -> Endpoint:
    """The moto endpoint, with its state cleared before the test."""
    reset_moto(moto_server)
    return moto_server


@pytest.fixture
def dynalite(dynalite_server: Endpoint) -> Endpoint:
    """The dynalite endpoint (shared by the session: use unique table names)."""
    return dynalite_server


@pytest.fixture
def rclone(rclone_server: Endpoint) -> Endpoint:
    """The rclone S3 endpoint (shared by the session: use unique bucket names)."""
    return rclone_server


@pytest.fixture(params=["moto", "dynalite"])
def dynamodb_endpoint(request: pytest.FixtureRequest) -> Endpoint:
    """Each DynamoDB server in turn."""
    endpoint: Endpoint = request.getfixturevalue(request.param)
    return endpoint


@pytest.fixture(params=["moto", "rclone"])
def s3_endpoint(request: pytest.FixtureRequest) -> Endpoint:
    """Each S3 server in turn."""
    endpoint: Endpoint = request.getfixturevalue(request.param)
    return endpoint


@pytest.fixture
def unique_name() -> str:
    """A short unique suffix of lowercase letters and digits."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def s3_bucket(s3_endpoint: Endpoint, unique_name: str) -> tuple[Endpoint, str]:
    """A new empty bucket on each S3 server in turn."""
    bucket = f"bucket-{unique_name}"
    s3_endpoint.client("s3").create_bucket(Bucket=bucket)
    return s3_endpoint, bucket

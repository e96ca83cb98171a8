"""download_url against a real HTTP server in a thread, and the address classification table."""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from mps.errors import InvalidParameterError, ResourceNotFoundError, StorageUnavailableError
from mps.storage import download_url, is_public_address
from mps.storage.url import IpAddress, UrlDownloader
from tests.seaweed import free_port

LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


class _Handler(BaseHTTPRequestHandler):
    """Routes: /data?n=N (with Content-Length), /stream?n=N (without), /redirect?to=URL,
    /loop, /host (echoes the Host header), /error (503); anything else is 404."""

    protocol_version = "HTTP/1.0"  # close-delimited bodies, so /stream needs no length

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path in ("/data", "/stream"):
            body = b"x" * int(query.get("n", "10"))
            self.send_response(200)
            if parts.path == "/data":
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif parts.path in ("/redirect", "/loop"):
            self.send_response(302)
            self.send_header("Location", query["to"] if parts.path == "/redirect" else "/loop")
            self.end_headers()
        elif parts.path == "/host":
            self._reply(200, self.headers["Host"].encode())
        else:
            self._reply(503 if parts.path == "/error" else 404, b"no")

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a threaded HTTP server."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _loopback_is_public(**kwargs: object) -> UrlDownloader:
    """A downloader that treats only 127.0.0.1 as public: the test server plays the internet."""
    return UrlDownloader(max_bytes=1000, is_allowed=lambda ip: ip == LOOPBACK, **kwargs)  # type: ignore[arg-type]


def test_loopback_is_refused_by_default_and_nothing_is_written(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "in.mp4"
    with pytest.raises(InvalidParameterError) as caught:
        download_url(f"{server}/data", dest, max_bytes=1000)
    assert caught.value.code == "InvalidParameterValue.InputInfo"
    assert not dest.exists()


def test_loopback_is_downloaded_when_private_addresses_are_allowed(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "in.mp4"
    assert download_url(f"{server}/data?n=123", dest, max_bytes=1000, allow_private=True) == 123
    assert dest.read_bytes() == b"x" * 123


@pytest.mark.parametrize("path", ["/data?n=1001", "/stream?n=5000"])
def test_a_body_over_max_bytes_is_refused_and_the_partial_file_removed(
    server: str, tmp_path: Path, path: str
) -> None:
    # /data says its length up front; /stream does not, so the cap is hit while streaming.
    dest = tmp_path / "in.mp4"
    with pytest.raises(InvalidParameterError):
        download_url(server + path, dest, max_bytes=1000, allow_private=True)
    assert not dest.exists()


def test_a_redirect_to_a_private_address_is_refused(server: str, tmp_path: Path) -> None:
    # Given a "public" server that redirects to the cloud metadata address
    url = f"{server}/redirect?to=http://169.254.169.254/latest/meta-data/"
    with pytest.raises(InvalidParameterError) as caught:
        _loopback_is_public().download(url, tmp_path / "x")
    assert "169.254.169.254" in str(caught.value)


def test_a_redirect_is_followed_when_private_addresses_are_allowed(server: str, tmp_path: Path) -> None:
    port = server.rsplit(":", 1)[1]
    url = f"{server}/redirect?to=http://localhost:{port}/data%3Fn%3D7"
    assert download_url(url, tmp_path / "x", max_bytes=1000, allow_private=True) == 7


def test_when_one_address_refuses_the_connection_the_next_is_tried(server: str, tmp_path: Path) -> None:
    # Nothing listens on 127.0.0.2 (the server is bound to 127.0.0.1 only).
    addresses: list[IpAddress] = [ipaddress.IPv4Address("127.0.0.2"), LOOPBACK]
    downloader = UrlDownloader(max_bytes=100, allow_private=True, resolve=lambda host, port: addresses)
    port = server.rsplit(":", 1)[1]
    assert downloader.download(f"http://media.example:{port}/data?n=4", tmp_path / "x") == 4


def test_a_relative_redirect_is_checked_and_followed(server: str, tmp_path: Path) -> None:
    assert _loopback_is_public().download(f"{server}/redirect?to=/data%3Fn%3D9", tmp_path / "x") == 9


def test_more_than_five_redirects_are_refused(server: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="redirects"):
        download_url(f"{server}/loop", tmp_path / "x", max_bytes=1000, allow_private=True)


def test_404_is_a_download_error_and_503_is_retryable(server: str, tmp_path: Path) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        download_url(f"{server}/missing", tmp_path / "x", max_bytes=1000, allow_private=True)
    assert caught.value.code == "ResourceNotFound.DownloadError"
    with pytest.raises(StorageUnavailableError):
        download_url(f"{server}/error", tmp_path / "x", max_bytes=1000, allow_private=True)


def test_a_closed_port_is_retryable(tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailableError) as caught:
        download_url(f"http://127.0.0.1:{free_port()}/", tmp_path / "x", max_bytes=10, allow_private=True)
    assert caught.value.retryable


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a", "gopher://x/", "http://", "http://u:p@example.com/a"]
)
def test_only_plain_http_and_https_urls_are_accepted(url: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError):
        download_url(url, tmp_path / "x", max_bytes=10)


def test_the_checked_address_is_the_connected_one_and_host_is_kept(server: str, tmp_path: Path) -> None:
    # Given a name that resolves (once, through our resolver) to the test server
    port = int(server.rsplit(":", 1)[1])
    calls: list[str] = []

    def resolve(host: str, _port: int) -> list[IpAddress]:
        calls.append(host)
        return [LOOPBACK]

    dest = tmp_path / "host.txt"
    _loopback_is_public(resolve=resolve).download(f"http://media.example:{port}/host", dest)

    # Then the request went to the checked IP, with the original Host header
    assert calls == ["media.example"]
    assert dest.read_text() == f"media.example:{port}"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ssl.SSLContext]]:
    """An https server with a self-signed certificate for ``media.example``; a context trusting it."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
         "-out", str(cert), "-subj", "/CN=media.example", "-addext", "subjectAltName=DNS:media.example"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"{httpd.server_address[1]}", ssl.create_default_context(cafile=str(cert))
    httpd.shutdown()
    httpd.server_close()


def test_https_to_the_pinned_address_keeps_sni_and_certificate_checks(
    tls_server: tuple[str, ssl.SSLContext], tmp_path: Path
) -> None:
    port, trust = tls_server
    downloader = _loopback_is_public(resolve=lambda host, port: [LOOPBACK], verify=trust)
    dest = tmp_path / "host.txt"

    downloader.download(f"https://media.example:{port}/host", dest)

    assert dest.read_text() == f"media.example:{port}"
    # A name the certificate does not cover fails for good, not as a retryable outage.
    with pytest.raises(InvalidParameterError, match="certificate"):
        downloader.download(f"https://other.example:{port}/host", dest)


def test_a_name_resolving_to_any_private_address_is_refused(server: str, tmp_path: Path) -> None:
    mixed = [LOOPBACK, ipaddress.IPv4Address("10.0.0.5")]
    downloader = _loopback_is_public(resolve=lambda host, port: mixed)
    with pytest.raises(InvalidParameterError, match="10.0.0.5"):
        downloader.download("http://media.example/a", tmp_path / "x")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("127.255.0.9", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),  # cloud metadata
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("0.0.0.0", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),  # documentation
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:10.0.0.1", False),
        ("::127.0.0.1", False),  # IPv4-compatible (deprecated)
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:808:808::", True),  # 6to4 of 8.8.8.8
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2001::1", False),  # Teredo
        ("2001:db8::1", False),
    ],
)
def test_address_classification(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public

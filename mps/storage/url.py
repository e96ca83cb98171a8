"""Downloading URL inputs without letting them reach inside the network (SSRF).

Each hop of a download is checked before anything is sent: the scheme must be http(s) and
every address the host resolves to must be public (see :func:`is_public_address`). Redirects
are followed by hand, at most :data:`MAX_REDIRECTS`, each new location checked again.

DNS rebinding (the name resolving to a public address for the check and to a private one for
the connection) is closed by connecting to the address that was checked: the request goes to
``scheme://<ip>:<port>/path`` with the original ``Host`` header and, for https, the original
name as SNI and certificate hostname (httpcore's ``sni_hostname`` extension). Environment
proxies are ignored (``trust_env=False``): a proxy would make its own, unchecked resolution.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from mps.errors import InvalidParameterError, ResourceNotFoundError, StorageUnavailableError
from mps.storage.base import CHUNK_SIZE, DOWNLOAD_ERROR

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Redirects followed before the URL is refused.
MAX_REDIRECTS = 5
#: Wire code of a URL input that is refused (scheme, address, size, redirects).
INPUT_INFO = "InvalidParameterValue.InputInfo"
#: NAT64's well-known prefix: the last 32 bits are an IPv4 address (RFC 6052).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: Headers of every request: ask for the bytes as stored (a gzip-encoded body is still decoded,
#: and max_bytes counts decoded bytes, so a compression bomb stops at the limit).
_HEADERS = {"Accept-Encoding": "identity", "User-Agent": "mps-url-input/1"}


def is_public_address(ip: IpAddress) -> bool:
    """Whether a URL input may connect to ``ip`` without ``allow_private``.

    Refused: loopback, private (RFC 1918, ULA), shared (100.64/10), link-local, multicast,
    reserved, unspecified, and IPv6 forms that embed such an IPv4 address (IPv4-mapped,
    6to4, NAT64; Teredo is refused as a whole, like other special-purpose IPv6 ranges).

    Parameters:
        ip: an address.

    Returns:
        True when it is a global unicast address.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_address(embedded)
    refused = (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global  # catches 100.64/10 and other special-purpose ranges
    )
    return not refused


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_internal_name(host: str) -> bool:
    """Whether ``host`` names a refused address without asking DNS.

    That is ``localhost`` and its subdomains (RFC 6761: they never leave the machine), and any
    literal address :func:`is_public_address` refuses, including the legacy IPv4 spellings a
    resolver accepts (``2130706433``, ``0x7f.1``, ``127.1``). Other names are not judged here:
    what they resolve to is checked when they are used.

    Parameters:
        host: a URL's host (IPv6 without brackets).

    Returns:
        True when the host is refused whatever DNS says.
    """
    name = host.strip().rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address: IpAddress = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(name))  # no DNS: numbers and dots only
        except OSError:
            return False
    return not is_public_address(address)


def resolve_host(host: str, port: int) -> list[IpAddress]:
    """Every address ``host`` resolves to, in the resolver's order, without duplicates.

    Raises:
        InvalidParameterError: the name does not exist.
        StorageUnavailableError: the resolver failed for another (perhaps temporary) reason.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            raise InvalidParameterError(f"URL host {host} does not resolve", code=INPUT_INFO) from exc
        raise StorageUnavailableError(f"cannot resolve {host}: {exc}") from exc
    addresses: list[IpAddress] = []
    for info in infos:
        # Drop an IPv6 zone ("fe80::1%eth0"); the address itself is what is checked.
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class UrlDownloader:
    """Downloads one URL at a time under the rules of this module.

    Parameters:
        max_bytes: the largest body accepted.
        allow_private: skip the address check (trusted, internal deployments).
        timeout: seconds for each network operation (connect, each read).
        is_allowed: the address check; tests replace it to treat a loopback server as public.
        resolve: the resolver, ``(host, port) -> addresses``.
        verify: TLS verification, as httpx takes it (an ``ssl.SSLContext`` for a private CA).
    """

    def __init__(
        self,
        *,
        max_bytes: int,
        allow_private: bool = False,
        timeout: float = 30.0,
        is_allowed: Callable[[IpAddress], bool] = is_public_address,
        resolve: Callable[[str, int], list[IpAddress]] = resolve_host,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.max_bytes = max_bytes
        self.allow_private = allow_private
        self.timeout = timeout
        self._is_allowed = is_allowed
        self._resolve = resolve
        self._verify = verify

    def download(self, url: str, dest: Path) -> int:
        """Download ``url`` into ``dest``; see :func:`download_url`."""
        current = _parse(url)
        with httpx.Client(
            timeout=self.timeout, follow_redirects=False, trust_env=False, verify=self._verify
        ) as client:
            for _ in range(MAX_REDIRECTS + 1):
                with self._open(client, current) as response:
                    if response.is_redirect:
                        current = _parse(str(current.join(response.headers["location"])))
                        continue
                    _check_status(response, current)
                    return self._save(response, dest)
        raise InvalidParameterError(f"more than {MAX_REDIRECTS} redirects from {url}", code=INPUT_INFO)

    def _addresses(self, url: httpx.URL) -> list[IpAddress]:
        port = url.port or (443 if url.scheme == "https" else 80)
        host = url.raw_host.decode("ascii")  # IDNA names in their ASCII (punycode) form
        addresses = self._resolve(host, port)
        refused = [ip for ip in addresses if not self.allow_private and not self._is_allowed(ip)]
        if refused or not addresses:
            # Refuse when any address is internal: which one a client picks is not ours to know.
            raise InvalidParameterError(
                f"URL host {url.host} resolves to a non-public address ({refused[0] if refused else 'none'})",
                code=INPUT_INFO,
            )
        return addresses

    @contextlib.contextmanager
    def _open(self, client: httpx.Client, url: httpx.URL) -> Iterator[httpx.Response]:
        """Send a GET to the first checked address that accepts a connection."""
        addresses = self._addresses(url)
        headers = {**_HEADERS, "Host": url.netloc.decode("ascii")}
        extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
        for index, ip in enumerate(addresses):
            request = client.build_request(
                "GET", url.copy_with(host=str(ip)), headers=headers, extensions=extensions
            )
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError as exc:
                if _caused_by_certificate(exc):
                    raise InvalidParameterError(
                        f"invalid TLS certificate for {url.host}", INPUT_INFO
                    ) from exc
                if index + 1 < len(addresses):
                    continue  # the next address of the same name may answer
                raise StorageUnavailableError(f"cannot connect to {url.host}: {exc}") from exc
            except httpx.HTTPError as exc:
                raise StorageUnavailableError(f"download of {url} failed: {exc}") from exc
            try:
                yield response
            finally:
                response.close()
            return

    def _save(self, response: httpx.Response, dest: Path) -> int:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise InvalidParameterError(
                f"URL input is {declared} bytes, more than the {self.max_bytes} allowed", code=INPUT_INFO
            )
        written = 0
        try:
            with dest.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK_SIZE):
                    written += len(chunk)
                    if written > self.max_bytes:
                        raise InvalidParameterError(
                            f"URL input is more than the {self.max_bytes} bytes allowed", code=INPUT_INFO
                        )
                    out.write(chunk)
        except httpx.HTTPError as exc:
            dest.unlink(missing_ok=True)
            raise StorageUnavailableError(f"download of {response.url} broke off: {exc}") from exc
        except BaseException:
            dest.unlink(missing_ok=True)  # never leave a partial file that looks complete
            raise
        return written


def download_url(
    url: str, dest: Path, *, max_bytes: int, allow_private: bool = False, timeout: float = 30.0
) -> int:
    """Download an http(s) URL input to a file, refusing internal addresses.

    Parameters:
        url: the ``UrlInputInfo.Url`` of a task.
        dest: the file to write (replaced; removed again if the download fails).
        max_bytes: the largest body accepted, checked on Content-Length and while streaming.
        allow_private: allow loopback, private and other non-public addresses.
        timeout: seconds for each network operation.

    Returns:
        the number of bytes written.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.InputInfo``: not http(s), a refused
            address (on any hop), too many redirects, or too large.
        ResourceNotFoundError: ``ResourceNotFound.DownloadError``: 404 or another 4xx.
        StorageUnavailableError: connection failure, timeout, 5xx or 429 (retryable).
    """
    downloader = UrlDownloader(max_bytes=max_bytes, allow_private=allow_private, timeout=timeout)
    return downloader.download(url, dest)


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidParameterError(f"invalid URL {url!r}: {exc}", code=INPUT_INFO) from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidParameterError(f"only http and https URLs are accepted, not {url!r}", code=INPUT_INFO)
    if parsed.userinfo:
        raise InvalidParameterError("URLs with credentials are not accepted", code=INPUT_INFO)
    return parsed


def _caused_by_certificate(exc: BaseException) -> bool:
    # A certificate that does not match will not match next time either: not retryable.
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _check_status(response: httpx.Response, url: httpx.URL) -> None:
    status = response.status_code
    if status >= 500 or status == 429:
        raise StorageUnavailableError(f"{url.host} answered HTTP {status} for {url}")
    if status >= 400:
        raise ResourceNotFoundError(f"cannot download {url}: HTTP {status}", code=DOWNLOAD_ERROR)
    if status != 200:
        # 204, 206, or a 3xx without Location: nothing we can store as the input.
        raise ResourceNotFoundError(f"cannot download {url}: unexpected HTTP {status}", code=DOWNLOAD_ERROR)

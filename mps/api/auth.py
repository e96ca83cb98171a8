"""Request signature verification: TC3-HMAC-SHA256 (API 3.0) and the legacy signature v1.

TC3, as the official SDK computes it (mps-api.md §1.2; ``tencentcloud/common/abstract_client.py``)::

    CanonicalRequest = METHOD \\n / \\n <raw query if GET else ""> \\n
                       content-type:<as sent>\\nhost:<as sent>\\n \\n content-type;host \\n
                       sha256hex(body | "" for GET | "UNSIGNED-PAYLOAD" if X-TC-Content-SHA256 says so)
    StringToSign     = TC3-HMAC-SHA256 \\n <X-TC-Timestamp> \\n <date>/<service>/tc3_request \\n
                       sha256hex(CanonicalRequest)
    Signature        = hex HMAC(HMAC(HMAC(HMAC("TC3"+SecretKey, date), service), "tc3_request"), StringToSign)

The official SDKs do not all sign the same scope and host. The Python SDK (and ``tccli``) signs
``mps`` and the ``Host`` as sent. The Node.js SDK (``tencentcloud-sdk-nodejs-common``, ``sign.js``)
takes the service from the endpoint's first label (``127`` for ``127.0.0.1:8080``) and signs
``host:<hostname>``, without the port it sends. So the service is read from the credential scope
(itself part of the string to sign, so it cannot be swapped without the key), and the canonical
request is tried with the ``Host`` as sent and, when it carries a port, with the port stripped.
Everything the signature covers is the same either way; only the port may be left out of it.

Legacy v1 (``signMethod="HmacSHA1"|"HmacSHA256"``; ``common/sign.py`` and ``_format_sign_string``)::

    base64 HMAC(SecretKey, METHOD + Host + "/?" + "&".join(f"{k.replace('_', '.')}={v}" sorted by key))

over every field but ``Signature``, values decoded (not URL-encoded).

Checks run in this order, each with its own code (§13): a malformed or missing header
(``AuthFailure.InvalidAuthorization``), a timestamp more than :data:`MAX_SKEW_SECONDS` away
(``AuthFailure.SignatureExpire``), an unknown SecretId (``AuthFailure.SecretIdNotFound``), then the
credential date and the signature itself (``AuthFailure.SignatureFailure``). Signatures are compared
in constant time. There is no nonce cache: a captured request can be replayed within the window,
as with Tencent's own TC3 (which has no nonce at all).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from mps.api.errors import ApiError
from mps.api.wire import RawRequest

#: The service the Python SDK puts in the TC3 credential scope (others may differ: see above).
SERVICE = "mps"
#: The only TC3 algorithm there is.
TC3_ALGORITHM = "TC3-HMAC-SHA256"
#: How far ``X-TC-Timestamp`` may be from the server clock, in seconds (Tencent: 5 minutes).
MAX_SKEW_SECONDS = 300
#: The value of ``X-TC-Content-SHA256`` that replaces the body hash by this literal.
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
#: Headers every TC3 signature must cover: without ``host`` a signature could be replayed elsewhere.
REQUIRED_SIGNED_HEADERS = frozenset({"content-type", "host"})
#: Legacy signature methods and their digests.
LEGACY_DIGESTS = {"HmacSHA1": hashlib.sha1, "HmacSHA256": hashlib.sha256}
#: A ``Host`` with a port: a name or IPv4 address (no colon), or a bracketed IPv6 address.
_HOST_PORT = re.compile(r"(\[[^\]]*\]|[^:\[\]]+):[0-9]{1,5}")


@dataclass(frozen=True)
class Tc3Authorization:
    """The parts of a TC3 ``Authorization`` header."""

    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def _invalid(message: str) -> ApiError:
    return ApiError(message, "AuthFailure.InvalidAuthorization")


def parse_authorization(value: str | None) -> Tc3Authorization:
    """Split ``TC3-HMAC-SHA256 Credential=ID/DATE/mps/tc3_request, SignedHeaders=..., Signature=...``.

    Parameters:
        value: the ``Authorization`` header, if any.

    Returns:
        Its parts; signed header names are lower-cased.

    Raises:
        ApiError: ``AuthFailure.InvalidAuthorization`` for anything that is not that shape.
    """
    if not value:
        raise _invalid("The Authorization header is missing.")
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != TC3_ALGORITHM:
        raise _invalid(f"The Authorization header must use {TC3_ALGORITHM}.")
    try:
        parts = dict(item.strip().split("=", 1) for item in rest.split(","))
        secret_id, date, service, terminal = parts["Credential"].split("/")
        names = tuple(name.strip().lower() for name in parts["SignedHeaders"].split(";"))
        signature = parts["Signature"].strip()
    except (KeyError, ValueError):
        raise _invalid("The Authorization header is malformed.") from None
    if terminal != "tc3_request" or not _is_token(service) or not secret_id or not signature:
        raise _invalid("The credential scope must be <SecretId>/<date>/<service>/tc3_request.")
    if not REQUIRED_SIGNED_HEADERS <= set(names):
        raise _invalid("SignedHeaders must include content-type and host.")
    return Tc3Authorization(secret_id, date, service, names, signature)


def _is_token(value: str) -> bool:
    """Whether a credential-scope part is a plain printable ASCII word (no spaces, no control codes)."""
    return bool(value) and len(value) <= 255 and value.isascii() and value.isprintable() and " " not in value


def host_without_port(host: str) -> str | None:
    """``host`` without its ``:port``, or None when it has none.

    ``127.0.0.1:8080`` gives ``127.0.0.1`` and ``[::1]:8080`` gives ``[::1]`` (what WHATWG's
    ``URL.hostname``, which the Node.js SDK signs, returns); ``example.com`` and ``[::1]`` give None.
    """
    match = _HOST_PORT.fullmatch(host)
    return match.group(1) if match else None


def canonical_request(raw: RawRequest, signed_headers: tuple[str, ...], host: str | None = None) -> str:
    """The TC3 canonical request of ``raw`` (step 1 of mps-api.md §1.2).

    Parameters:
        raw: the request as sent.
        signed_headers: lower-cased names, in the order of ``SignedHeaders``.
        host: the value to canonicalise for ``host`` instead of the header as sent
            (:func:`verify_tc3` passes the host without its port).

    Returns:
        The canonical request text.

    Raises:
        ApiError: ``AuthFailure.InvalidAuthorization`` when a signed header was not sent.
    """
    values = dict(raw.headers) if host is None else {**raw.headers, "host": host}
    try:
        headers = "".join(f"{name}:{values[name].strip()}\n" for name in signed_headers)
    except KeyError as exc:
        raise _invalid(f"Signed header {exc.args[0]!r} is missing from the request.") from None
    if raw.headers.get("x-tc-content-sha256") == UNSIGNED_PAYLOAD:
        payload = UNSIGNED_PAYLOAD.encode()
    elif raw.method == "GET":
        payload = b""
    else:
        payload = raw.body
    query = raw.query if raw.method == "GET" else ""
    return "\n".join(
        [raw.method, "/", query, headers, ";".join(signed_headers), hashlib.sha256(payload).hexdigest()]
    )


def tc3_signature(secret_key: str, date: str, timestamp: str, canonical: str, service: str = SERVICE) -> str:
    """The hex TC3 signature of a canonical request (steps 2 and 3 of mps-api.md §1.2).

    Parameters:
        secret_key: the caller's SecretKey.
        date: the credential date, ``YYYY-MM-DD``.
        timestamp: ``X-TC-Timestamp`` as sent.
        canonical: from :func:`canonical_request`.
        service: the credential scope's service.

    Returns:
        The lower-case hex signature.
    """
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    to_sign = f"{TC3_ALGORITHM}\n{timestamp}\n{date}/{service}/tc3_request\n{digest}"
    key = ("TC3" + secret_key).encode("utf-8")
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _check_timestamp(value: str | None, now: float) -> int:
    """Parse a Unix timestamp and enforce the skew window."""
    value = (value or "").strip()
    # isascii: str.isdigit accepts digits int() refuses; the length keeps int() and gmtime() safe.
    if not (value.isascii() and value.isdigit() and len(value) <= 12):
        raise _invalid("The request timestamp is missing or not a number of seconds.")
    timestamp = int(value)
    if abs(now - timestamp) > MAX_SKEW_SECONDS:
        raise ApiError(
            f"The request timestamp {timestamp} is more than {MAX_SKEW_SECONDS} s away from the server "
            f"time {int(now)}; check the client clock.",
            "AuthFailure.SignatureExpire",
        )
    return timestamp


def _secret_key(keys: Mapping[str, str], secret_id: str) -> str:
    try:
        return keys[secret_id]
    except KeyError:
        message = f"The SecretId {secret_id[:64]!r} is not known."
        raise ApiError(message, "AuthFailure.SecretIdNotFound") from None


def _same(expected: str, given: str) -> bool:
    # Bytes, because compare_digest raises TypeError on non-ASCII str from a hostile header.
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def _mismatch() -> ApiError:
    return ApiError(
        "The request signature does not match; check the SecretKey and the signing method.",
        "AuthFailure.SignatureFailure",
    )


def verify_tc3(raw: RawRequest, keys: Mapping[str, str], now: float | None = None) -> str:
    """Verify a TC3-HMAC-SHA256 request.

    Parameters:
        raw: the request as sent.
        keys: SecretId -> SecretKey.
        now: the server time in Unix seconds (default: the clock).

    Returns:
        The authenticated SecretId.

    Raises:
        ApiError: one of the ``AuthFailure.*`` codes listed in the module docstring.
    """
    auth = parse_authorization(raw.headers.get("authorization"))
    timestamp = _check_timestamp(raw.headers.get("x-tc-timestamp"), time.time() if now is None else now)
    secret_key = _secret_key(keys, auth.secret_id)
    if auth.date != time.strftime("%Y-%m-%d", time.gmtime(timestamp)):
        raise ApiError(
            f"The credential date {auth.date[:16]!r} is not the UTC date of X-TC-Timestamp.",
            "AuthFailure.SignatureFailure",
        )
    timestamp_text = raw.headers["x-tc-timestamp"].strip()
    matches = [
        _same(tc3_signature(secret_key, auth.date, timestamp_text, canonical, auth.service), auth.signature)
        for canonical in _canonical_requests(raw, auth.signed_headers)
    ]
    if not any(matches):
        raise _mismatch()
    return auth.secret_id


def _canonical_requests(raw: RawRequest, signed_headers: tuple[str, ...]) -> list[str]:
    """The canonical request with the ``Host`` as sent, then without its port if it has one."""
    canonicals = [canonical_request(raw, signed_headers)]
    bare = host_without_port(raw.headers.get("host", "").strip())
    if bare is not None:
        canonicals.append(canonical_request(raw, signed_headers, host=bare))
    return canonicals


def legacy_sign_string(method: str, host: str, fields: Mapping[str, str]) -> str:
    """The text a legacy (v1) signature covers, exactly as the SDK's ``_format_sign_string`` builds it.

    Parameters:
        method: ``POST`` or ``GET``.
        host: the ``Host`` header (the SDK's endpoint).
        fields: every field of the request; ``Signature`` is left out here.

    Returns:
        ``POST<host>/?A=1&B.0=x...`` with keys sorted after ``_`` -> ``.`` and values not encoded.
    """
    renamed = {key.replace("_", "."): value for key, value in fields.items() if key != "Signature"}
    query = "&".join(f"{key}={renamed[key]}" for key in sorted(renamed))
    return f"{method}{host}/?{query}"


def legacy_signature(secret_key: str, sign_string: str, method: str) -> str:
    """The base64 HMAC of a legacy sign string (the SDK's ``Sign.sign``).

    Raises:
        KeyError: for a method other than ``HmacSHA1`` and ``HmacSHA256``.
    """
    digest = hmac.new(secret_key.encode("utf-8"), sign_string.encode("utf-8"), LEGACY_DIGESTS[method])
    return base64.b64encode(digest.digest()).decode("ascii")


def verify_legacy(
    raw: RawRequest, fields: Mapping[str, str], keys: Mapping[str, str], now: float | None = None
) -> str:
    """Verify a legacy HmacSHA1/HmacSHA256 (signature v1) request.

    Parameters:
        raw: the request as sent (method and ``Host``).
        fields: its flat fields, from :func:`mps.api.wire.legacy_fields`.
        keys: SecretId -> SecretKey.
        now: the server time in Unix seconds (default: the clock).

    Returns:
        The authenticated SecretId.

    Raises:
        ApiError: one of the ``AuthFailure.*`` codes listed in the module docstring.
    """
    method = fields.get("SignatureMethod", "HmacSHA1")
    if method not in LEGACY_DIGESTS or not fields.get("Signature") or not fields.get("SecretId"):
        raise _invalid("A legacy request needs SecretId, Signature, and SignatureMethod HmacSHA1/HmacSHA256.")
    _check_timestamp(fields.get("Timestamp"), time.time() if now is None else now)
    secret_key = _secret_key(keys, fields["SecretId"])
    sign_string = legacy_sign_string(raw.method, raw.headers.get("host", ""), fields)
    if not _same(legacy_signature(secret_key, sign_string, method), fields["Signature"]):
        raise _mismatch()
    return fields["SecretId"]


__all__ = [
    "LEGACY_DIGESTS",
    "MAX_SKEW_SECONDS",
    "REQUIRED_SIGNED_HEADERS",
    "SERVICE",
    "TC3_ALGORITHM",
    "UNSIGNED_PAYLOAD",
    "Tc3Authorization",
    "canonical_request",
    "host_without_port",
    "legacy_sign_string",
    "legacy_signature",
    "parse_authorization",
    "tc3_signature",
    "verify_legacy",
    "verify_tc3",
]

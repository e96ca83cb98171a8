"""TC3-HMAC-SHA256 and legacy v1 verification, against the SDK's own signing code."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign

from mps.api.auth import (
    canonical_request,
    host_without_port,
    legacy_sign_string,
    parse_authorization,
    tc3_signature,
    verify_legacy,
    verify_tc3,
)
from mps.api.errors import ApiError
from mps.api.wire import RawRequest, legacy_fields

SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
KEYS = {SECRET_ID: SECRET_KEY}
TC3 = "TC3-HMAC-SHA256"
ENDPOINT = "127.0.0.1:8080"
PARAMS: dict[str, Any] = {
    "TaskId": "t-1",
    "MediaProcessTask": {"TranscodeTaskSet": [{"Definition": 100010, "WatermarkSet": [{"Definition": 1}]}]},
    "Note": "a b&c=d_é",
}


def sdk_request(
    method: str = "POST", sign_method: str | None = None, unsigned: bool = False, key: str = SECRET_KEY
) -> RawRequest:
    """The exact request the SDK would send, built by its own code (no network)."""
    profile = ClientProfile(
        signMethod=sign_method, httpProfile=HttpProfile(endpoint=ENDPOINT, reqMethod=method)
    )
    profile.unsignedPayload = unsigned
    client = CommonClient("mps", "2019-06-12", credential.Credential(SECRET_ID, key), "ap-guangzhou", profile)
    req = RequestInternal(ENDPOINT, method, "/", header={})
    client._build_req_inter("DescribeTaskDetail", PARAMS, req)
    headers = {"host": ENDPOINT} | {name.lower(): str(value) for name, value in req.header.items()}
    if method == "GET":
        return RawRequest(method=method, query=req.data, headers=headers, body=b"")
    return RawRequest(method=method, query="", headers=headers, body=req.data.encode("utf-8"))


def _replace(raw: RawRequest, **changes: Any) -> RawRequest:
    headers = dict(raw.headers)
    headers.update(changes.pop("headers", {}))
    return RawRequest(
        **{"method": raw.method, "query": raw.query, "body": raw.body, "headers": headers, **changes}
    )


def _code(call: Any) -> str:
    with pytest.raises(ApiError) as info:
        call()
    return info.value.code


# -- TC3 ----------------------------------------------------------------------------------------


def test_tc3_matches_a_hand_computed_vector() -> None:
    # Given a request written out by hand (timestamp 1551113065 is 2019-02-25 UTC)
    body = b'{"Limit": 1, "Offset": 0}'
    raw = RawRequest(
        method="POST",
        query="",
        headers={"content-type": "application/json; charset=utf-8", "host": "mps.example.com"},
        body=body,
    )
    # The canonical request of mps-api.md §1.2, spelled out
    expected_canonical = (
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:mps.example.com\n\n"
        f"content-type;host\n{hashlib.sha256(body).hexdigest()}"
    )
    assert canonical_request(raw, ("content-type", "host")) == expected_canonical
    # And the SDK's own signing function over the string to sign
    to_sign = (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/mps/tc3_request\n"
        + hashlib.sha256(expected_canonical.encode()).hexdigest()
    )
    expected = Sign.sign_tc3(SECRET_KEY, "2019-02-25", "mps", to_sign)
    assert tc3_signature(SECRET_KEY, "2019-02-25", "1551113065", expected_canonical) == expected
    # Then a request carrying that signature verifies
    auth = (
        f"TC3-HMAC-SHA256 Credential={SECRET_ID}/2019-02-25/mps/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={expected}"
    )
    signed = _replace(raw, headers={"authorization": auth, "x-tc-timestamp": "1551113065"})
    assert verify_tc3(signed, KEYS, now=1551113065 + 299) == SECRET_ID


@pytest.mark.parametrize(
    ("method", "unsigned"), [("POST", False), ("GET", False), ("POST", True), ("GET", True)]
)
def test_tc3_accepts_what_the_sdk_signs(method: str, unsigned: bool) -> None:
    raw = sdk_request(method, unsigned=unsigned)
    assert verify_tc3(raw, KEYS, now=time.time()) == SECRET_ID


def test_tc3_get_canonicalises_the_raw_query() -> None:
    raw = sdk_request("GET")
    assert "MediaProcessTask.TranscodeTaskSet.0.WatermarkSet.0.Definition=1" in raw.query
    lines = canonical_request(raw, ("content-type", "host")).split("\n")
    assert lines[:3] == ["GET", "/", raw.query]
    assert lines[-1] == hashlib.sha256(b"").hexdigest()


def test_unsigned_payload_hashes_the_literal() -> None:
    raw = sdk_request("POST", unsigned=True)
    assert canonical_request(raw, ("content-type", "host")).endswith(
        hashlib.sha256(b"UNSIGNED-PAYLOAD").hexdigest()
    )
    # so the body may change without breaking the signature, which is what the client asked for
    assert verify_tc3(_replace(raw, body=b"{}"), KEYS, now=time.time()) == SECRET_ID


@pytest.mark.parametrize(
    "change",
    [
        {"body": json.dumps({"TaskId": "t-2"}).encode()},
        {"headers": {"host": "evil.example.com"}},
        {"headers": {"content-type": "application/json; charset=utf-8"}},
        {"timestamp_delta": -1},  # a second earlier than signed: inside the window, not what was signed
    ],
)
def test_tc3_tampering_is_signature_failure(change: dict[str, Any]) -> None:
    signed = sdk_request()
    if "timestamp_delta" in change:
        # Relative to the signed time, computed now: a value fixed at collection could fall out of
        # the 5-minute window in a long run and test the window instead of the signature.
        stamp = int(signed.headers["x-tc-timestamp"]) + change["timestamp_delta"]
        change = {"headers": {"x-tc-timestamp": str(stamp)}}
    raw = _replace(signed, **change)
    assert _code(lambda: verify_tc3(raw, KEYS, now=time.time())) == "AuthFailure.SignatureFailure"


def test_tc3_wrong_key_is_signature_failure() -> None:
    raw = sdk_request(key="not-the-key")
    assert _code(lambda: verify_tc3(raw, KEYS, now=time.time())) == "AuthFailure.SignatureFailure"


@pytest.mark.parametrize("skew", [301, -301, 3600])
def test_tc3_outside_the_window_is_signature_expire(skew: int) -> None:
    raw = sdk_request()
    now = int(raw.headers["x-tc-timestamp"]) + skew
    assert _code(lambda: verify_tc3(raw, KEYS, now=now)) == "AuthFailure.SignatureExpire"


def test_tc3_edge_of_the_window_is_accepted() -> None:
    raw = sdk_request()
    assert verify_tc3(raw, KEYS, now=int(raw.headers["x-tc-timestamp"]) - 300) == SECRET_ID


def test_tc3_unknown_secret_id() -> None:
    raw = sdk_request()
    assert (
        _code(lambda: verify_tc3(raw, {"AKIDother": "k"}, now=time.time())) == "AuthFailure.SecretIdNotFound"
    )


def test_tc3_credential_date_must_be_the_timestamp_utc_date() -> None:
    # Given a request signed (correctly) with a local-time date instead of the UTC one
    ts = 1551113065  # 2019-02-25 16:44 UTC...
    raw = RawRequest(
        "POST", "", {"content-type": "application/json", "host": "h", "x-tc-timestamp": str(ts)}, b"{}"
    )
    date = "2019-02-26"  # ...but already the 26th in Beijing (UTC+8): the classic client bug
    sig = tc3_signature(SECRET_KEY, date, str(ts), canonical_request(raw, ("content-type", "host")))
    scope = f"{SECRET_ID}/{date}/mps/tc3_request"
    auth = f"{TC3} Credential={scope}, SignedHeaders=content-type;host, Signature={sig}"
    with pytest.raises(ApiError, match="UTC date") as info:
        verify_tc3(_replace(raw, headers={"authorization": auth}), KEYS, now=ts)
    assert info.value.code == "AuthFailure.SignatureFailure"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "SKIP",
        "Bearer abc",
        "TC3-HMAC-SHA256",
        f"{TC3} Credential=AKID/2019-02-25/mps/tc3_request, Signature=abc",
        f"{TC3} Credential=AKID/2019-02-25/mps, SignedHeaders=content-type;host, Signature=abc",
        f"{TC3} Credential=AKID/2019-02-25//tc3_request, SignedHeaders=content-type;host, Signature=a",
        f"{TC3} Credential=AKID/2019-02-25/m ps/tc3_request, SignedHeaders=content-type;host, Signature=a",
        f"{TC3} Credential=AKID/2019-02-25/mps\x00/tc3_request, SignedHeaders=content-type;host, Signature=a",
        f"{TC3} Credential=AKID/2019-02-25/mps/tc3_request, SignedHeaders=content-type, Signature=abc",
        f"{TC3} Credential=AKID/2019-02-25/mps/tc3_request, SignedHeaders=content-type;host, Signature=",
        "TC3-HMAC-SHA256 garbage",
    ],
)
def test_malformed_authorization_is_invalid_authorization(header: str | None) -> None:
    assert _code(lambda: parse_authorization(header)) == "AuthFailure.InvalidAuthorization"


@pytest.mark.parametrize("timestamp", [None, "", "abc", "１２３", "²", "9" * 40, "-5"])
def test_bad_timestamps_are_invalid_authorization(timestamp: str | None) -> None:
    raw = sdk_request()
    headers = {k: v for k, v in raw.headers.items() if k != "x-tc-timestamp"}
    if timestamp is not None:
        headers["x-tc-timestamp"] = timestamp
    bad = RawRequest(raw.method, raw.query, headers, raw.body)
    assert _code(lambda: verify_tc3(bad, KEYS, now=time.time())) == "AuthFailure.InvalidAuthorization"


def test_hostile_signature_text_does_not_crash_the_compare() -> None:
    raw = sdk_request()
    auth = raw.headers["authorization"].rsplit("Signature=", 1)[0] + "Signature=ünïcode☃"
    bad = _replace(raw, headers={"authorization": auth})
    assert _code(lambda: verify_tc3(bad, KEYS, now=time.time())) == "AuthFailure.SignatureFailure"


def test_a_signed_header_that_was_not_sent_is_invalid_authorization() -> None:
    raw = sdk_request()
    headers = {k: v for k, v in raw.headers.items() if k != "host"}
    bad = RawRequest(raw.method, raw.query, headers, raw.body)
    assert _code(lambda: verify_tc3(bad, KEYS, now=time.time())) == "AuthFailure.InvalidAuthorization"


# -- TC3 as the Node.js SDK signs it -------------------------------------------------------------


def node_request(
    host: str = ENDPOINT, signed_host: str | None = None, service: str | None = None, method: str = "POST"
) -> RawRequest:
    """A request as ``tencentcloud-sdk-nodejs-common`` (``sign.js``, ``http_connection.js``) sends it
    for ``endpoint=host``: the service is the endpoint's first label (``127``) and the signed host is
    ``URL.hostname`` (no port), while the ``Host`` header keeps the port. The signature comes from
    the Python SDK's ``Sign.sign_tc3``, not from the code under test."""
    timestamp = int(time.time())
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    service = host.split(".")[0] if service is None else service
    signed_host = host.rsplit(":", 1)[0] if signed_host is None else signed_host
    content_type = "application/json" if method == "POST" else "application/x-www-form-urlencoded"
    body = json.dumps({"TaskId": "t-node"}, separators=(",", ":")).encode() if method == "POST" else b""
    query = "" if method == "POST" else "TaskId=t-node"
    canonical = (
        f"{method}\n/\n{query}\ncontent-type:{content_type}\nhost:{signed_host}\n\n"
        f"content-type;host\n{hashlib.sha256(body).hexdigest()}"
    )
    to_sign = (
        f"{TC3}\n{timestamp}\n{date}/{service}/tc3_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    )
    signature = Sign.sign_tc3(SECRET_KEY, date, service, to_sign)
    headers = {
        "host": host,
        "content-type": content_type,
        "x-tc-timestamp": str(timestamp),
        "authorization": f"{TC3} Credential={SECRET_ID}/{date}/{service}/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}",
    }
    return RawRequest(method=method, query=query, headers=headers, body=body)


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost:9000", "mps.example.com:8443", "[::1]:8080"])
def test_tc3_accepts_what_the_nodejs_sdk_signs(method: str, host: str) -> None:
    # Given the Node.js SDK's scope service ("127", "localhost:9000"...) and its port-less signed host
    raw = node_request(host, signed_host=host.rsplit(":", 1)[0], method=method)
    # Then the request verifies, as the Python SDK's does
    assert verify_tc3(raw, KEYS, now=time.time()) == SECRET_ID


def test_tc3_accepts_a_host_signed_without_its_port_under_the_mps_service() -> None:
    raw = node_request(ENDPOINT, signed_host="127.0.0.1", service="mps")
    assert verify_tc3(raw, KEYS, now=time.time()) == SECRET_ID


def test_tc3_accepts_a_host_sent_without_a_port() -> None:
    raw = node_request("mps.example.com", signed_host="mps.example.com")
    assert parse_authorization(raw.headers["authorization"]).service == "mps"
    assert verify_tc3(raw, KEYS, now=time.time()) == SECRET_ID


@pytest.mark.parametrize(
    ("sent", "signed"),
    [
        ("127.0.0.1:8080", "127.0.0.1:9090"),  # another port
        ("127.0.0.1:8080", "10.0.0.1"),  # another host, with or without the port
        ("127.0.0.1:8080", "10.0.0.1:8080"),
        ("127.0.0.1", "127.0.0.1:8080"),  # a port that was not sent is not added
        ("127.0.0.1:8080", "127.0.0"),  # no cutting at any other place
        ("127.0.0.1:8080", "127.0.0.1:"),
        ("[::1]:8080", "::1"),  # IPv6 keeps its brackets, as URL.hostname does
    ],
)
def test_tc3_host_must_still_be_the_one_signed(sent: str, signed: str) -> None:
    raw = node_request(sent, signed_host=signed)
    assert _code(lambda: verify_tc3(raw, KEYS, now=time.time())) == "AuthFailure.SignatureFailure"


def test_tc3_service_in_the_scope_is_signed() -> None:
    # Given a request the Node.js SDK signed under service "127"
    raw = node_request()
    # When the scope in the header is rewritten to "mps"
    auth = raw.headers["authorization"].replace("/127/tc3_request", "/mps/tc3_request")
    assert auth != raw.headers["authorization"]
    swapped = _replace(raw, headers={"authorization": auth})
    # Then the signature no longer matches
    assert _code(lambda: verify_tc3(swapped, KEYS, now=time.time())) == "AuthFailure.SignatureFailure"


def test_tc3_nodejs_wrong_key_and_tampering_are_signature_failures() -> None:
    raw = node_request()
    tampered = _replace(raw, body=b'{"TaskId":"t-other"}')
    assert _code(lambda: verify_tc3(tampered, KEYS, now=time.time())) == "AuthFailure.SignatureFailure"
    other_key = {SECRET_ID: "not-the-key"}
    assert _code(lambda: verify_tc3(raw, other_key, now=time.time())) == "AuthFailure.SignatureFailure"
    stale = int(raw.headers["x-tc-timestamp"]) + 301
    assert _code(lambda: verify_tc3(raw, KEYS, now=stale)) == "AuthFailure.SignatureExpire"


@pytest.mark.parametrize(
    ("host", "bare"),
    [
        ("127.0.0.1:8080", "127.0.0.1"),
        ("localhost:1", "localhost"),
        ("mps.example.com:65535", "mps.example.com"),
        ("[::1]:8080", "[::1]"),
        ("127.0.0.1", None),
        ("[::1]", None),
        ("::1", None),
        ("host:", None),
        ("host:port", None),
        ("host:123456", None),
        ("a:1:2", None),
        ("", None),
    ],
)
def test_host_without_port(host: str, bare: str | None) -> None:
    assert host_without_port(host) == bare


# -- legacy v1 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sign_method", ["HmacSHA1", "HmacSHA256"])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_legacy_accepts_what_the_sdk_signs(sign_method: str, method: str) -> None:
    raw = sdk_request(method, sign_method=sign_method)
    fields = legacy_fields(raw)
    assert fields["SignatureMethod"] == sign_method
    assert verify_legacy(raw, fields, KEYS, now=time.time()) == SECRET_ID


def test_legacy_sign_string_follows_the_sdk() -> None:
    fields = {"Action": "X", "b_c": "1 2", "a": "é", "Signature": "ignored"}
    assert legacy_sign_string("POST", "h:1", fields) == "POSTh:1/?Action=X&a=é&b.c=1 2"


def test_legacy_failures_have_their_codes() -> None:
    raw = sdk_request("POST", sign_method="HmacSHA256")
    fields = legacy_fields(raw)
    now = time.time()
    assert (
        _code(lambda: verify_legacy(raw, fields | {"TaskId": "t-9"}, KEYS, now))
        == "AuthFailure.SignatureFailure"
    )
    assert _code(lambda: verify_legacy(raw, fields, KEYS, now + 600)) == "AuthFailure.SignatureExpire"
    assert _code(lambda: verify_legacy(raw, fields, {"x": "y"}, now)) == "AuthFailure.SecretIdNotFound"
    assert _code(lambda: verify_legacy(raw, fields | {"SignatureMethod": "MD5"}, KEYS, now)) == (
        "AuthFailure.InvalidAuthorization"
    )
    without = {k: v for k, v in fields.items() if k != "Signature"}
    assert _code(lambda: verify_legacy(raw, without, KEYS, now)) == "AuthFailure.InvalidAuthorization"
    wrong_host = _replace(raw, headers={"host": "other:1"})
    assert _code(lambda: verify_legacy(wrong_host, fields, KEYS, now)) == "AuthFailure.SignatureFailure"

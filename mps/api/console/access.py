"""Who may use the console: credentials from settings, signed session cookies, CSRF tokens.

Roles: ``admin`` (every page and action) and ``viewer`` (every page, no action). Credentials:

- ``MPS_CONSOLE_PASSWORD``: user ``admin``;
- else ``MPS_SECRET_ID``/``MPS_SECRET_KEY``: the SecretId as user, the SecretKey as password, admin;
- ``MPS_CONSOLE_VIEWER_PASSWORD``: user ``viewer``, read-only.

With none of them set the console is off (its pages answer 404). A session is a cookie signed
with ``MPS_CONSOLE_SECRET`` (itsdangerous, timestamped, valid ``MPS_CONSOLE_SESSION_HOURS``); it
carries the role and the session's CSRF token, which every POST must echo (form field ``csrf`` or
header ``X-CSRF-Token``). The login form itself is protected by a double-submit token.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer

from mps.settings import Settings

log = logging.getLogger("mps.api.console")

Role = Literal["admin", "viewer"]
#: The session cookie, and the login form's double-submit cookie.
SESSION_COOKIE = "mps_console"
LOGIN_COOKIE = "mps_console_login"
#: User name of the read-only login.
VIEWER_USER = "viewer"
#: User name of the admin login when ``MPS_CONSOLE_PASSWORD`` is set.
ADMIN_USER = "admin"


@dataclass(frozen=True)
class Session:
    """A logged-in user: name, role, and the CSRF token every POST of the session must carry."""

    user: str
    role: Role
    csrf: str

    @property
    def can_act(self) -> bool:
        """Whether this session may change anything (abort, enable...)."""
        return self.role == "admin"


class ConsoleAccess:
    """The console's credentials and session signer, built once from settings.

    Parameters:
        settings: the ``MPS_CONSOLE_*`` settings and the API's credentials.
    """

    def __init__(self, settings: Settings) -> None:
        self._users: dict[str, tuple[str, Role]] = {}
        if settings.console_password:
            self._users[ADMIN_USER] = (settings.console_password, "admin")
        elif settings.secret_id and settings.secret_key:
            self._users[settings.secret_id] = (settings.secret_key, "admin")
        if settings.console_viewer_password:
            self._users[VIEWER_USER] = (settings.console_viewer_password, "viewer")
        secret = settings.console_secret
        if not secret and self._users:
            log.warning(
                "MPS_CONSOLE_SECRET is unset: console sessions are signed with a key made for this "
                "process; they end when it restarts and are not valid on other API replicas"
            )
        self._serializer = URLSafeTimedSerializer(secret or secrets.token_hex(32), salt="mps-console")
        self.max_age = int(settings.console_session_hours * 3600)

    @property
    def enabled(self) -> bool:
        """Whether any credential is configured (otherwise the console is off)."""
        return bool(self._users)

    def login(self, user: str, password: str) -> Session | None:
        """The new session for these credentials, or None when they are wrong (compared in
        constant time, and the password is checked even for an unknown user)."""
        expected, role = self._users.get(user, ("\0" + secrets.token_hex(16), "viewer"))
        ok = hmac.compare_digest(password.encode(), expected.encode()) and user in self._users
        return Session(user, role, secrets.token_urlsafe(24)) if ok else None

    def dump(self, session: Session) -> str:
        """The signed cookie value of a session."""
        return self._serializer.dumps({"u": session.user, "r": session.role, "c": session.csrf})

    def load(self, cookie: str | None) -> Session | None:
        """The session in a cookie; None when absent, forged, expired or of a user no longer
        configured (a changed password ends the sessions of the old one only at expiry)."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        user, role, csrf = data.get("u"), data.get("r"), data.get("c")
        if user not in self._users or self._users[user][1] != role or not isinstance(csrf, str):
            return None
        return Session(user, role, csrf)


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a CSRF token."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


__all__ = ["LOGIN_COOKIE", "SESSION_COOKIE", "ConsoleAccess", "Role", "Session", "same_token"]

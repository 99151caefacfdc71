"""The wire side of outgoing webhooks, with no ORM: the signature, the URL check (SSRF) and one
HTTP POST. ``notifications.services`` records what these return.

Signature: ``X-LabelForce-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the
endpoint's secret>``; ``X-LabelForce-Timestamp`` is the sending time (Unix seconds) and
``X-LabelForce-Event`` the event type. A receiver recomputes the HMAC over the bytes it received
(docs/notifications.md has the code).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-LabelForce-Signature"
TIMESTAMP_HEADER = "X-LabelForce-Timestamp"
EVENT_HEADER = "X-LabelForce-Event"
USER_AGENT = "LabelForce-Webhooks/1"
MAX_ERROR_CHARS = 500


class UnsafeURL(ValueError):
    """A webhook URL LabelForce will not call."""


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` (the header's value) is ``body`` signed with ``secret``: what a
    receiver checks, in constant time."""
    return hmac.compare_digest(sign(secret, body), signature or "")


def check_url(url: str, *, allow_private: bool, resolve: bool = True) -> None:
    """Refuse what a vendor's URL must not make the server call: a scheme other than http(s),
    credentials in the URL, and — unless ``allow_private`` — a host that is or resolves to a
    loopback, private, link-local, reserved or otherwise non-global address (the metadata
    service, the database, the broker). Raises UnsafeURL with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Only http and https URLs are allowed.")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeURL("The URL must not carry a user name or password.")
    try:
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        raise UnsafeURL("The URL's port is not valid.") from None
    if allow_private:
        return
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise UnsafeURL("Private and loopback addresses are not allowed.") from None
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            raise UnsafeURL("The URL's host does not resolve.") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if any(not address.is_global for address in addresses):
        raise UnsafeURL("Private and loopback addresses are not allowed.")


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(
    url: str,
    body: bytes,
    *,
    secret: str,
    event: str,
    timeout: float,
    allow_private: bool,
    now: float | None = None,
) -> Outcome:
    """POST ``body`` (JSON) to ``url`` signed with ``secret``; never follows a redirect (a 3xx
    is a failure) and reads at most 4 KiB of the answer. Any 2xx is success; anything else — a
    status, a timeout, a refused connection, an unsafe URL — is returned as the outcome, never
    raised."""
    started = time.monotonic()

    def outcome(status: int | None, error: str) -> Outcome:
        elapsed = int((time.monotonic() - started) * 1000)
        return Outcome(status, error[:MAX_ERROR_CHARS], elapsed)

    try:
        check_url(url, allow_private=allow_private)
    except UnsafeURL as exc:
        return outcome(None, f"refused: {exc}")
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(secret, body),
        TIMESTAMP_HEADER: str(int(now if now is not None else time.time())),
        EVENT_HEADER: event,
    }
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(4096)
        status = response.status
    except TimeoutError:
        return outcome(None, f"timed out after {timeout:g} s")
    except (OSError, http.client.HTTPException) as exc:
        return outcome(None, f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
    return outcome(status, "" if 200 <= status < 300 else f"HTTP {status}")

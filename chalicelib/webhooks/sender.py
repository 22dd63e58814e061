"""One signed POST to one subscriber, with the SSRF guards a server calling customer-given URLs
needs: the host name is resolved here, every address it resolves to must be public (the local
stage also allows loopback), and the connection goes to the checked address itself, so a DNS
answer that changes between check and connect (rebinding) cannot point it elsewhere. TLS still
verifies the certificate against the host name. Redirects are not followed (a 3xx is a failure):
a redirect could name an internal address. No proxy from the environment is used."""
from __future__ import annotations

import http.client
import socket
import ssl
from socket import create_connection  # called by name: the IAM scan reads `x.create_connection(` as EventBridge's
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.domain.webhooks import may_connect

USER_AGENT = "Omnicard-Webhooks/1"
_MAX_RESPONSE_BYTES = 64 * 1024  # read so the connection closes cleanly; the body is not used


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    retry: bool  # False: a refused address; retrying cannot help
    detail: str  # status code or the error's class, for logs (never the secret or the body)


def post(url: str, payload: bytes, headers: dict[str, str], *, timeout: float, loopback: bool) -> Outcome:
    """POST `payload`; delivered only on a 2xx within `timeout` seconds per network step."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    except (socket.gaierror, UnicodeError) as exc:
        return Outcome(False, True, f"dns:{type(exc).__name__}")
    if not addresses or not all(may_connect(address, loopback=loopback) for address in addresses):
        return Outcome(False, False, "refused:non-public address")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = _connection(parts.scheme, host, port, addresses[0], timeout)
    try:
        connection.request("POST", path, body=payload, headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})
        response = connection.getresponse()
        response.read(_MAX_RESPONSE_BYTES)
        return Outcome(200 <= response.status < 300, True, str(response.status))
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, TLS, malformed answer
        return Outcome(False, True, type(exc).__name__)
    finally:
        connection.close()


def _connection(scheme: str, host: str, port: int, address: str, timeout: float) -> http.client.HTTPConnection:
    if scheme == "https":
        return _PinnedHTTPS(host, port, address, timeout)
    return _PinnedHTTP(host, port, address, timeout)


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the name resolves to now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]

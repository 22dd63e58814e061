"""The in-process moto of `make run`, also served over HTTP on a loopback port, so that tools in
other processes (`omnicard reconcile`, the star expiry, boto3 in a shell) reach the same tables,
stream and bus through the ordinary AWS endpoint setting (AWS_ENDPOINT_URL).

It is moto's own server application (moto[server]) over the same in-memory backends the app uses,
behind the same one-request-at-a-time lock as the app's calls (local/moto_threads.py). The app
itself keeps calling moto in-process: no extra HTTP hop on every DynamoDB call."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from local import moto_threads

logger = logging.getLogger(__name__)


def _one_request_at_a_time(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    def serialised(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with moto_threads.lock:
            return list(app(environ, start_response))
    return serialised


class MotoEndpoint:
    """moto's HTTP API on http://host:port until stop()."""

    def __init__(self, host: str, port: int) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per call otherwise
        application = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(host, port, _one_request_at_a_time(application), threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-endpoint", daemon=True)

    def start(self) -> MotoEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

"""``/metrics`` on a port of its own, for the processes that have no HTTP server (``mps worker``,
``mps listen``, ``mps relay``): ``MPS_METRICS_PORT``, 0 = off."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CONTENT_TYPE_LATEST, start_http_server

from mps.metrics.instruments import Metrics

log = logging.getLogger("mps.metrics.serve")

#: The Content-Type of the text format.
CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass
class MetricsServer:
    """A running metrics endpoint; :meth:`close` stops it."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The port it listens on (the real one when 0 was asked for)."""
        return int(self.server.server_address[1])

    def close(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(metrics: Metrics, port: int, host: str = "0.0.0.0") -> MetricsServer:
    """Serve ``metrics`` at ``http://host:port/metrics`` from a daemon thread.

    Raises:
        OSError: the port is taken.
    """
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    running = MetricsServer(server, thread)
    log.info("metrics at http://%s:%d/metrics", host, running.port)
    return running


__all__ = ["CONTENT_TYPE", "MetricsServer", "serve_metrics"]

"""Health probes: is something answering HTTP on a port, is a port free."""

from __future__ import annotations

import http.client
import socket


def http_status(host: str, port: int, path: str, method: str = "GET",
                timeout: float = 1.0) -> int | None:
    """HTTP status of ``method path`` or None when nothing answers."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` (we could bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True

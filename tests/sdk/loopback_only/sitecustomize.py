"""Loaded at interpreter start when this folder is on PYTHONPATH: loopback-only networking.

Tests put it in front of the batch scripts to prove that the local stack sees every call:
a name lookup or a connection to anything but 127.0.0.0/8, ::1 or a Unix socket raises
``OSError`` (the script fails), and is appended to ``$LOOPBACK_ONLY_LOG`` when that is set.
``$LOOPBACK_ONLY_MARKER`` (optional) is a file written once, to show the guard was loaded.
"""

from __future__ import annotations

import ipaddress
import os
import socket

_LOG = os.environ.get("LOOPBACK_ONLY_LOG")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _refuse(what: str) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as handle:
            handle.write(f"{what}\n")
    raise OSError(f"loopback_only: refused {what}")


def _is_loopback(host: object) -> bool:
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _check(sock: socket.socket, address: object) -> None:
    inet = sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple)
    if inet and not _is_loopback(address[0]):
        _refuse(f"connect {address[0]}:{address[1]}")


def connect(self: socket.socket, address: object) -> None:
    _check(self, address)
    return _connect(self, address)


def connect_ex(self: socket.socket, address: object) -> int:
    _check(self, address)
    return _connect_ex(self, address)


def _is_address(host: object) -> bool:
    text = host.decode() if isinstance(host, bytes) else str(host)
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
    # an address needs no lookup (the connection is checked); a name other than localhost
    # would ask the resolver
    if host is not None and not _is_loopback(host) and not _is_address(host):
        _refuse(f"lookup {host}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect  # type: ignore[method-assign]
socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]

if os.environ.get("LOOPBACK_ONLY_MARKER"):
    with open(os.environ["LOOPBACK_ONLY_MARKER"], "w", encoding="utf-8") as _handle:
        _handle.write(str(os.getpid()))

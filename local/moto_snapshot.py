"""Persist moto's in-memory backends: pickle them on stop, restore them before serving.

Every moto service keeps its state in a ``BackendDict`` (account -> region -> backend). We
pickle each used ``BackendDict`` as a whole (so objects shared inside one service stay shared),
one entry per service, and write the snapshot atomically (tmp file + rename). Objects pickle
cannot handle (locks, conditions, weak dicts, lambdas as defaultdict factories, threads) get
small reducers. A service that still fails to pickle is logged and skipped; the rest is kept.
"""

from __future__ import annotations

import collections
import copy
import importlib
import logging
import os
import pickle
import queue
import shutil
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from moto.core.base_backend import BackendDict, backend_lock

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


class _CopyFactory:
    """Picklable stand-in for a defaultdict factory such as ``lambda: defaultdict(dict)``."""

    def __init__(self, template: Any) -> None:
        self.template = template

    def __call__(self) -> Any:
        return copy.deepcopy(self.template)


def _new_rlock() -> Any:
    return threading.RLock()


def _new_lock() -> Any:
    return threading.Lock()


def _none() -> None:
    return None


def _new_defaultdict(cls: type, factory: Any) -> Any:
    obj = cls.__new__(cls)
    collections.defaultdict.__init__(obj, factory)
    return obj


def _queue(cls: type, maxsize: int, items: list[Any]) -> queue.Queue[Any]:
    q = cls(maxsize)
    for item in items:
        q.put_nowait(item)
    return q


def _picklable(obj: Any) -> bool:
    try:
        pickle.dumps(obj)
        return True
    except Exception:
        return False


class _StatePickler(pickle.Pickler):
    """Pickler that knows how to rebuild moto's non-picklable helpers."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LOCK_TYPES):
            return (_new_rlock if "RLock" in type(obj).__name__ else _new_lock), ()
        if isinstance(obj, threading.Condition):
            return threading.Condition, ()
        if isinstance(obj, threading.Event):
            return threading.Event, ()
        if isinstance(obj, threading.Thread):
            return _none, ()
        if isinstance(obj, queue.Queue):
            with obj.mutex:
                items = list(obj.queue)
            return _queue, (type(obj), obj.maxsize, items)
        if isinstance(obj, weakref.WeakValueDictionary):
            return weakref.WeakValueDictionary, (dict(obj),)
        if isinstance(obj, collections.defaultdict):
            return self._reduce_defaultdict(obj)
        return NotImplemented


    @staticmethod
    def _reduce_defaultdict(obj: collections.defaultdict[Any, Any]) -> Any:
        # defaultdict.__reduce__ calls cls(factory): breaks subclasses with their own __init__
        # (moto's ssm ParameterDict) and lambdas as factories cannot be pickled at all.
        factory = obj.default_factory
        if factory is not None and not _picklable(factory):
            factory = _CopyFactory(factory())
        if type(obj) is collections.defaultdict and factory is obj.default_factory:
            return NotImplemented
        state = dict(vars(obj)) if hasattr(obj, "__dict__") else None
        return _new_defaultdict, (type(obj), factory), state or None, None, iter(obj.items())


def _key(bd: BackendDict[Any]) -> str:
    return f"{bd.backend.__module__}:{bd.backend.__qualname__}:{bd.service_name}"


def _find_backend_dict(key: str) -> BackendDict[Any] | None:
    module_name, qualname, service_name = key.split(":", 2)
    module = importlib.import_module(module_name)
    for value in vars(module).values():
        if (isinstance(value, BackendDict) and value.service_name == service_name
                and value.backend.__qualname__ == qualname):
            return value
    return None


def snapshot_bytes() -> dict[str, bytes]:
    """Pickle every used moto service: ``{service key: pickled accounts dict}``."""
    out: dict[str, bytes] = {}
    with backend_lock:
        instances = list(dict.fromkeys(BackendDict._instances))
    for bd in instances:
        if bd.service_name == "moto_api":
            continue
        key = _key(bd)
        for attempt in range(3):
            try:
                buf = _Buffer()
                _StatePickler(buf, protocol=5).dump(dict(bd))
                out[key] = buf.getvalue()
                break
            except RuntimeError as exc:  # changed during iteration: a background thread wrote
                if attempt == 2:
                    log.error("could not snapshot %s: %s", key, exc)
                time.sleep(0.05)
            except Exception as exc:
                log.error("could not snapshot %s (%s: %s): its state is not kept", key,
                          type(exc).__name__, exc)
                break
    return out


class _Buffer:
    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


def save(path: Path) -> int:
    """Write the snapshot atomically; returns its size in bytes."""
    started = time.monotonic()
    services = snapshot_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        pickle.dump({"version": FORMAT_VERSION, "services": services}, fh, protocol=5)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    size = path.stat().st_size
    log.info("moto snapshot: %d services, %d bytes, %.2f s -> %s", len(services), size,
             time.monotonic() - started, path)
    return size


def load(path: Path) -> list[str]:
    """Restore a snapshot written by :func:`save`; returns the restored service keys."""
    if not path.is_file():
        return []
    started = time.monotonic()
    with open(path, "rb") as fh:
        data = pickle.load(fh)
    if data.get("version") != FORMAT_VERSION:
        log.warning("ignoring moto snapshot %s with unknown version %r", path,
                    data.get("version"))
        return []
    restored = []
    for key, blob in data["services"].items():
        try:
            bd = _find_backend_dict(key)
            if bd is None:
                log.warning("snapshot service %s not found in this moto: skipped", key)
                continue
            accounts = pickle.loads(blob)
            with backend_lock:
                dict.clear(bd)
                dict.update(bd, accounts)
                if bd not in BackendDict._instances:
                    BackendDict._instances.append(bd)
            restored.append(key)
        except Exception as exc:
            log.error("could not restore %s (%s: %s): it starts empty", key,
                      type(exc).__name__, exc)
            failed = path.with_name(f"{path.name}.failed-{int(time.time())}")
            if not failed.exists():
                shutil.copy2(path, failed)
                log.error("the snapshot as it was is kept in %s", failed)
    log.info("moto snapshot restored: %d services in %.2f s", len(restored),
             time.monotonic() - started)
    return restored

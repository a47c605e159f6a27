"""Extensions of moto, loaded in-process by ``local.services.moto_server`` before it serves.

Every module in this package exposes ``install() -> None`` (patch moto's backends/responses).
Optional hooks, called by the server when present:

- ``before_snapshot() -> None``: just before the backends are pickled (e.g. pause workers);
- ``after_restore() -> None``: after a snapshot was restored, before serving (e.g. resume
  or fail jobs that were running when the stack stopped).

State that lives inside moto's backends is persisted with them (see ``local.moto_snapshot``);
keep extension state there (plain picklable objects) and it survives a restart.

``LOCAL_STACK_SKIP_EXTENSIONS=name1,name2`` leaves modules out (debugging aid only).
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
from types import ModuleType

log = logging.getLogger(__name__)

ENV_SKIP = "LOCAL_STACK_SKIP_EXTENSIONS"


def extension_modules() -> list[ModuleType]:
    """Import every module of this package, in name order."""
    skip = {n.strip() for n in os.environ.get(ENV_SKIP, "").split(",") if n.strip()}
    modules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name in skip:
            continue
        modules.append(importlib.import_module(f"{__name__}.{info.name}"))
    return modules


def install_all() -> list[ModuleType]:
    """Call ``install()`` of every extension module; returns the modules."""
    modules = extension_modules()
    for module in modules:
        install = getattr(module, "install", None)
        if callable(install):
            install()
            log.info("moto extension installed: %s", module.__name__)
    return modules


def call_hook(modules: list[ModuleType], name: str) -> None:
    """Call hook ``name`` of each module that has it; errors are logged, not raised."""
    for module in modules:
        hook = getattr(module, name, None)
        if callable(hook):
            try:
                hook()
            except Exception:
                log.exception("%s.%s failed", module.__name__, name)

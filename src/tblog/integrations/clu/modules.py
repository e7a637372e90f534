"""clu.metric_writers' TF-free modules, loaded without TensorFlow.

``clu/metric_writers/__init__.py`` re-exports, among others, ``SummaryWriter`` and
``create_default_writer``, whose modules import TensorFlow; importing any submodule (even
``clu.metric_writers.interface``) runs that ``__init__`` first. When ``clu.metric_writers``
is not imported yet, :func:`metric_writers` registers the package instead as a module with
the same name, path and public names, where the TF-free names (``MetricWriter``,
``LoggingWriter``, ``MultiWriter``, ``AsyncWriter``, ``AsyncMultiWriter``,
``ensure_flushes``) are imported at once and the others (``SummaryWriter``,
``create_default_writer``, ``write_values``) on first access, as Python's lazy module
pattern does. Client code that later does ``from clu import metric_writers`` gets the same
names and classes; TensorFlow is imported only if it asks for clu's TF writer.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import threading
import types
from typing import Any

PACKAGE = "clu.metric_writers"
# name -> submodule of clu.metric_writers that defines it (clu 0.0.12's __init__)
EAGER = {
    "AsyncMultiWriter": "async_writer",
    "AsyncWriter": "async_writer",
    "ensure_flushes": "async_writer",
    "MetricWriter": "interface",
    "LoggingWriter": "logging_writer",
    "MultiWriter": "multi_writer",
}
LAZY = {  # these modules import TensorFlow
    "SummaryWriter": "summary_writer",
    "create_default_writer": "utils",
    "write_values": "utils",
}
_lock = threading.Lock()


def _lazy_getattr(name: str) -> Any:
    if name in LAZY:
        value = getattr(importlib.import_module(f"{PACKAGE}.{LAZY[name]}"), name)
        setattr(sys.modules[PACKAGE], name, value)
        return value
    raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")


def _install() -> types.ModuleType:
    clu = importlib.import_module("clu")
    path = os.path.join(os.path.dirname(os.path.abspath(clu.__file__ or "")), "metric_writers")
    spec = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [path]
    package = types.ModuleType(PACKAGE, __doc__)
    package.__spec__ = spec
    package.__path__ = [path]
    package.__package__ = PACKAGE
    package.__all__ = sorted({*EAGER, *LAZY})  # type: ignore[attr-defined]
    package.__getattr__ = _lazy_getattr  # type: ignore[method-assign]
    sys.modules[PACKAGE] = package
    try:
        for name, module in EAGER.items():
            setattr(package, name, getattr(importlib.import_module(f"{PACKAGE}.{module}"), name))
    except BaseException:
        del sys.modules[PACKAGE]
        for module in set(EAGER.values()):
            sys.modules.pop(f"{PACKAGE}.{module}", None)
        raise
    clu.metric_writers = package  # type: ignore[attr-defined]
    return package


def metric_writers() -> Any:
    """The ``clu.metric_writers`` module (imported normally when it already is, else
    registered without its TensorFlow imports)."""
    with _lock:
        module = sys.modules.get(PACKAGE)
        return module if module is not None else _install()

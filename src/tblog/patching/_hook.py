"""A post-import hook: a callback right after one of a set of modules is imported (its code
has run, before its importer continues), so that the patch reaches packages imported after
``tblog.patch()`` without importing them itself.

One finder on ``sys.meta_path`` asks the finders after it for the spec of a watched module
and wraps its loader; everything else about the import is unchanged.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

_local = threading.local()  # names whose spec this thread is looking up (no recursion)


class _Loader(importlib.abc.Loader):
    """The original loader, then the callback."""

    def __init__(self, loader: Any, name: str, callback: Callable[[str], None]) -> None:
        self._loader = loader
        self._name = name
        self._callback = callback

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        module: ModuleType | None = create(spec) if create is not None else None
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        spec = getattr(module, "__spec__", None)
        if spec is not None and getattr(spec, "_initializing", False):
            # _loaded() in the callback must see the module as imported: its code has run
            spec._initializing = False
        self._callback(self._name)

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader, ...
        return getattr(self._loader, name)


class PostImportFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of the modules in ``names`` so that ``callback(name)`` runs after
    each is executed."""

    def __init__(self, names: set[str], callback: Callable[[str], None]) -> None:
        self.names = names
        self.callback = callback

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in self.names:
            return None
        busy: set[str] = getattr(_local, "busy", set())
        if fullname in busy:
            return None
        _local.busy = busy | {fullname}
        try:
            spec: ModuleSpec | None = None
            for finder in list(sys.meta_path):
                if finder is self or isinstance(finder, PostImportFinder):
                    continue
                find = getattr(finder, "find_spec", None)
                spec = find(fullname, path, target) if find is not None else None
                if spec is not None:
                    break
        finally:
            _local.busy = busy
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader, fullname, self.callback)
        return spec


_finder: PostImportFinder | None = None


def install(names: set[str], callback: Callable[[str], None]) -> None:
    """Call ``callback(name)`` after each module of ``names`` is imported from now on."""
    global _finder
    if _finder is None:
        _finder = PostImportFinder(set(names), callback)
        sys.meta_path.insert(0, _finder)
    else:
        _finder.names = set(names)
        _finder.callback = callback


def uninstall() -> None:
    """Remove the hook (idempotent)."""
    global _finder
    if _finder is not None:
        with_finder = _finder
        _finder = None
        try:
            sys.meta_path.remove(with_finder)
        except ValueError:
            pass

"""What framework adapters offer the core, and how the core finds them.

The core names no framework. Each package under ``tblog.integrations`` calls
:func:`register` from its ``__init__`` (which must not import its framework) with its
name, the top-level module names whose values it handles (``("torch",)``,
``("tensorflow", "tf_keras")``) and the module that defines its :class:`Adapter`. When a
value of a new type first reaches the core, :func:`adapter_for` imports every integration
package once (cheap: none imports its framework), then looks at the root module of each
class in the type's MRO and loads that adapter's module (its framework is loaded already:
a value of it exists). Adding a framework therefore touches only ``integrations/<framework>/``.

An adapter fills only what its framework has; the core checks for ``None``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from tblog.core.proto import graph_pb2


class Deferred(Protocol):
    """A value read later, on the writer thread (e.g. a CUDA scalar copied without a sync)."""

    def tblog_resolve(self) -> float: ...


class ToNumpy(Protocol):
    def __call__(self, value: Any, /) -> np.ndarray: ...


class DeferScalar(Protocol):
    def __call__(self, value: Any, /) -> Any: ...


class HistogramPb(Protocol):
    def __call__(
        self, tag: str, value: Any, bins: Any, max_bins: int | None, encoding: str = ..., /
    ) -> Any: ...


class DeferHistogram(Protocol):
    def __call__(
        self, tag: str, value: Any, bins: Any, max_bins: int | None, encoding: str = ..., /
    ) -> Any: ...


class GraphDef(Protocol):
    def __call__(
        self, model: Any, inputs: Any, verbose: bool, use_strict_trace: bool, /
    ) -> tuple[graph_pb2.GraphDef, Any]: ...


class SaveCheckpoint(Protocol):
    def __call__(self, state: Any, path: str, /) -> None: ...


class LoadCheckpoint(Protocol):
    def __call__(self, path: str, /) -> Any: ...


class GlobalRank(Protocol):
    def __call__(self) -> int | None: ...


class NameScope(Protocol):
    def __call__(self) -> str: ...


class Collective(Protocol):
    """A cross-rank reduction issued without waiting (see ``Adapter.default_group``)."""

    def done(self) -> bool: ...

    def result(self, timeout: float) -> float: ...


class ProcessGroup(Protocol):
    """The framework's default process group: its size, ``all_reduce(value, op)`` (``op``:
    ``"sum"``, ``"mean"``, ``"min"``, ``"max"``) issued asynchronously, and the group's
    key-value store: ``publish(key, value)`` sets a string without waiting, ``lookup(key,
    timeout)`` waits up to ``timeout`` seconds for it (``None`` when it does not come or the
    group has no store). Neither is a collective: ranks call them in any order."""

    world_size: int

    def all_reduce(self, value: Any, op: str, /) -> Collective: ...

    def publish(self, key: str, value: str, /) -> bool: ...

    def lookup(self, key: str, timeout: float, /) -> str | None: ...


class DefaultGroup(Protocol):
    def __call__(self) -> ProcessGroup | None: ...


@dataclass(frozen=True)
class Adapter:
    """One framework's hooks into the core (every field optional).

    - ``to_numpy(value)``: a host numpy array of a framework tensor (the one conversion).
    - ``defer_scalar(value)``: a snapshot of a scalar tensor taken without a device sync;
      returns a :class:`Deferred` (or a float).
    - ``histogram_pb(tag, value, bins, max_bins)``: a histogram Summary computed on the
      tensor's device; ``defer_histogram`` the same, queued without a sync (or ``None``
      when it cannot be deferred).
    - ``graph_def(model, inputs, verbose, use_strict_trace)``: ``(GraphDef, RunMetadata|None)``.
    - ``save_checkpoint(state, path)`` / ``load_checkpoint(path)``: the framework's format.
      ``checkpoint_suffix`` is the file ending ``CheckpointManager`` gives that format.
    - ``global_rank()``: this process's rank when the framework knows it, else ``None``.
    - ``name_scope()``: the framework's current name scope (``"a/b"``, ``""`` outside any),
      which ``tblog.summary`` ops prefix their tags with.
    - ``default_group()``: the initialised default process group (a :class:`ProcessGroup`:
      world size, asynchronous ``all_reduce``, its key-value store), else ``None``.
    """

    name: str
    to_numpy: ToNumpy | None = None
    defer_scalar: DeferScalar | None = None
    histogram_pb: HistogramPb | None = None
    defer_histogram: DeferHistogram | None = None
    graph_def: GraphDef | None = None
    save_checkpoint: SaveCheckpoint | None = None
    load_checkpoint: LoadCheckpoint | None = None
    global_rank: GlobalRank | None = None
    checkpoint_suffix: str = ".ckpt"
    name_scope: NameScope | None = None
    default_group: DefaultGroup | None = None


_lock = threading.Lock()
_modules: dict[str, str] = {}  # adapter name -> module that defines ADAPTER
_roots: dict[str, str] = {}  # top-level module name -> adapter name
_adapters: dict[str, Adapter] = {}  # adapter name -> loaded adapter
_by_type: dict[type, Adapter | None] = {}  # cache of adapter_for's answers
_loaded_all = False


def register(name: str, roots: tuple[str, ...], module: str) -> None:
    """Declare the adapter ``name`` for values whose class (or a base class) lives in one
    of ``roots``. ``module`` defines ``ADAPTER`` (an :class:`Adapter`); it is imported the
    first time the adapter is needed, so it may import its framework."""
    with _lock:
        _modules[name] = module
        for root in roots:
            _roots[root] = name
        _by_type.clear()


def _load_integrations() -> None:
    """Import every ``tblog.integrations`` package once, so that each registers itself."""
    global _loaded_all
    if _loaded_all:
        return
    import tblog.integrations as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.ispkg:
            importlib.import_module(f"{pkg.__name__}.{info.name}")
    _loaded_all = True


def _adapter(name: str) -> Adapter:
    adapter = _adapters.get(name)
    if adapter is None:
        adapter = importlib.import_module(_modules[name]).ADAPTER
        if not isinstance(adapter, Adapter) or adapter.name != name:
            raise TypeError(f"{_modules[name]}.ADAPTER must be an Adapter named {name!r}")
        _adapters[name] = adapter
    return adapter


def _lookup(klass: type) -> Adapter | None:
    for base in klass.__mro__:
        name = _roots.get((base.__module__ or "").split(".", 1)[0])
        if name is not None:
            return _adapter(name)
    return None


def adapter_for(value: Any) -> Adapter | None:
    """The adapter of ``value``'s framework (by its type's MRO), or ``None``."""
    klass = type(value)
    try:
        return _by_type[klass]
    except KeyError:
        pass
    if not _loaded_all and klass.__module__ not in ("builtins", "numpy"):
        _load_integrations()
    adapter = _lookup(klass)
    _by_type[klass] = adapter
    return adapter


def adapter_named(name: str) -> Adapter:
    """The adapter registered as ``name`` (``KeyError`` naming the known ones otherwise)."""
    _load_integrations()
    if name not in _modules:
        raise KeyError(f"no tblog integration named {name!r} (have {sorted(_modules)})")
    return _adapter(name)


def loaded_adapters() -> list[Adapter]:
    """Adapters of frameworks the process has already imported (imports no framework)."""
    _load_integrations()
    names = dict.fromkeys(n for root, n in _roots.items() if root in sys.modules)
    return [_adapter(n) for n in names]


def global_rank() -> int | None:
    """This process's rank as a loaded framework knows it, else ``None``."""
    for adapter in loaded_adapters():
        if adapter.global_rank is not None:
            rank = adapter.global_rank()
            if rank is not None:
                return rank
    return None


def name_scope_fn() -> NameScope | None:
    """The ``name_scope`` of the first loaded framework that has one, else ``None``."""
    for adapter in loaded_adapters():
        if adapter.name_scope is not None:
            return adapter.name_scope
    return None


def checkpoint_adapter() -> Adapter | None:
    """The adapter whose format ``CheckpointManager`` uses by default: the first loaded
    framework that saves checkpoints, else the first installed one."""
    import importlib.util

    saving = [a for a in loaded_adapters() if a.save_checkpoint is not None]
    if saving:
        return saving[0]
    for root, name in _roots.items():
        if importlib.util.find_spec(root) is not None:
            adapter = _adapter(name)
            if adapter.save_checkpoint is not None:
                return adapter
    return None

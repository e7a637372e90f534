"""Patch mode: every TensorBoard writer of the process is tblog's.

:func:`patch` replaces ``torch.utils.tensorboard.SummaryWriter``/``FileWriter`` and
``tensorboardX.SummaryWriter``/``FileWriter`` (and, when asked, Keras' ``TensorBoard``
callback and Lightning's ``TensorBoardLogger``) by tblog's classes (:mod:`._classes`):

- in the module that defines each class, so that every later import gets tblog's;
- in every module already imported: a module attribute that IS the original class (e.g. a
  client's ``from torch.utils.tensorboard import SummaryWriter`` made before the patch) is
  rebound to the replacement (modules of tblog itself are left alone);
- for modules not imported yet, a post-import hook (:mod:`._hook`) does the above right
  after the defining package is imported: nothing is imported here, so the patch touches
  only what is installed and costs nothing for what the process never uses.

:func:`unpatch` (and the end of ``with patched():``) rebinds every name that holds a
replacement back to its original. Both are idempotent and thread-safe.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = ["KINDS", "is_patched", "original", "patch", "patched", "unpatch"]

KINDS = ("torch", "tensorboardX", "keras", "lightning")
DEFAULT_KINDS = ("torch", "tensorboardX")


@dataclass(frozen=True)
class Target:
    """Class ``attr`` of module ``module``, replaced once package ``ready`` is imported."""

    kind: str
    ready: str
    module: str
    attr: str
    make: str  # name of the factory in tblog.patching._classes


TARGETS = (
    Target("torch", "torch.utils.tensorboard.writer", "torch.utils.tensorboard.writer",
           "SummaryWriter", "torch_writer"),
    Target("torch", "torch.utils.tensorboard.writer", "torch.utils.tensorboard.writer",
           "FileWriter", "file_writer"),
    Target("tensorboardX", "tensorboardX.writer", "tensorboardX.writer", "SummaryWriter",
           "tensorboardx_writer"),
    Target("tensorboardX", "tensorboardX.writer", "tensorboardX.writer", "FileWriter",
           "file_writer"),
    Target("keras", "keras", "keras.src.callbacks.tensorboard", "TensorBoard",
           "keras_callback"),
    Target("lightning", "lightning.pytorch", "lightning.pytorch.loggers.tensorboard",
           "TensorBoardLogger", "lightning_logger"),
    Target("lightning", "pytorch_lightning", "pytorch_lightning.loggers.tensorboard",
           "TensorBoardLogger", "lightning_logger"),
)  # fmt: skip

_lock = threading.RLock()
_kinds: set[str] = set()  # what is patched now
_made: dict[int, tuple[type, type | None]] = {}  # id(original) -> (original, replacement)
_active: dict[int, tuple[Any, Any]] = {}  # id(original) -> (original, replacement), patched
_bound: set[tuple[int, str]] = set()  # (id(module namespace), attribute) the patch rebound


def patch(
    torch: bool = True,
    tensorboardX: bool = True,
    *,
    keras: bool = False,
    lightning: bool = False,
) -> None:
    """Make every TensorBoard writer of this process tblog's (see the module docstring):
    ``torch``: ``torch.utils.tensorboard``'s ``SummaryWriter`` and ``FileWriter``;
    ``tensorboardX``: tensorboardX's; ``keras``: ``keras.callbacks.TensorBoard`` ->
    ``tblog.TBCallback``; ``lightning``: Lightning's ``TensorBoardLogger`` ->
    ``tblog.TBLogger``. Kinds already patched stay patched (call :func:`unpatch` first to
    drop one). Imports no framework: packages imported later are patched as they are."""
    wanted = {k for k, on in zip(KINDS, (torch, tensorboardX, keras, lightning), strict=True) if on}
    with _lock:
        _kinds.update(wanted)
        from tblog.patching import _hook

        _hook.install(_watched_packages(), _on_import)
        _apply()


def unpatch() -> None:
    """Undo :func:`patch`: every module attribute bound to a replacement (by the patch, or
    imported from a patched module since) is the original class again, and packages
    imported later are left alone. A no-op when nothing is patched."""
    with _lock:
        from tblog.patching import _hook

        _hook.uninstall()
        _kinds.clear()
        if _active:
            back = {id(rep): (rep, orig) for orig, rep in _active.values()}
            _active.clear()
            _rebind(back, restoring=True)
            _bound.clear()


@contextlib.contextmanager
def patched(
    torch: bool = True,
    tensorboardX: bool = True,
    *,
    keras: bool = False,
    lightning: bool = False,
) -> Iterator[None]:
    """``with tblog.patched(): ...``: :func:`patch` inside the block, :func:`unpatch` after
    (also on an exception)."""
    patch(torch, tensorboardX, keras=keras, lightning=lightning)
    try:
        yield
    finally:
        unpatch()


def is_patched(kind: str | None = None) -> bool:
    """Whether ``kind`` (one of :data:`KINDS`; ``None``: any) is patched now."""
    with _lock:
        return bool(_kinds) if kind is None else kind in _kinds


def original(cls: Any) -> Any:
    """The class a replacement stands for (``cls`` itself if it is none)."""
    with _lock:
        for orig, rep in _made.values():
            if rep is cls:
                return orig
    return getattr(cls, "_tblog_patched_from", cls)


def _watched_packages() -> set[str]:
    return {t.ready for t in TARGETS if t.kind in _kinds}


def _on_import(name: str) -> None:
    with _lock:
        if name in _watched_packages():
            _apply()


def _loaded(name: str) -> ModuleType | None:
    """``sys.modules[name]`` once it is fully imported, else ``None``."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    if module is None or getattr(spec, "_initializing", False):
        return None
    return module


def _apply() -> None:
    """Replace the targets of the patched kinds whose packages are imported, everywhere."""
    fresh: dict[int, tuple[Any, Any]] = {}
    for target in TARGETS:
        if target.kind not in _kinds or _loaded(target.ready) is None:
            continue
        module = sys.modules.get(target.module)
        orig = getattr(module, target.attr, None) if module is not None else None
        if not isinstance(orig, type):
            continue
        orig = original(orig)
        rep = _replacement(target, orig)
        if rep is not None:
            _active[id(orig)] = fresh[id(orig)] = (orig, rep)
    if fresh:
        _rebind(fresh)


def _replacement(target: Target, orig: type) -> type | None:
    made = _made.get(id(orig))
    if made is None or made[0] is not orig:
        from tblog.patching import _classes

        factory: Callable[[type], type | None] = getattr(_classes, target.make)
        made = _made[id(orig)] = (orig, factory(orig))
    return made[1]


def _rebind(mapping: dict[int, tuple[Any, Any]], restoring: bool = False) -> None:
    """In every imported module but tblog's own, rebind each attribute that is a key
    object of ``mapping`` (by identity) to its value.

    ``restoring`` (the keys are replacements): only the attributes the patch rebound, those
    holding a replacement made for the patch (torch's and tensorboardX's), and those named
    as the original (``from keras.callbacks import TensorBoard`` after the patch); a
    client's own ``from tblog import TBLogger`` keeps ``TBLogger``."""
    for name, module in _modules():
        if name == "tblog" or name.startswith("tblog."):
            continue
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            hit = mapping.get(id(value))
            if hit is None or hit[0] is not value:
                continue
            if restoring and not (
                (id(namespace), attr) in _bound
                or "_tblog_patched_from" in vars(value)
                or attr == hit[1].__name__
            ):
                continue
            namespace[attr] = hit[1]
            if not restoring:
                _bound.add((id(namespace), attr))


def _modules() -> Iterable[tuple[str, Any]]:
    while True:
        try:
            return list(sys.modules.items())
        except RuntimeError:  # another thread imported meanwhile
            continue

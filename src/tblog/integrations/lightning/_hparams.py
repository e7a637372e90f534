"""Hyperparameters as ``TensorBoardLogger.log_hyperparams`` takes and records them.

``params`` may be a mapping (a ``dict``, an OmegaConf ``DictConfig``, any ``Mapping``), an
``argparse.Namespace``, a dataclass instance or ``None``. What goes to TensorBoard is the
flattened, sanitized view Lightning builds (facts from Lightning 2.6's
``lightning.fabric.utilities.logger`` and torch's ``summary.hparams``):

- keys are ``str(key)`` joined with ``/`` through nested mutable mappings (``DictConfig``
  included, its interpolations resolved on access), dataclasses and ``Namespace`` values,
  and through ``list`` values whose items are all mutable mappings (``<key>/<index>/...``);
- numpy scalars become Python numbers; a value whose type is exactly ``bool``, ``int``,
  ``float`` or ``str`` is kept; a ``torch.Tensor`` with at most one dimension is recorded as
  the number of its first element; everything else (lists, ``ListConfig``, classes, arrays,
  ``None``, ...) is recorded as its ``str``;
- booleans are numbers (``1.0``/``0.0``), as torch's writer records them.

OmegaConf is never imported here: a value is an OmegaConf container only if ``omegaconf``
is already loaded.
"""

from __future__ import annotations

import sys
from argparse import Namespace
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import asdict, is_dataclass
from typing import Any

import numpy as np

_EXPECTED = "a Mapping (dict, OmegaConf DictConfig), an argparse.Namespace or a dataclass instance"


def _omegaconf() -> Any:
    return sys.modules.get("omegaconf")


def _is_container(value: Any) -> bool:
    omegaconf = _omegaconf()
    return omegaconf is not None and isinstance(value, omegaconf.Container)


def as_mapping(params: Any) -> Mapping[Any, Any]:
    """``params`` as a mapping (``None``: empty). Raises ``TypeError`` naming ``params``
    for anything else (an OmegaConf ``ListConfig`` included: it has no keys)."""
    if params is None:
        return {}
    if isinstance(params, Namespace):
        return vars(params)
    if is_dataclass(params) and not isinstance(params, type):
        return asdict(params)
    if isinstance(params, Mapping):
        return params
    raise TypeError(f"params must be {_EXPECTED}, got {type(params).__name__}")


def merged(stored: Any, params: Mapping[Any, Any]) -> Any:
    """``stored`` (the logger's ``hparams``, written to ``hparams.yaml``) updated with
    ``params``: OmegaConf containers are merged with ``OmegaConf.merge`` (the result is a
    ``DictConfig``), other mappings update ``stored`` in place."""
    if _is_container(params):
        return _omegaconf().OmegaConf.merge(stored, params)
    if isinstance(stored, Namespace):
        stored = vars(stored)
    stored.update(params)
    return stored


def flatten(params: Mapping[Any, Any], parent: str = "") -> dict[str, Any]:
    """Nested keys joined with ``/`` (see the module docstring for what is descended into)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{parent}/{key}" if parent else str(key)
        if is_dataclass(value) and not isinstance(value, type):
            value = asdict(value)
        elif isinstance(value, Namespace):
            value = vars(value)
        if isinstance(value, MutableMapping):
            out.update(flatten(value, name))
        elif isinstance(value, list) and all(isinstance(item, MutableMapping) for item in value):
            for index, item in enumerate(value):
                out.update(flatten(item, f"{name}/{index}"))
        else:
            out[name] = value
    return out


def _tensor_type() -> type | None:
    torch = sys.modules.get("torch")
    return getattr(torch, "Tensor", None)


def session_value(value: Any) -> float | str:
    """The number or string TensorBoard shows for one flattened hyperparameter."""
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        value = value.item()
    kind = type(value)
    if kind is bool or kind is int or kind is float:
        return float(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is _tensor_type() and value.ndim <= 1 and value.numel() > 0:
        try:
            return float(value.detach().reshape(-1)[0].item())
        except (TypeError, ValueError, RuntimeError):  # complex, quantized, ...
            return str(value)
    return str(value)


def session_values(
    params: Mapping[Any, Any],
    sanitize: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, float | str]:
    """``{flattened key: number or string}`` for the hparams plugin's session; ``sanitize``
    (a logger's ``_sanitize_params``) maps the flattened values first.

    Raises ``ValueError`` naming ``params`` when an OmegaConf value cannot be resolved
    (a missing ``???`` value, a broken interpolation)."""
    omegaconf = _omegaconf()
    errors: tuple[type[BaseException], ...] = (
        (omegaconf.errors.OmegaConfBaseException,) if omegaconf is not None else ()
    )
    try:
        flat = flatten(params)
    except errors as exc:
        raise ValueError(f"params: cannot resolve the OmegaConf config: {exc}") from exc
    if sanitize is not None:
        flat = sanitize(flat)
    return {str(key): session_value(value) for key, value in flat.items()}


def session_experiment(exp: Any, log_dir: str, flat: dict[str, Any]) -> Any:
    """The ``_hparams_/experiment`` of the run in ``log_dir`` (written by ``exp``, a
    ``tblog.SummaryWriter``): its hyperparameters ``flat`` and, as metrics, every scalar tag
    the run logged but the checkpoint records. Without an experiment, TensorBoard's HPARAMS
    dashboard lists every scalar tag of the run as a metric, ``checkpoint/step`` included.
    Written once, at the end of a successful fit (the dashboard keeps the first experiment
    it finds); ``None`` when the run logged no other scalar."""
    from tblog.checkpoint.recorder import STEP_TAG
    from tblog.core.read.scan import load_runs
    from tblog.core.summaries import hparams

    exp.flush()
    records = STEP_TAG.rsplit("/", 1)[0] + "/"
    # this run only: its sub-runs (add_scalars, system, ranks) are not its session's
    run = load_runs(log_dir, runs=".".__eq__, warn=False).get(".")
    if run is None:
        return None
    tags = sorted(
        tag
        for tag, series in run.series.items()
        if series.plugin == "scalars" and not tag.startswith(records)
    )
    if not tags:
        return None
    return hparams.hparams_pb(flat, dict.fromkeys(tags, 0.0))[0]


def write_at_exit(logger: Any) -> None:
    """At interpreter exit, write what ``logger`` (a ``TBLogger``) still holds of its
    ``log_hyperparams`` calls, if it still lives (before tblog closes its writers: exit
    functions run last registered first)."""
    import atexit
    import weakref

    if getattr(logger, "_exit_hook", False):
        return  # once per logger
    logger._exit_hook = True
    ref = weakref.ref(logger)

    def write() -> None:
        live = ref()
        if live is not None and live._pending_hparams:
            try:
                live._write_hparams()
            except Exception:  # noqa: BLE001 - at exit: nothing to report it to
                pass

    atexit.register(write)


def write_pending(logger: Any, exp: Any) -> None:
    """Write ``logger``'s pending ``log_hyperparams`` calls into ``exp`` (its
    ``tblog.SummaryWriter``): their metrics (``hp_metric = -1`` by default, unless the run
    is continued), and the session once, unless the run already has one."""
    import time

    from tblog.core.convert import to_step
    from tblog.core.summaries import hparams

    pending, logger._pending_hparams = logger._pending_hparams, []
    for flat, given, step in pending:
        metrics = given
        if metrics is None:
            default = logger._default_hp_metric and not logger._continuing
            metrics = {"hp_metric": -1} if default else {}
        if metrics:
            _log_metrics_once(logger, exp, metrics, step)
        if not flat and not metrics:
            continue
        if logger._session is None:
            logger._session = {"hparams": flat, "metrics": list(metrics), "ended": False}
        if logger._continuing:
            continue  # the run's session is already recorded (TensorBoard keeps the first)
        summaries = hparams.hparams_pb(flat, dict.fromkeys(metrics, 0.0))
        if exp.writer is not None:
            exp.writer.summary("", summaries[1], to_step(step), time.time())


def _log_metrics_once(logger: Any, exp: Any, metrics: Mapping[str, Any], step: Any) -> None:
    """Log the metrics of ``log_hyperparams`` as ``add_hparams`` does: none whose tag the
    run already logs (the HPARAMS tab shows its last value), the others at ``step`` or else
    at the run's last logged step."""
    from tblog.core.tags import clean_tag
    from tblog.writer.summary_writer import hparams_metric_steps

    if logger._prefix:
        metrics = logger._fabric_add_prefix(metrics)
    keys = {clean_tag(key): key for key in metrics}
    steps = hparams_metric_steps(exp, "", list(keys), step)
    by_step: dict[int, dict[str, Any]] = {}
    for tag, at in steps.items():
        by_step.setdefault(at, {})[keys[tag]] = metrics[keys[tag]]
    for at, items in sorted(by_step.items()):
        exp.log_metrics(items, at)

"""Hyperparameters: plugin ``hparams``, three metadata-only values (docs/event-format.md §6.7).

``_hparams_/experiment`` lists the hyperparameters (with their type and optional discrete
domain) and the metric tags; ``_hparams_/session_start_info`` holds this session's values;
``_hparams_/session_end_info`` marks it finished. TensorBoard names the session after the
run that holds them and reads each metric as the last value of that scalar tag there.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from tblog.core import convert
from tblog.core.proto import plugins_pb2, summary_pb2, tensor_pb2
from tblog.core.summaries.common import DATA_CLASS_TENSOR, metadata

PLUGIN_NAME = "hparams"
EXPERIMENT_TAG = "_hparams_/experiment"
SESSION_START_INFO_TAG = "_hparams_/session_start_info"
SESSION_END_INFO_TAG = "_hparams_/session_end_info"

_STRING = plugins_pb2.DATA_TYPE_STRING
_BOOL = plugins_pb2.DATA_TYPE_BOOL
_FLOAT64 = plugins_pb2.DATA_TYPE_FLOAT64


def _hparam_value(
    key: str, value: Any, bool_as_number: bool = False
) -> tuple[int, bool | float | str]:
    """``(HParamDataType, python value)`` of one hyperparameter; ``TypeError`` otherwise.
    ``bool_as_number``: a bool is the number 0.0/1.0 (``DATA_TYPE_FLOAT64``), as torch
    writes it."""
    if isinstance(value, (bool, np.bool_)):
        return (_FLOAT64, float(value)) if bool_as_number else (_BOOL, bool(value))
    if isinstance(value, str):
        return _STRING, value
    if isinstance(value, numbers.Real):
        return _FLOAT64, float(value)
    if convert.framework_of(value) is not None or isinstance(value, np.ndarray):
        arr = convert.to_numpy(value)
        if arr.size == 1 and arr.dtype.kind in "biuf":
            item = arr.reshape(()).item()
            if arr.dtype.kind == "b" and not bool_as_number:
                return _BOOL, bool(item)
            return _FLOAT64, float(item)
    raise TypeError(
        f"hparam_dict[{key!r}] must be a bool, int, float, str or one-element tensor, "
        f"got {type(value).__name__}"
    )


def _proto_value(kind: int, value: bool | float | str) -> Any:
    from google.protobuf import struct_pb2

    if kind == _BOOL:
        return struct_pb2.Value(bool_value=bool(value))
    if kind == _STRING:
        return struct_pb2.Value(string_value=str(value))
    return struct_pb2.Value(number_value=float(value))


def _summary(tag: str, data: plugins_pb2.HParamsPluginData) -> summary_pb2.Summary:
    data.version = 0
    summary = summary_pb2.Summary()
    value = summary.value.add(tag=tag)
    # An empty float tensor: with data_class set TensorBoard adds no null tensor itself.
    value.tensor.dtype = tensor_pb2.DT_FLOAT
    value.tensor.tensor_shape.dim.add(size=0)
    value.metadata.CopyFrom(metadata(PLUGIN_NAME, data.SerializeToString(), DATA_CLASS_TENSOR))
    return summary


def hparams_pb(
    hparam_dict: dict[str, Any],
    metric_dict: dict[str, Any],
    hparam_domain_discrete: dict[str, list[Any]] | None = None,
    *,
    start_time_secs: float | None = None,
    bool_as_number: bool = False,
) -> tuple[summary_pb2.Summary, summary_pb2.Summary, summary_pb2.Summary]:
    """The (experiment, session_start_info, session_end_info) summaries of one session.

    ``hparam_dict``: name -> bool, int, float, str or one-element tensor (``None`` values
    are skipped, as torch does). ``metric_dict``: metric tag -> number (only the tags are
    recorded here; log the values as scalars). ``hparam_domain_discrete``: name -> list of
    every value the hyperparameter can take. Raises ``TypeError`` naming the key for values
    of other types and ``ValueError`` for a value outside its discrete domain.
    ``bool_as_number``: write bools (values and domains) as the numbers 0.0/1.0 with type
    ``DATA_TYPE_FLOAT64``, as torch's ``add_hparams`` does (the HParams dashboard then
    shows them as torch's do); otherwise as ``DATA_TYPE_BOOL``, as tf.summary's API does.
    """
    if not isinstance(hparam_dict, dict):
        raise TypeError(f"hparam_dict must be a dict, got {type(hparam_dict).__name__}")
    if not isinstance(metric_dict, dict):
        raise TypeError(f"metric_dict must be a dict, got {type(metric_dict).__name__}")
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, dict):
        raise TypeError(f"hparam_domain_discrete must be a dict, got {type(domains).__name__}")
    for key in domains:
        if key not in hparam_dict:
            raise ValueError(f"hparam_domain_discrete[{key!r}] names no key of hparam_dict")
    experiment = plugins_pb2.Experiment()
    start = plugins_pb2.SessionStartInfo()
    if start_time_secs is not None:
        start.start_time_secs = float(start_time_secs)
    for key, raw in hparam_dict.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"hparam_dict keys must be non-empty str, got {key!r}")
        if raw is None:
            continue
        kind, value = _hparam_value(key, raw, bool_as_number)
        start.hparams[key].CopyFrom(_proto_value(kind, value))
        info = experiment.hparam_infos.add(name=key, type=kind)
        if key in domains:
            domain = domains[key]
            if not isinstance(domain, (list, tuple)) or not domain:
                raise TypeError(f"hparam_domain_discrete[{key!r}] must be a non-empty list")
            typed = [_hparam_value(key, d, bool_as_number) for d in domain]
            if any(k != kind for k, _ in typed):
                raise TypeError(
                    f"hparam_domain_discrete[{key!r}] must hold values of the type of "
                    f"hparam_dict[{key!r}] ({type(raw).__name__})"
                )
            if value not in [v for _, v in typed]:
                raise ValueError(
                    f"hparam_dict[{key!r}] = {value!r} is not in hparam_domain_discrete[{key!r}]"
                )
            info.domain_discrete.values.extend(_proto_value(kind, v) for _, v in typed)
    for key, value in metric_dict.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"metric_dict keys must be non-empty str, got {key!r}")
        try:
            convert.to_float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"metric_dict[{key!r}] must be a number, got {type(value).__name__}"
            ) from None
        experiment.metric_infos.add().name.tag = key
    end = plugins_pb2.SessionEndInfo(status=plugins_pb2.STATUS_SUCCESS)
    if start_time_secs is not None:
        end.end_time_secs = float(start_time_secs)
    return (
        _summary(EXPERIMENT_TAG, plugins_pb2.HParamsPluginData(experiment=experiment)),
        _summary(SESSION_START_INFO_TAG, plugins_pb2.HParamsPluginData(session_start_info=start)),
        _summary(SESSION_END_INFO_TAG, plugins_pb2.HParamsPluginData(session_end_info=end)),
    )

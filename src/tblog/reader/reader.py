"""Reading log dirs back for analysis: ``tblog.read``, ``runs``, ``scalars``,
``histograms`` and ``hparams``, all on the one reader (:mod:`tblog.core.read.scan`), so
they show what TensorBoard shows: restarts purged, resume placeholders dropped, legacy
values migrated, a damaged file costing only its damaged tail (with a
``tblog.DataLossWarning`` naming the file and byte offset).

Filters (``tags``, ``runs``) are regular expressions (``re.search``) or callables taking
the name; they apply before decoding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tblog.core.proto import event_pb2
from tblog.core.read import events as _events
from tblog.core.read import values
from tblog.core.read.scan import Filter, Run, load_runs, matcher
from tblog.core.storage import open_storage

HPARAMS_PLUGIN = "hparams"
SESSION_START_TAG = "_hparams_/session_start_info"
EXPERIMENT_TAG = "_hparams_/experiment"


def runs(logdir: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """Names of the runs under ``logdir`` (``"."`` for event files directly in it)."""
    storage = open_storage(logdir, storage_options)
    return [run for run, _ in storage.walk_event_files()]


def read(
    logdir: str,
    *,
    check_crc: bool = True,
    storage_options: dict[str, Any] | None = None,
    purge: bool = False,
    runs: Filter = None,
) -> Iterator[tuple[str, event_pb2.Event]]:
    """Yield ``(run, Event)`` for every event in every run under ``logdir``, files in name
    order, one file in memory at a time.

    A corrupt or cut-off record ends its file: the events before it are yielded and a
    ``tblog.DataLossWarning`` names the file and byte offset. ``purge=True`` applies
    TensorBoard's rules (see :func:`tblog.core.read.events.run_events`; it holds one run's
    events in memory). ``runs`` filters run names.
    """
    storage = open_storage(logdir, storage_options)
    keep = matcher(runs, "runs")
    for run, paths in storage.walk_event_files():
        if keep is None or keep(run):
            for event in _events.run_events(storage, paths, purge=purge, check_crc=check_crc):
                yield run, event


def parse_events(
    data: bytes, *, check_crc: bool = True, source: str = "event file"
) -> Iterator[event_pb2.Event]:
    """Yield the Events of one event file's bytes; a truncated final record is skipped.

    Raises ``tblog.DataLossError`` (naming ``source`` and the byte offset) at a corrupt
    record, after yielding the events before it.
    """
    yield from _events.file_events(data, source, check_crc=check_crc, strict=True)


def scalar_value(value: Any) -> float | None:
    """The float of a Summary.Value holding a scalar (``simple_value`` or a rank-0 numeric
    tensor), else ``None``."""
    return values.scalar_of(value)


def _frame(columns: dict[str, Any]) -> Any:
    import pandas as pd

    return pd.DataFrame(columns)


def _names(names: list[str], counts: list[int]) -> Any:
    """``names[i]`` repeated ``counts[i]`` times, as pandas' default string column (built
    by one take from the distinct names: building it from Python strings costs 7x more)."""
    import pandas as pd

    distinct = sorted(set(names))
    index = {name: i for i, name in enumerate(distinct)}
    codes = np.repeat(np.array([index[n] for n in names], np.int64), counts)
    return pd.array(distinct, dtype="str").take(codes)


def scalar_frame(loaded: dict[str, Run]) -> Any:
    """Long-format DataFrame (run, tag, step, wall_time, value) of the scalar series."""
    parts = [
        (run, tag, s)
        for run, r in loaded.items()
        for tag, s in r.series.items()
        if s.values is not None and s.steps.size
    ]
    counts = [s.steps.size for _, _, s in parts]

    def cat(arrays: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(arrays) if arrays else np.zeros(0, dtype)

    return _frame(
        {
            "run": _names([r for r, _, _ in parts], counts),
            "tag": _names([t for _, t, _ in parts], counts),
            "step": cat([s.steps for _, _, s in parts], np.int64),
            "wall_time": cat([s.wall_times for _, _, s in parts], np.float64),
            "value": cat([s.values for _, _, s in parts if s.values is not None], np.float64),
        }
    )


def scalars(
    logdir: str,
    tags: Filter = None,
    runs: Filter = None,
    storage_options: dict[str, Any] | None = None,
    pivot: bool = False,
    *,
    ranks: bool = False,
) -> Any:
    """The scalars under ``logdir`` as TensorBoard shows them, as a pandas DataFrame.

    Long format (``pivot=False``): columns run, tag, step, wall_time, value, one row per
    point, runs and tags in name order, each series in file order. ``pivot=True``: one
    row per (run, step) and one column per tag (the last value written at that step;
    NaN where a tag has no point). ``tags`` / ``runs``: regular expressions (searched) or
    callables. ``storage_options`` go to fsspec for URLs. Raises ``ImportError`` without
    pandas, ``FileNotFoundError`` for a missing ``logdir``.

    ``ranks=True``: rank runs (``rank_<r>``, see :mod:`tblog.reader.ranks`) are named by
    their parent in ``run`` and a ``rank`` column (pandas ``Int64``, ``<NA>`` for other
    runs) follows ``run``; ``pivot=True`` then has one row per (run, rank, step).
    """
    frame = scalar_frame(_sorted(load_runs(logdir, tags, runs, storage_options)))
    keys = ["run", "step"]
    if ranks:
        frame = _with_ranks(frame)
        keys = ["run", "rank", "step"]
    if not pivot:
        return frame
    if frame.empty:
        return frame.drop(columns=["tag", "wall_time", "value"])
    if ranks:  # pivot_table drops rows whose key is <NA>: other runs as rank -1 meanwhile
        frame = frame.assign(rank=frame["rank"].fillna(-1))
    wide = frame.pivot_table(index=keys, columns="tag", values="value", aggfunc="last", sort=True)
    wide.columns.name = None
    wide = wide.reset_index()
    if ranks:
        wide["rank"] = wide["rank"].astype("Int64").mask(wide["rank"] < 0)
    return wide


def _with_ranks(frame: Any) -> Any:
    """``frame`` with ``run`` naming each rank run's parent and a ``rank`` column after it."""
    import pandas as pd

    from tblog.reader.ranks import split_rank

    names = frame["run"].unique().tolist()
    split = {name: split_rank(name) for name in names}
    rank = pd.array([split[r][1] for r in frame["run"].tolist()], dtype="Int64")
    frame = frame.assign(run=frame["run"].map(lambda r: split[r][0]).astype(frame["run"].dtype))
    frame.insert(1, "rank", rank)
    return frame


def _sorted(loaded: dict[str, Run]) -> dict[str, Run]:
    out = {}
    for run in sorted(loaded):
        r = loaded[run]
        r.series = {tag: r.series[tag] for tag in sorted(r.series)}
        out[run] = r
    return out


def histograms(
    logdir: str,
    tags: Filter = None,
    runs: Filter = None,
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """The histograms under ``logdir`` as a pandas DataFrame: columns run, tag, step,
    wall_time, ``edges`` (float64 array of ``k + 1`` bucket edges) and ``counts`` (float64
    array of ``k`` counts), as TensorBoard shows them (``[k, 3]`` tensors as written;
    torch's ``HistogramProto`` migrated as TensorBoard migrates it: empty end buckets
    dropped, min and max as the outer edges). Arguments as :func:`scalars`."""
    loaded = _sorted(load_runs(logdir, tags, runs, storage_options, decoder=_histogram))
    cols: dict[str, list[Any]] = {k: [] for k in ("run", "tag", "step", "wall_time")}
    edges: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for run, r in loaded.items():
        for tag, s in r.series.items():
            if s.plugin != "histograms" or s.items is None:
                continue
            for step, wall, item in zip(
                s.steps.tolist(), s.wall_times.tolist(), s.items, strict=True
            ):
                if item is None:
                    continue
                cols["run"].append(run)
                cols["tag"].append(tag)
                cols["step"].append(step)
                cols["wall_time"].append(wall)
                edges.append(item[0])
                counts.append(item[1])
    frame = _frame(cols)
    frame["step"] = frame["step"].astype(np.int64)
    frame["wall_time"] = frame["wall_time"].astype(np.float64)
    frame["edges"] = edges
    frame["counts"] = counts
    return frame


def _histogram(value: Any) -> Any:
    return values.histogram_of(value)


def _hparam(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return value.number_value
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None


def hparams(logdir: str, storage_options: dict[str, Any] | None = None) -> Any:
    """One row per session (a run holding ``_hparams_/session_start_info``, as
    ``add_hparams``, Keras' and TensorBoard's hparams APIs write) as a pandas DataFrame:
    column ``run``, one column per hyperparameter, one column per metric holding the
    session's final value of it (the last point, after purges; NaN when never logged).

    Metrics are those the experiment summaries list (``group/tag`` for a metric logged in
    the session's sub-run ``group``), else every scalar tag of the session's run and its
    sub-runs, as TensorBoard's hparams dashboard finds them."""
    from tblog.core.proto import plugins_pb2

    loaded = load_runs(logdir, storage_options=storage_options)
    sessions: dict[str, dict[str, Any]] = {}
    metrics: list[tuple[str, str]] = []
    for run in sorted(loaded):
        for tag, s in loaded[run].series.items():
            if s.plugin != HPARAMS_PLUGIN or s.metadata is None:
                continue
            data = plugins_pb2.HParamsPluginData.FromString(s.metadata.plugin_data.content)
            if tag == SESSION_START_TAG and data.HasField("session_start_info"):
                info = data.session_start_info.hparams
                sessions[run] = {k: _hparam(info[k]) for k in sorted(info)}
            elif tag == EXPERIMENT_TAG and data.HasField("experiment"):
                for m in data.experiment.metric_infos:
                    if (m.name.group, m.name.tag) not in metrics:
                        metrics.append((m.name.group, m.name.tag))
    rows = []
    for run, hp in sessions.items():
        row: dict[str, Any] = {"run": run, **hp}
        wanted = metrics or _session_scalars(loaded, run)
        for group, tag in wanted:
            sub = _subrun(run, group)
            found = loaded[sub].series.get(tag) if sub in loaded else None
            name = f"{group}/{tag}" if group else tag
            points = found.values if found is not None else None
            row[name] = float(points[-1]) if points is not None and points.size else np.nan
        rows.append(row)
    import pandas as pd

    return pd.DataFrame(rows, columns=None if rows else ["run"])


def _subrun(run: str, group: str) -> str:
    if not group:
        return run
    return group if run == "." else f"{run}/{group}"


def _session_scalars(loaded: dict[str, Run], run: str) -> list[tuple[str, str]]:
    out = []
    prefix = "" if run == "." else run + "/"
    for name in sorted(loaded):
        if name == run or (name.startswith(prefix) and name != "."):
            group = "" if name == run else name[len(prefix) :]
            for tag, s in sorted(loaded[name].series.items()):
                if s.values is not None and not tag.startswith("_hparams_/"):
                    out.append((group, tag))
    return out

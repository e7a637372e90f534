"""``embeddings_freq`` / ``embeddings_metadata`` of ``TBCallback``: Embedding layers for
TensorBoard's Projector.

A metadata file name is resolved as ``keras.callbacks.TensorBoard`` resolves it: it goes
into the projector config written in ``log_dir``, where TensorBoard reads a relative
path as relative to ``log_dir``. We copy its labels next to each embedding table (so the
config in the ``train`` run points at them); a missing or mismatched file is a warning
and the embedding is written without labels, never an error that stops ``fit()``.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from tblog.core.storage import is_url, open_storage


def embedding_layers(model: Any) -> list[Any]:
    import keras

    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.Embedding)
    ]


def check_metadata_names(source: str | dict[str, str] | None, model: Any) -> None:
    """Raise ``ValueError`` if a ``{layer name: file}`` names no Embedding layer (Keras
    raises the same at ``set_model``)."""
    if not isinstance(source, dict):
        return
    names = {layer.name for layer in embedding_layers(model)}
    unknown = sorted(set(source) - names)
    if unknown:
        raise ValueError(
            f"embeddings_metadata names layers that are no Embedding of the model: {unknown}"
        )


def resolve(log_dir: str, path: str) -> str:
    """``path`` as TensorBoard's projector reads it from a config in ``log_dir``: absolute
    paths and URLs unchanged, ``~`` expanded, anything else relative to ``log_dir``."""
    if is_url(path):
        return path
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return path
    return open_storage(log_dir).join(log_dir, path)


class Metadata:
    """Labels of each layer's ``embeddings_metadata`` file, warning once per problem."""

    def __init__(self, log_dir: str, source: str | dict[str, str] | None) -> None:
        self.log_dir = log_dir
        self.source = source
        self._warned: set[tuple[str, str]] = set()

    def _warn(self, key: tuple[str, str], message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, RuntimeWarning, stacklevel=4)

    def path(self, layer: str) -> str | None:
        source = self.source
        name = source.get(layer) if isinstance(source, dict) else source
        return None if name is None else resolve(self.log_dir, os.fspath(name))

    def check(self, layers: list[str]) -> None:
        """Warn now (at the start of training) about metadata files that do not exist."""
        for layer in layers:
            path = self.path(layer)
            if path is not None and open_storage(path).read(path) is None:
                self._missing(layer, path)

    def _missing(self, layer: str, path: str) -> None:
        self._warn(
            (layer, path),
            f"embeddings_metadata file {path!r} for layer {layer!r} does not exist "
            "(a relative name is read relative to log_dir, as Keras does): "
            "the embedding is written without labels",
        )

    def labels(self, layer: str, rows: int) -> tuple[list[Any] | None, list[str] | None]:
        """``(labels, header)`` for a table of ``rows`` rows: one label per row, or a
        tab-separated header line followed by one row per embedding; ``(None, None)``
        (with a warning) when the file is missing or has the wrong number of rows."""
        path = self.path(layer)
        if path is None:
            return None, None
        data = open_storage(path).read(path)
        if data is None:
            self._missing(layer, path)
            return None, None
        lines = data.decode("utf-8", "replace").splitlines()
        if len(lines) == rows + 1 and "\t" in lines[0]:
            return [line.split("\t") for line in lines[1:]], lines[0].split("\t")
        if len(lines) != rows:
            self._warn(
                (layer, f"{path}:{len(lines)}"),
                f"embeddings_metadata file {path!r} has {len(lines)} rows, layer {layer!r} "
                f"has {rows}: the embedding is written without labels",
            )
            return None, None
        return lines, None

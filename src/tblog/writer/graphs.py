"""The graph methods of ``tblog.SummaryWriter`` (torch's ``add_graph``, ``add_graph_def``,
``add_onnx_graph``); graph forms are normalised by :func:`tblog.core.summaries.graph.graph_bytes`."""

from __future__ import annotations

import os
import time
from typing import Any

from tblog.core.summaries.graph import graph_bytes
from tblog.writer.base import WriterBase


class GraphMethods(WriterBase):
    """The graph methods of :class:`~tblog.writer.summary_writer.SummaryWriter`."""

    def add_graph(
        self,
        model: Any,
        input_to_model: Any = None,
        verbose: bool = False,
        use_strict_trace: bool = True,
    ) -> None:
        """Log a model's graph (the Graphs dashboard); torch models trace ``input_to_model``."""
        graph_def, run_metadata = graph_bytes(
            model, input_to_model, verbose, use_strict_trace, name="model"
        )
        self.add_graph_def(graph_def, run_metadata=run_metadata)

    def add_graph_def(self, graph_def: Any, run_metadata: Any = None, tag: str = "step1") -> None:
        """Log a GraphDef proto (or its bytes) and optional RunMetadata for the Graphs dashboard."""
        from tblog.core.format import events

        data = graph_def if isinstance(graph_def, bytes) else graph_def.SerializeToString()
        wall = time.time()
        self._writer.event("", events.graph_event(data, wall))
        if run_metadata is not None:
            meta = (
                run_metadata
                if isinstance(run_metadata, bytes)
                else run_metadata.SerializeToString()
            )
            self._writer.event("", events.run_metadata_event(tag, meta, 0, wall))

    def add_onnx_graph(self, prototxt: str | os.PathLike[str]) -> None:
        """Log the graph of an ONNX model file (the path torch calls ``prototxt``).

        Read with our own ONNX schema: the ``onnx`` package is not needed. Raises
        ``FileNotFoundError`` for a missing file and ``ValueError`` for a non-ONNX file.
        """
        from tblog.core.summaries.onnx_graph import onnx_graph_def

        with open(os.fspath(prototxt), "rb") as f:
            self.add_graph_def(onnx_graph_def(f.read()))

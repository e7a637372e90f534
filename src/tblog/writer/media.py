"""The media and projector methods of ``tblog.SummaryWriter`` (torch's API): images,
figures, video, audio, text, PR curves, custom-scalar layouts, meshes and embeddings.

Each turns its input into a Summary with the pure functions of ``tblog.core.summaries``
and queues it with ``_summary`` (:class:`~tblog.writer.base.WriterBase`). Images, figures,
video and audio go in the legacy ``image``/``audio`` fields on a torch-style writer (as
torch writes them) and as the plugins' tensors on a ``style="tf.summary"`` one.
"""

from __future__ import annotations

from typing import Any

from tblog.core import convert
from tblog.core.convert import to_step
from tblog.writer.base import WriterBase


class MediaMethods(WriterBase):
    """The media and projector methods of :class:`~tblog.writer.summary_writer.SummaryWriter`."""

    # ------------------------------------------------------------------ images, video, audio, text
    def add_image(
        self,
        tag: str,
        img_tensor: Any,
        global_step: Any = None,
        walltime: float | None = None,
        dataformats: str = "CHW",
    ) -> None:
        """Log one image as PNG. ``img_tensor``: ``[C, H, W]`` or the layout ``dataformats``
        names (HW, HWC, ...; C is 1 gray, 2 gray+alpha, 3 RGB or 4 RGBA). uint8 is 0-255,
        other dtypes 0-1 (scaled by 255 and clipped, as torch). Raises ``ValueError`` for a
        shape that does not match ``dataformats`` or NaN/infinity."""
        from tblog.core.summaries import image

        summary = image.image_pb(
            self._tag(tag), convert.to_numpy(img_tensor), dataformats, legacy=self._legacy_media
        )
        self._summary(summary, global_step, walltime)

    def add_images(
        self,
        tag: str,
        img_tensor: Any,
        global_step: Any = None,
        walltime: float | None = None,
        dataformats: str = "NCHW",
    ) -> None:
        """Log a batch ``[N, C, H, W]`` (or ``dataformats``' layout) as one grid image, 8 per
        row, as torch does. Values and errors as in :meth:`add_image`."""
        from tblog.core.summaries import image

        summary = image.images_pb(
            self._tag(tag), convert.to_numpy(img_tensor), dataformats, legacy=self._legacy_media
        )
        self._summary(summary, global_step, walltime)

    def add_image_with_boxes(
        self,
        tag: str,
        img_tensor: Any,
        box_tensor: Any,
        global_step: Any = None,
        walltime: float | None = None,
        rescale: float = 1,
        dataformats: str = "CHW",
        labels: list[str] | None = None,
    ) -> None:
        """Log an image with red boxes drawn on it. ``box_tensor``: ``[N, 4]`` pixel corners
        x1, y1, x2, y2; ``labels``: N strings; ``rescale``: resize factor of the result."""
        from tblog.core.summaries import image

        summary = image.image_with_boxes_pb(
            self._tag(tag),
            convert.to_numpy(img_tensor),
            convert.to_numpy(box_tensor),
            dataformats=dataformats,
            labels=labels,
            rescale=rescale,
            legacy=self._legacy_media,
        )
        self._summary(summary, global_step, walltime)

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: Any = None,
        close: bool = True,
        walltime: float | None = None,
    ) -> None:
        """Render a matplotlib figure (or a list of same-sized figures, tiled as a grid) and
        log it as an image; ``close`` closes them in pyplot afterwards."""
        from tblog.core.summaries import figure as figure_summary

        summary = figure_summary.figure_pb(
            self._tag(tag), figure, close=close, legacy=self._legacy_media
        )
        self._summary(summary, global_step, walltime)

    def add_video(
        self,
        tag: str,
        vid_tensor: Any,
        global_step: Any = None,
        fps: float = 4,
        walltime: float | None = None,
    ) -> None:
        """Log videos ``[N, T, C, H, W]`` as one animated GIF (Images dashboard); a batch is
        tiled into a grid per frame, as torch does. C is 1, 3 or 4 (alpha dropped)."""
        from tblog.core.summaries import video

        summary = video.video_pb(
            self._tag(tag), convert.to_numpy(vid_tensor), fps=fps, legacy=self._legacy_media
        )
        self._summary(summary, global_step, walltime)

    def add_audio(
        self,
        tag: str,
        snd_tensor: Any,
        global_step: Any = None,
        sample_rate: int = 44100,
        walltime: float | None = None,
    ) -> None:
        """Log audio samples in [-1, 1] (clipped) as 16-bit WAV: shape ``[L]``, ``[1, L]``
        or channels-first ``[C, L]`` (C <= 8); ``sample_rate`` in Hz."""
        from tblog.core.summaries import audio

        summary = audio.audio_pb(
            self._tag(tag),
            convert.to_numpy(snd_tensor),
            sample_rate=sample_rate,
            legacy=self._legacy_media,
        )
        self._summary(summary, global_step, walltime)

    def add_text(
        self, tag: str, text_string: str, global_step: Any = None, walltime: float | None = None
    ) -> None:
        """Log Markdown text under ``<tag>/text_summary`` (torch's tag). A list of strings
        (rank 1 or 2) is shown as a table."""
        from tblog.core.summaries import text

        self._summary(
            text.text_pb(self._tag(tag) + "/text_summary", text_string), global_step, walltime
        )

    # ------------------------------------------------------------------ pr curves
    def add_pr_curve(
        self,
        tag: str,
        labels: Any,
        predictions: Any,
        global_step: Any = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a precision-recall curve from binary ``labels`` and ``predictions`` in [0, 1]."""
        from tblog.core.summaries import pr_curve

        summary = pr_curve.pr_curve_pb(
            self._tag(tag),
            convert.to_numpy(labels),
            convert.to_numpy(predictions),
            num_thresholds=num_thresholds,
            weights=None if weights is None else convert.to_numpy(weights),
        )
        self._summary(summary, global_step, walltime)

    def add_pr_curve_raw(
        self,
        tag: str,
        true_positive_counts: Any,
        false_positive_counts: Any,
        true_negative_counts: Any,
        false_negative_counts: Any,
        precision: Any,
        recall: Any,
        global_step: Any = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a precision-recall curve from precomputed counts (one entry per threshold)."""
        from tblog.core.summaries import pr_curve

        summary = pr_curve.pr_curve_raw_pb(
            self._tag(tag),
            convert.to_numpy(true_positive_counts),
            convert.to_numpy(false_positive_counts),
            convert.to_numpy(true_negative_counts),
            convert.to_numpy(false_negative_counts),
            convert.to_numpy(precision),
            convert.to_numpy(recall),
            num_thresholds=num_thresholds,
        )
        self._summary(summary, global_step, walltime)

    # ------------------------------------------------------------------ custom scalars
    def add_custom_scalars(self, layout: dict[str, dict[str, list[Any]]]) -> None:
        """Log a Custom Scalars layout: ``{category: {title: ["Multiline"|"Margin", tags]}}``."""
        from tblog.core.summaries import custom_scalars

        self._summary(custom_scalars.layout_pb(layout), 0, None)

    def add_custom_scalars_multilinechart(
        self, tags: list[str], category: str = "default", title: str = "untitled"
    ) -> None:
        """Log a one-chart layout that plots every tag in ``tags`` on one multiline chart."""
        self.add_custom_scalars({category: {title: ["Multiline", tags]}})

    def add_custom_scalars_marginchart(
        self, tags: list[str], category: str = "default", title: str = "untitled"
    ) -> None:
        """Log a one-chart layout with a margin chart of ``[value, lower, upper]`` tags."""
        if len(tags) != 3:
            raise ValueError(f"tags must be [value, lower, upper], got {len(tags)} tags")
        self.add_custom_scalars({category: {title: ["Margin", tags]}})

    # ------------------------------------------------------------------ mesh, hparams, embedding
    def add_mesh(
        self,
        tag: str,
        vertices: Any,
        colors: Any = None,
        faces: Any = None,
        config_dict: dict[str, Any] | None = None,
        global_step: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a 3D mesh or point cloud: ``vertices`` [B, N, 3], ``colors`` [B, N, 3] uint8,
        ``faces`` [B, F, 3] vertex indices."""
        from tblog.core.summaries import mesh

        summary = mesh.mesh_pb(
            self._tag(tag),
            convert.to_numpy(vertices),
            colors=None if colors is None else convert.to_numpy(colors),
            faces=None if faces is None else convert.to_numpy(faces),
            config_dict=config_dict,
        )
        self._summary(summary, global_step, walltime)

    def add_embedding(
        self,
        mat: Any,
        metadata: Any = None,
        label_img: Any = None,
        global_step: Any = None,
        tag: str = "default",
        metadata_header: list[str] | None = None,
    ) -> None:
        """Write an embedding for the Projector: ``mat`` [N, D], ``metadata`` N labels (or
        rows when ``metadata_header`` is given), ``label_img`` [N, C, H, W] thumbnails."""
        from tblog.core.summaries import embedding

        step = to_step(global_step)
        if hasattr(metadata, "dtype") and hasattr(metadata, "shape"):  # an array of labels
            metadata = convert.to_numpy(metadata).tolist()
        files, entry = embedding.embedding_files(
            convert.to_numpy(mat),
            metadata=metadata,
            label_img=None if label_img is None else convert.to_numpy(label_img),
            tag=self._tag(tag),
            step=step,
            metadata_header=metadata_header,
        )
        writer = self._writer
        storage = writer.storage

        def write_files() -> None:
            for rel, data in files.items():
                path = storage.join(writer.logdir, *rel.split("/"))
                storage.makedirs(storage.dirname(path))
                storage.write_bytes(path, data)
            config_path = storage.join(writer.logdir, "projector_config.pbtxt")
            old = storage.read(config_path) or b""
            storage.write_bytes(config_path, old + entry.encode("utf-8"))

        writer.call(write_files)

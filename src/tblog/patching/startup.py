"""Imported at interpreter start by ``tblog-patch.pth`` when ``TBLOG_PATCH`` is set:
applies the patch it asks for (:func:`tblog.patching.launch.patch_from_env`)."""

from __future__ import annotations

from tblog.patching.launch import patch_from_env

patch_from_env()

"""Hatch plugin registration (entry point group ``hatch``); imports stay lazy."""

from __future__ import annotations

from typing import Any

from hatchling.plugin import hookimpl


@hookimpl
def hatch_register_build_hook() -> Any:
    from .hatch_hook import DatafetchBuildHook

    return DatafetchBuildHook


@hookimpl
def hatch_register_metadata_hook() -> Any:
    from .hatch_hook import DatafetchMetadataHook

    return DatafetchMetadataHook

"""Hatch plugin registration (entry point group ``hatch``); the hooks live in
:mod:`hatch_datafetch.hatch_plugin`, imported lazily."""

from __future__ import annotations

from typing import Any

from hatchling.plugin import hookimpl


@hookimpl
def hatch_register_build_hook() -> Any:
    from .hatch_plugin import DatafetchBuildHook

    return DatafetchBuildHook


@hookimpl
def hatch_register_metadata_hook() -> Any:
    from .hatch_plugin import DatafetchMetadataHook

    return DatafetchMetadataHook

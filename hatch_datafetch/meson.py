"""Meson helper subcommands (SPEC §8); filled in by the meson-python work."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any) -> None:
    """Register the meson subcommands on the ``hatch-datafetch`` subparsers."""
    del sub


__all__ = ["add_commands", "argparse"]

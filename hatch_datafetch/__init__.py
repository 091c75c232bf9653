"""hatch-datafetch: build-time switch and run-time locator for package data files."""

from __future__ import annotations

__version__ = "0.1.0"

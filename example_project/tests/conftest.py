"""The data-file locator of example_pkg is also a pytest plugin: a ``datafetch`` marker and
fixture, and the ``--datafetch=skip|require|prefetch`` option (see the README).

The locator module is written by the build hook, so the package must be installed (an
editable install is enough: ``pip install -e example_project``)."""

import importlib.util

import pytest

if importlib.util.find_spec("example_pkg._datafetch") is None:
    raise pytest.UsageError(
        "example_pkg._datafetch is missing: the build hook writes it; install the example "
        "first (pip install -e example_project)"
    )

pytest_plugins = ["example_pkg._datafetch"]

"""The locator of example_setuptools is also a pytest plugin (the ``datafetch`` marker and
fixture, ``--datafetch=skip|require|prefetch``); the package must be installed, since the
build writes the locator (``pip install -e example_setuptools`` is enough)."""

pytest_plugins = ["example_setuptools._datafetch"]

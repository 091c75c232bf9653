"""The pytest plugin of every locator: ``pytest_plugins = ["<package>.<locator>"]``.

The package's two hooks (``pytest_addoption``, ``pytest_configure``) call this module, and
pytest itself is only imported once pytest calls them. Several locators (several packages)
may be loaded at once; they share one plugin object, which finds for each NAME the locator
whose registry holds it: a marker ``@pytest.mark.datafetch(NAME, ...)`` and a fixture
``datafetch(NAME) -> Path``; a file that cannot be had skips the test (fails it with
``--datafetch=require`` or ``HATCH_DATAFETCH_REQUIRE=1``); ``--datafetch=prefetch`` downloads
every file the selected tests name, in parallel, before the first test.
"""

from __future__ import annotations

import os

from .errors import DataNotFoundError, DownloadError, FetchErrors, HashMismatchError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from .lookup import Locator


def addoption(parser: Any) -> None:
    try:
        parser.addoption(
            "--datafetch",
            choices=("skip", "require", "prefetch"),
            default=None,
            help="data files that tests name (@pytest.mark.datafetch, the datafetch fixture): "
            "skip a test when one cannot be had (default), fail it instead (require; "
            "HATCH_DATAFETCH_REQUIRE=1 does too, with any mode), or download every file the "
            "selected tests name, in parallel, before the first test (prefetch)",
        )
        parser.addoption(
            "--datafetch-jobs",
            type=int,
            default=32,
            help="parallel downloads of --datafetch=prefetch (default 32: test files are "
            "mostly small, so latency, not bandwidth, is what parallel downloads save)",
        )
        parser.addoption(
            "--datafetch-retries",
            type=int,
            default=None,
            help="retries per URL of the downloads the tests cause (default: the locator's, 5)",
        )
        parser.addoption(
            "--datafetch-timeout",
            type=float,
            default=None,
            help="seconds without progress that end a download attempt (default 30)",
        )
    except ValueError:  # another package's locator added them first
        pass


def configure(config: Any, factory: Callable[..., Locator]) -> None:
    """Register the plugin once, and the package's locator ``factory`` with it."""
    plugin = config.pluginmanager.get_plugin("datafetch-tests")
    if plugin is None:
        import pytest

        plugin = _pytest_plugin(pytest)(config)
        config.pluginmanager.register(plugin, "datafetch-tests")
        config.addinivalue_line(
            "markers",
            "datafetch(*names): the test needs these data files; it is skipped when one "
            "cannot be had (see --datafetch)",
        )
    retries = config.getoption("--datafetch-retries", None)
    timeout = config.getoption("--datafetch-timeout", None)
    made: list[Locator] = []

    def locator() -> Locator:  # made when a test first needs it (no config read before)
        if not made:
            made.append(factory(retries=retries, timeout=timeout))
        return made[0]

    plugin.locators.append(locator)


def _pytest_plugin(pytest: Any) -> Any:
    """The plugin class, made once pytest is imported (its fixture needs the decorator)."""

    class DatafetchPlugin:
        def __init__(self, config: Any) -> None:
            self.config = config
            self.locators: list[Callable[[], Locator]] = []
            self.failed: dict[str, str] = {}  # NAME -> reason, from a prefetch

        def required(self) -> bool:
            """Must a test that cannot have its data fail (not skip)? ``--datafetch=require``
            or ``HATCH_DATAFETCH_REQUIRE=1``, whatever else ``--datafetch`` says."""
            if self.config.getoption("--datafetch", None) == "require":
                return True
            from .config import env_switch

            return env_switch(os.environ, "HATCH_DATAFETCH_REQUIRE")

        def locator_of(self, name: str) -> Locator:
            for make in self.locators:
                loc = make()
                if loc.knows(name):
                    return loc
            raise pytest.UsageError(
                f"datafetch: {name!r} is in the registry of no locator loaded as a plugin"
            )

        def get(self, name: str) -> Path:
            """NAME's path, or the test is skipped (failed when data is required)."""
            reason = self.failed.get(name)
            if reason is None:
                loc = self.locator_of(name)
                try:
                    return loc.fetch(name)
                except (DataNotFoundError, HashMismatchError, OSError) as e:
                    reason = _test_reason(loc, name, e)
            if self.required():
                pytest.fail(reason, pytrace=False)
            try:  # the skip summary names the test, not this line (pytest >= 7)
                error = pytest.skip.Exception(reason, _use_item_location=True)
            except TypeError:  # pragma: no cover - older pytest
                error = pytest.skip.Exception(reason)
            raise error

        @pytest.hookimpl(tryfirst=True)  # type: ignore[untyped-decorator, unused-ignore]
        def pytest_runtest_setup(self, item: Any) -> None:
            for mark in item.iter_markers("datafetch"):
                for name in mark.args:
                    self.get(name)

        @pytest.fixture  # type: ignore[untyped-decorator, unused-ignore]
        def datafetch(self) -> Callable[[str], Path]:
            """``datafetch(NAME) -> Path``; skips the test when NAME cannot be had."""
            return self.get

        def pytest_collection_finish(self, session: Any) -> None:
            prefetch = self.config.getoption("--datafetch", None) == "prefetch"
            if not prefetch or not session.items:
                return
            import time

            names = {n for i in session.items for m in i.iter_markers("datafetch") for n in m.args}
            by_locator: dict[int, tuple[Locator, list[str]]] = {}
            for name in sorted(names):
                loc = self.locator_of(name)
                by_locator.setdefault(id(loc), (loc, []))[1].append(name)
            start = time.monotonic()
            jobs = max(1, int(self.config.getoption("--datafetch-jobs", 32) or 32))
            for loc, todo in by_locator.values():
                try:
                    loc.fetch_all(names=todo, jobs=jobs)
                except (DataNotFoundError, HashMismatchError, OSError) as e:
                    errors = e.errors if isinstance(e, FetchErrors) else {getattr(e, "name", ""): e}
                    for name, error in errors.items():
                        self.failed[name] = _test_reason(loc, name, error)
            took = time.monotonic() - start
            report = session.config.pluginmanager.get_plugin("terminalreporter")
            if report is not None:
                from .progress import count

                report.write_line(
                    f"datafetch: prefetched {len(names) - len(self.failed)} of "
                    f"{count(len(names), 'data file')} in {took:.1f} s"
                )

    return DatafetchPlugin


def _test_reason(loc: Locator, name: str, error: BaseException) -> str:
    """Why a test cannot have NAME: the cause in a few words, then where it looked."""
    if loc.offline:
        why = "offline switch HATCH_DATAFETCH_OFFLINE is set"
    elif isinstance(error, HashMismatchError):
        why = f"hash mismatch: got {error.actual}, expected {error.expected}"
    elif isinstance(error, DownloadError):
        detail = [ln.strip() for ln in str(error).splitlines() if ln.startswith("  - ")]
        why = f"network error: {detail[0][2:] if detail else error}"
    else:
        why = str(error).splitlines()[0]
    places = "; ".join(f"{c.source}: {c.status}" for c in loc.where(name) if c.source != "download")
    return f"datafetch: cannot get {name!r} ({why}); looked in {places}"

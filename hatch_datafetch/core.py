"""Glue between the validated models (registry, settings) and the runtime engine.

Every front-end (the Hatch hooks, the meson helper, the CLI) goes through these functions,
so the JSON baked into wheels and the engine the tool itself uses come from one place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from ._runtime import FORMAT, DataNotFoundError, HashMismatchError, Locator

if TYPE_CHECKING:
    from .registry import Registry
    from .settings import BuildEnvironment, Settings


def runtime_config(
    registry: Registry,
    settings: Settings | None = None,
    *,
    base_url: str | None = None,
    mirrors: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The content of ``<locator>_registry.json``: normalised registry + baked settings.

    ``base_url``/``mirrors`` (e.g. from CLI flags) win over the settings, which win over the
    registry file.
    """
    if settings is not None:
        base_url = base_url or settings.base_url
        mirrors = mirrors if mirrors is not None else settings.mirrors
    base_url = base_url or registry.base_url
    mirrors = list(mirrors if mirrors is not None else registry.mirrors)
    config: dict[str, Any] = {
        "format": FORMAT,
        "base_url": base_url,
        "mirrors": mirrors,
        "version": registry.version,
        "files": {
            e.name: {"hash": e.hash, "size": e.size, "url": e.url}
            for e in sorted(registry.files, key=lambda e: e.name)
        },
    }
    if settings is None:
        stem = os.path.splitext(os.path.basename(registry.source or "registry"))[0]
        config["data_name"] = f"{stem}-data"
        return config
    config.update(
        package=settings.package,
        locator=settings.locator,
        data_name=settings.data_name,
        data_version=settings.data_version,
        data_package=settings.data_package,
        env_var=settings.env_var,
        url_env_var=settings.url_env_var,
        system_dirs=list(settings.system_dirs),
        bundled=settings.wheel == "bundle",
        extra=settings.data_extra if settings.data_wheel else None,
    )
    return config


def render_config(config: Mapping[str, Any]) -> bytes:
    """Stable bytes for a runtime config (sorted keys, one trailing newline)."""
    return (json.dumps(config, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def runtime_source() -> bytes:
    """The runtime module, byte for byte, as it is copied into wheels."""
    return files("hatch_datafetch").joinpath("_runtime.py").read_bytes()


def build_locator(
    config: Mapping[str, Any],
    env: BuildEnvironment,
    *,
    extra_sources: Sequence[str | os.PathLike[str]] = (),
    progress: bool | None = None,
    offline: bool = False,
    strict: bool = False,
) -> Locator:
    """The engine as the tool uses it: build cache, source dirs, offline switch.

    It never looks at the installed package, companion or env-var dirs (those are run-time
    sources of the *user's* package), only at ``extra_sources`` and ``HATCH_DATAFETCH_SOURCE``
    dirs, then the shared, content-addressed build cache, then the network (never when
    ``offline`` or ``env.offline``). ``strict``: a bad local copy raises, as builds need.
    """
    from .settings import default_build_cache

    return Locator(
        config,
        cache_dir=env.cache or default_build_cache(),
        local=False,
        sources=[*extra_sources, *env.sources],
        offline=offline or env.offline,
        strict=strict,
        progress=progress,
    )


class BuildError(Exception):
    """A build cannot get its data files; the message lists files and remedies."""


BUNDLE_DIR = "_datafetch_bundle"


def stage_files(
    config: Mapping[str, Any],
    env: BuildEnvironment,
    *,
    jobs: int = 8,
    extra_sources: Sequence[str | os.PathLike[str]] = (),
    offline_reason: str | None = None,
    pyproject_hint: str = "pyproject.toml",
    network_remedy: str | None = None,
    more_remedies: Sequence[str] = (),
) -> dict[str, str]:
    """Verified local paths of every registry file, for bundling (nothing is copied).

    Sources in order: ``extra_sources`` (e.g. an unpacked sdist's bundle), the
    ``HATCH_DATAFETCH_SOURCE`` dirs, the build cache, then the network unless offline
    (``env.offline`` or an ``offline_reason`` such as building from an sdist). A copy whose
    hash does not match stops the build. Missing files raise :class:`BuildError` listing
    them, their URLs, the download errors and the remedies; a front-end may replace the
    third remedy (``network_remedy``, how to allow downloads) and add ``more_remedies``.
    Returns NAME -> path, sorted.
    """
    offline = env.offline or offline_reason is not None
    loc = build_locator(config, env, extra_sources=extra_sources, offline=offline, strict=True)
    try:
        paths = loc.fetch_all(None, jobs)
    except (DataNotFoundError, HashMismatchError) as e:
        errors: Mapping[str, BaseException] = getattr(e, "errors", None) or {"?": e}
        bad = {n: err for n, err in errors.items() if isinstance(err, HashMismatchError)}
        if bad:
            raise BuildError(f"hatch-datafetch: {bad[sorted(bad)[0]]}") from None
        why = offline_reason or ("HATCH_DATAFETCH_OFFLINE is set" if offline else "")
        if network_remedy is None:
            network_remedy = "allow network access for the build (unset HATCH_DATAFETCH_OFFLINE)"
            if offline_reason:
                network_remedy = (
                    "an sdist built without sdist = 'bundle' holds no files: build the wheel "
                    "from the source tree with network access, or rebuild the sdist with "
                    "HATCH_DATAFETCH_SDIST=bundle"
                )
        remedies = [
            "put the files, laid out by NAME, in a directory and set HATCH_DATAFETCH_SOURCE=DIR "
            "(os.pathsep separates several)",
            f"on a machine with network: hatch-datafetch download --pyproject {pyproject_hint} "
            "--dest DIR, then use DIR as in 1",
            network_remedy,
            *more_remedies,
        ]
        raise BuildError(_missing_message(loc, errors, why, remedies)) from None
    return {name: str(paths[name]) for name in sorted(paths)}


def _missing_message(
    loc: Locator, errors: Mapping[str, BaseException], why: str, remedies: Sequence[str]
) -> str:
    names = sorted(errors)
    reason = why or "downloads failed"
    lines = [f"hatch-datafetch: {len(names)} data file(s) are not available ({reason}):"]
    for name in names:
        urls = loc.urls(name) if name in loc.files else []
        lines.append(f"  {name}  {urls[0] if urls else '(no URL)'}")
        if not why:  # downloads were tried: say how each URL failed
            lines += [
                f"  {ln.strip()}" for ln in str(errors[name]).splitlines() if ln.startswith("  - ")
            ]
    lines.append("Any one of these fixes it:")
    lines += [f"  {i}. {remedy}" for i, remedy in enumerate(remedies, 1)]
    return "\n".join(lines)

"""Build staging: what every front end (Hatch plugin, meson helper, CLI) does with a registry
and its settings at build time.

* :func:`runtime_config` / :func:`render_config` / :func:`runtime_source`: the two files
  every wheel gets, ``<locator>.py`` and ``<locator>_registry.json``;
* :func:`build_locator`: the runtime engine as the tool uses it (build cache, source dirs);
* :func:`stage_files`: every registry file verified on local disk, for bundling (the
  members of unpacked archives, as ``NAME/member``), or a
  :class:`~hatch_datafetch.errors.BuildError` that lists what is missing and the remedies;
* :func:`offline_reason`: why a build must not download (one :class:`Offline` value).
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from ._runtime import FORMAT, FetchErrors, HashMismatchError, Locator
from .errors import BuildError
from .registry import FileEntry, Registry
from .settings import BuildEnvironment, Settings, default_build_cache

__all__ = [
    "BUNDLE_DIR",
    "Offline",
    "build_locator",
    "built_from_sdist",
    "check_no_clashes",
    "offline_reason",
    "render_config",
    "runtime_config",
    "runtime_source",
    "stage_files",
    "staged_summary",
]

#: Where an sdist built with ``sdist = "bundle"`` keeps the verified files, by NAME.
BUNDLE_DIR = "_datafetch_bundle"


class Offline(enum.Enum):
    """Why a build must not touch the network; the value is the reason as users read it."""

    SWITCH = "HATCH_DATAFETCH_OFFLINE is set"
    SDIST = "building from an sdist, which never downloads"
    WRAP_MODE = "meson --wrap-mode=nodownload"


def built_from_sdist(root: str | os.PathLike[str]) -> bool:
    """Is *root* an unpacked sdist (``PKG-INFO`` at the top)? Such builds never download."""
    return os.path.isfile(os.path.join(root, "PKG-INFO"))


def offline_reason(
    root: str | os.PathLike[str], env: BuildEnvironment, *, wrap_mode: str | None = None
) -> Offline | None:
    """Why a build in *root* must not download, or None when it may."""
    if built_from_sdist(root):
        return Offline.SDIST
    if wrap_mode == "nodownload":
        return Offline.WRAP_MODE
    if env.offline:
        return Offline.SWITCH
    return None


#: How to let a build download, for each reason it may not (a front end may say it better).
NETWORK_REMEDIES: Mapping[Offline | None, str] = {
    None: "check the network and the URLs above (each says how it failed), then build again",
    Offline.SWITCH: "allow network access for the build (unset HATCH_DATAFETCH_OFFLINE)",
    Offline.SDIST: "an sdist built without sdist = 'bundle' holds no files: build the wheel "
    "from the source tree with network access, or rebuild the sdist with "
    "HATCH_DATAFETCH_SDIST=bundle",
    Offline.WRAP_MODE: "allow network access: configure without --wrap-mode=nodownload (and "
    "without HATCH_DATAFETCH_OFFLINE)",
}


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
        "files": {e.name: _file_config(e) for e in registry},
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
        max_size=settings.max_size,
    )
    return config


def _file_config(e: FileEntry) -> dict[str, Any]:
    """One file of the runtime config; ``unpack`` and ``members`` only for archives."""
    out: dict[str, Any] = {"hash": e.hash, "size": e.size, "url": e.url}
    if e.unpack:
        out["unpack"] = e.unpack
    if e.members is not None:
        out["members"] = dict(e.members)
    return out


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
    timeout: float = 30.0,
    retries: int = 3,
) -> Locator:
    """The engine as the tool uses it: build cache, source dirs, offline switch.

    It never looks at the installed package, companion or env-var dirs (those are run-time
    sources of the *user's* package), only at ``extra_sources`` and ``HATCH_DATAFETCH_SOURCE``
    dirs, then the shared, content-addressed build cache, then the network (never when
    ``offline`` or ``env.offline``). ``strict``: a bad local copy raises, as builds need.
    """
    return Locator(
        config,
        cache_dir=env.cache or default_build_cache(),
        search_installed=False,
        unpack_unlisted=False,  # builds ship such an archive as it is
        sources=[*extra_sources, *env.sources],
        offline=offline or env.offline,
        strict=strict,
        progress=progress,
        timeout=timeout,
        retries=retries,
    )


def stage_files(
    config: Mapping[str, Any],
    env: BuildEnvironment,
    *,
    jobs: int = 8,
    extra_sources: Sequence[str | os.PathLike[str]] = (),
    offline: Offline | None = None,
    pyproject_hint: str = "pyproject.toml",
    network_remedies: Mapping[Offline | None, str] = NETWORK_REMEDIES,
    more_remedies: Sequence[str] = (),
    purpose: str = "",
) -> dict[str, str]:
    """Verified local paths of every registry file, for bundling (nothing is copied).

    Sources in order: ``extra_sources`` (e.g. an unpacked sdist's bundle), the
    ``HATCH_DATAFETCH_SOURCE`` dirs, the build cache, then the network unless ``offline``
    (or ``env.offline``). A copy whose hash does not match stops the build. Missing files
    raise :class:`BuildError` listing them, their URLs, the download errors and the
    remedies: the third says how to allow downloads (``network_remedies`` by reason), then
    ``more_remedies``; ``purpose`` (e.g. "data wheel") says what they are for. Returns
    shipped path -> verified path, sorted: NAME for a file (and for an archive whose
    members the registry does not list), ``NAME/member`` for each member of an archive it
    lists -- bundles and data wheels carry the verified members, not the archive.
    """
    if offline is None and env.offline:
        offline = Offline.SWITCH
    loc = build_locator(
        config, env, extra_sources=extra_sources, offline=offline is not None, strict=True
    )
    try:
        paths = loc.fetch_all(None, jobs)
    except (LookupError, HashMismatchError) as e:
        errors: Mapping[str, BaseException] = (
            e.errors if isinstance(e, FetchErrors) else {getattr(e, "name", None) or "?": e}
        )
        bad = {n: err for n, err in errors.items() if isinstance(err, HashMismatchError)}
        if bad:
            raise BuildError(str(bad[sorted(bad)[0]]).rstrip()) from None
        remedies = [
            "put the files, laid out by NAME, in a directory and set HATCH_DATAFETCH_SOURCE=DIR "
            "(os.pathsep separates several)",
            f"on a machine with network: hatch-datafetch download --pyproject {pyproject_hint} "
            "--dest DIR, then use DIR as in 1",
            network_remedies.get(offline, NETWORK_REMEDIES[offline]),
            *more_remedies,
        ]
        raise _missing(loc, errors, offline, remedies, purpose) from None
    out = {}
    for name, path in paths.items():
        if loc.members(name) is None:
            out[name] = str(path)
        else:
            out.update((f"{name}/{m}", str(p)) for m, p in loc.member_paths(name).items())
    return dict(sorted(out.items()))


def check_no_clashes(
    names: Iterable[str], settings: Settings, package_dirs: Sequence[Path]
) -> None:
    """A :class:`BuildError` when bundled registry names would overwrite what the package
    ships itself: its files in ``package_dirs`` or the two generated locator files."""
    generated = {f"{settings.locator}.py", f"{settings.locator}_registry.json"}
    clashes = [n for n in names if n in generated or any((d / n).exists() for d in package_dirs)]
    if clashes:
        raise BuildError(
            f"{len(clashes)} registry name(s) collide with files the package already ships "
            f"({settings.package}): {', '.join(clashes[:5])}",
            hint="rename the files or the registry entries (NAME is the path inside the "
            "package), or remove the copies from the source tree",
        )


def staged_summary(files: Mapping[str, str], purpose: str) -> str:
    """``hatch-datafetch: N verified files (S MB) for the PURPOSE``, for build logs."""
    size = sum(os.path.getsize(p) for p in files.values())
    return f"hatch-datafetch: {len(files)} verified files ({size / 1e6:.1f} MB) for the {purpose}"


def _missing(
    loc: Locator,
    errors: Mapping[str, BaseException],
    offline: Offline | None,
    remedies: Sequence[str],
    purpose: str,
) -> BuildError:
    names = sorted(errors)
    reason = offline.value if offline else "downloads failed"
    what = f" for the {purpose}" if purpose else ""
    lines = [f"{len(names)} data file(s){what} are not available ({reason}):"]
    for name in names:
        urls = loc.urls(name) if name in loc.files else []
        lines.append(f"  {name}  {urls[0] if urls else '(no URL)'}")
        lines += [f"    - {failure}" for failure in getattr(errors[name], "failures", ())]
    hint = "Any one of these fixes it:\n" + "\n".join(
        f"  {i}. {remedy}" for i, remedy in enumerate(remedies, 1)
    )
    return BuildError("\n".join(lines), hint=hint)

"""Build staging: what every front end (Hatch plugin, meson helper, CLI) does with a registry
and its settings at build time.

* :func:`runtime_config` / :func:`render_config` / :func:`runtime_files` /
  :func:`generated_files`: what every wheel gets, the locator package ``<locator>/`` (the
  runtime, byte for byte) and ``<locator>_registry.json``;
* :func:`build_locator`: the runtime engine as the tool uses it (build cache, source dirs);
* :func:`stage_files`: every registry file verified on local disk, for bundling (the
  members of unpacked archives, as ``NAME/member``), or a
  :class:`~hatch_datafetch.errors.BuildError` that lists what is missing and the remedies;
* :func:`offline_reason`: why a build must not download (one :class:`Offline` value).
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from . import __version__
from ._runtime.config import RuntimeConfig
from ._runtime.errors import FetchErrors, HashMismatchError
from ._runtime.lookup import Locator
from ._runtime.progress import human_size
from .errors import BuildError, render
from .frontends import KEEPERS, front_end
from .registry import FileEntry, Registry
from .settings import BuildEnvironment, Settings, default_build_cache, env_overrides

__all__ = [
    "BUNDLE_DIR",
    "DataPart",
    "Offline",
    "base_url_note",
    "build_locator",
    "built_from_sdist",
    "check_no_clashes",
    "data_extras",
    "data_wheel_skipped",
    "editable_files",
    "generated_files",
    "keeps_data_wheel",
    "offline_reason",
    "plan_data_parts",
    "prefetch_for_wheel_step",
    "registry_hash",
    "render_config",
    "resolved_config",
    "runtime_config",
    "runtime_files",
    "sdist_doi_record",
    "sdist_remedies",
    "stage_files",
    "stage_for_build",
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
    common = {
        "generator": f"hatch-datafetch {__version__}",
        "base_url": base_url,
        "mirrors": mirrors,
        "version": registry.version,
        "files": {e.name: _file_config(e) for e in registry},
    }
    if settings is None:
        stem = os.path.splitext(os.path.basename(registry.source or "registry"))[0]
        return _declared(data_name=f"{stem}-data", **common)
    config = _declared(
        **common,
        project=settings.project,
        package=settings.package,
        locator=settings.locator,
        data_name=settings.data_name,
        data_version=settings.data_version,
        data_package=settings.data_package,
        env_var=settings.env_var,
        url_env_var=settings.url_env_var,
        token_env_var=settings.token_env_var,
        system_dirs=list(settings.system_dirs),
        bundled=settings.wheel == "bundle",
        extra=settings.data_extra if settings.data_wheel else None,
        max_size=settings.max_size,
        registry_hash=registry_hash(registry),
    )
    if settings.data_wheel:
        parts = plan_data_parts(registry, settings)
        config["data_parts"] = [p.package for p in parts]
        for i, part in enumerate(parts):
            for name in part.names:
                config["files"][name]["part"] = i
    return config


def base_url_note(registry: Registry, settings: Settings | None) -> str | None:
    """When the registry file and the settings both give a base URL and they differ, the
    settings' one is used (see :func:`runtime_config`): the note that says so, naming both,
    for a build log or a command's stderr; None when there is nothing to say."""
    if settings is None or not settings.base_url or not registry.base_url:
        return None
    if settings.base_url == registry.base_url:
        return None
    where = (registry.source and os.path.basename(registry.source)) or settings.registry
    return (
        f"hatch-datafetch: two base URLs: pyproject.toml sets base-url = {settings.base_url} and "
        f"{where} has base-url = {registry.base_url}; using the one of pyproject.toml "
        f"(remove the other to make this note go away)"
    )


def _declared(**values: Any) -> dict[str, Any]:
    """The runtime JSON through its one declaration (every key known, format stamped)."""
    return RuntimeConfig(**values).to_json()


def registry_hash(registry: Registry) -> str:
    """sha256 of what data wheels ship (NAMEs, or NAME/member of archives, and their
    hashes): what a data wheel was built from."""
    text = "".join(f"{n}\t{h}\n" for n, h in registry.shipped().items())
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- data wheel parts


@dataclass(frozen=True)
class DataPart:
    """One companion data wheel: its distribution and import package, the group it serves
    (None: the names in no group), and its NAMEs."""

    dist: str
    package: str
    group: str | None
    names: tuple[str, ...]


def _glob(pattern: str) -> re.Pattern[str]:
    """A glob over NAMEs: ``*`` and ``?`` within one path segment, ``**`` any depth."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _groups_of(registry: Registry, settings: Settings) -> dict[str | None, list[str]]:
    """NAMEs by group (None: in no group); a NAME in two groups, or a pattern that matches
    nothing (a typo, most likely), is an error."""
    patterns = {g: [(p, _glob(p)) for p in ps] for g, ps in sorted(settings.groups.items())}
    by_group: dict[str | None, list[str]] = {None: []}
    used: set[tuple[str, str]] = set()
    for entry in registry:
        found = []
        for group, globs in patterns.items():
            hits = [p for p, rx in globs if rx.fullmatch(entry.name)]
            used.update((group, p) for p in hits)
            if hits:
                found.append(group)
        if len(found) > 1:
            raise BuildError(
                f"{entry.name!r} is in more than one group: {', '.join(found)}",
                hint="make the groups' patterns disjoint: every name is in at most one group",
            )
        by_group.setdefault(found[0] if found else None, []).append(entry.name)
    unused = [
        f"{g}: {p!r}" for g, globs in patterns.items() for p, _ in globs if (g, p) not in used
    ]
    if unused:
        raise BuildError(
            f"group patterns that match no registry name: {', '.join(unused)}",
            hint='check them: "*" stays within one directory, "**" matches any depth',
        )
    return by_group


_WHEEL_OVERHEAD = 16 << 10  # METADATA, WHEEL, RECORD head, __init__.py, manifest head


def _cost(name: str, size: int) -> int:
    """An upper bound of what NAME adds to a data wheel: its bytes (stored when deflating
    does not pay) and its zip headers, RECORD row and manifest entry."""
    return size + 400 + 4 * len(name.encode())


def plan_data_parts(registry: Registry, settings: Settings) -> list[DataPart]:
    """The companion wheels: one for the names in no group, one per group, and each split
    into numbered parts (``<name>-1``, ``<name>-2``, ...) when it would pass
    ``data-wheel-max-size``. Deterministic: names in sorted order, filled in turn. Sizes
    come from the registry (a name without a size counts as fitting; the built wheel is
    checked). A single file above the limit is an error."""
    limit = settings.data_wheel_max_size
    parts = []
    for group, names in _groups_of(registry, settings).items():
        if group is None and not names:
            continue
        dist = settings.data_name if group is None else f"{settings.data_name}-{group}"
        package = settings.data_package
        if group is not None:
            package += "_" + group.replace("-", "_")
        chunks: list[list[str]] = [[]]
        used = _WHEEL_OVERHEAD
        for name in sorted(names):
            cost = _cost(name, registry[name].size or 0)
            if cost + _WHEEL_OVERHEAD > limit:
                raise BuildError(
                    f"{name!r} ({registry[name].size:,} bytes) is larger than "
                    f"data-wheel-max-size ({limit:,} bytes), and a file is never split",
                    hint="raise data-wheel-max-size (PyPI raises its per-file limit on "
                    "request), or leave the file out of the data wheels and let the locator "
                    "download it (host it elsewhere)",
                )
            if chunks[-1] and used + cost > limit:
                chunks.append([])
                used = _WHEEL_OVERHEAD
            chunks[-1].append(name)
            used += cost
        for i, chunk in enumerate(chunks, 1):
            suffix = (f"-{i}", f"_{i}") if len(chunks) > 1 else ("", "")
            parts.append(DataPart(dist + suffix[0], package + suffix[1], group, tuple(chunk)))
    return parts


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


def runtime_files() -> dict[str, bytes]:
    """The locator package, byte for byte as it is copied into wheels: module file name
    (``__init__.py``, ...) -> content, sorted. Nothing else of the tool is in it."""
    root = files("hatch_datafetch").joinpath("_runtime")
    out = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".py") and entry.is_file():
            out[entry.name] = entry.read_bytes()
    return out


def generated_files(config: Mapping[str, Any], locator: str) -> dict[str, bytes]:
    """What every wheel gets, by path relative to the package: ``<locator>/<module>.py``
    for each runtime module and ``<locator>_registry.json``."""
    out = {f"{locator}/{name}": data for name, data in runtime_files().items()}
    out[f"{locator}_registry.json"] = render_config(config)
    return dict(sorted(out.items()))


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
    names: Iterable[str] | None = None,
) -> dict[str, str]:
    """Verified local paths of every registry file, for bundling (nothing is copied).

    Sources in order: ``extra_sources`` (e.g. an unpacked sdist's bundle), the
    ``HATCH_DATAFETCH_SOURCE`` dirs, the build cache, then the network unless ``offline``
    (or ``env.offline``). A copy whose hash does not match stops the build. Missing files
    raise :class:`BuildError` listing them, their URLs, the download errors and the
    remedies: the third says how to allow downloads (``network_remedies`` by reason), then
    ``more_remedies``; ``purpose`` (e.g. "data wheel") says what they are for. Only
    ``names``, when given. Returns shipped path -> verified path, sorted: NAME for a file
    (and for an archive whose members the registry does not list), ``NAME/member`` for
    each member of an archive it lists -- bundles and data wheels carry the verified
    members, not the archive.
    """
    if offline is None and env.offline:
        offline = Offline.SWITCH
    loc = build_locator(
        config, env, extra_sources=extra_sources, offline=offline is not None, strict=True
    )
    try:
        paths = loc.fetch_all(None, jobs, names)
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
    ships itself: its files in ``package_dirs`` or the generated locator package and JSON."""
    generated = {settings.locator, f"{settings.locator}.py", f"{settings.locator}_registry.json"}
    clashes = [
        n
        for n in names
        if n in generated
        or n.startswith(f"{settings.locator}/")
        or any((d / n).exists() for d in package_dirs)
    ]
    if clashes:
        raise BuildError(
            f"{len(clashes)} registry name(s) collide with files the package already ships "
            f"({settings.package}): {', '.join(clashes[:5])}",
            hint="rename the files or the registry entries (NAME is the path inside the "
            "package), or remove the copies from the source tree",
        )


def staged_summary(files: Mapping[str, str], purpose: str) -> str:
    """``hatch-datafetch: N verified files (170 kB) for the PURPOSE``, for build logs."""
    size = human_size(sum(os.path.getsize(p) for p in files.values()))
    noun = "file" if len(files) == 1 else "files"
    return f"hatch-datafetch: {len(files)} verified {noun} ({size}) for the {purpose}"


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


def data_extras(registry: Registry, settings: Settings) -> dict[str, list[str]]:
    """The extras that bring in the data wheels: ``<data-extra>`` pins every part, and
    ``<data-extra>-<group>`` the parts of each group."""
    parts = plan_data_parts(registry, settings)
    extras = {settings.data_extra: [f"{p.dist}=={settings.data_version}" for p in parts]}
    for group in sorted({p.group for p in parts if p.group}):
        pins = [f"{p.dist}=={settings.data_version}" for p in parts if p.group == group]
        extras[f"{settings.data_extra}-{group}"] = pins
    return extras


# --------------------------------------------------------------------------- shared build steps


def _editable_shim(module: str, shim: str, directory: str) -> str:
    """A finder that serves the package ``module`` from ``<site-packages>/<directory>/``.

    In an editable install the package is imported from the source tree, which we never
    write to, so the generated locator lives in site-packages and this finder (registered
    by a ``.pth`` file) answers for exactly that package (its modules are then found in
    its own directory, as for any package).
    """
    leaf = module.rpartition(".")[2]
    return (
        f'"""Editable-install shim by hatch-datafetch: serves {module} from site-packages."""\n'
        "import os\n"
        "import sys\n"
        "\n"
        f"_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), {directory!r}, "
        f"{leaf!r})\n"
        "\n"
        "\n"
        "class _Finder:\n"
        "    @staticmethod\n"
        "    def find_spec(fullname, path=None, target=None):\n"
        f"        if fullname != {module!r}:\n"
        "            return None\n"
        "        import importlib.util\n"
        "\n"
        "        init = os.path.join(_DIR, '__init__.py')\n"
        "        return importlib.util.spec_from_file_location(\n"
        "            fullname, init, submodule_search_locations=[_DIR]\n"
        "        )\n"
        "\n"
        "\n"
        f"if not any(getattr(f, '__module__', '') == {shim!r} for f in sys.meta_path):\n"
        "    sys.meta_path.append(_Finder)\n"
    )


def editable_files(settings: Settings, generated: Mapping[str, bytes]) -> dict[str, bytes]:
    """What an editable wheel gets, by path in the wheel: the generated locator files in
    ``_hatch_datafetch_<package>/`` at the top of site-packages, a finder module that serves
    ``<package>.<locator>`` from there, and the ``.pth`` file that registers it. Whatever
    puts the package itself on the path (a path ``.pth``, an import hook), the locator is
    found: the package's own directory does not have it, so the finder is asked."""
    ident = settings.package.replace(".", "_")
    shim = directory = f"_hatch_datafetch_{ident}"
    out = {f"{directory}/{fname}": data for fname, data in sorted(generated.items())}
    module = f"{settings.package}.{settings.locator}"
    out[f"{shim}.py"] = _editable_shim(module, shim, directory).encode()
    out[f"{shim}.pth"] = f"import {shim}\n".encode()
    return out


def sdist_remedies(purpose: str) -> tuple[dict[Offline | None, str], list[str]]:
    """How to get the files for the ``purpose`` of a wheel built from an sdist that holds
    none (``sdist = "omit"``): the network remedies and the further ones, for
    :func:`stage_files`."""
    network = {
        **NETWORK_REMEDIES,
        Offline.SDIST: "build the wheels from the source tree instead, where they may "
        "download: python -m build --wheel (or uv build --wheel)",
    }
    more = []
    if purpose == "data wheel":
        more.append(
            "or skip the data wheel (data-wheel = true asks for it): HATCH_DATAFETCH_DATA_WHEEL=0"
        )
    elif purpose == "wheel":
        more.append("or keep the files out of the wheel: HATCH_DATAFETCH_WHEEL=omit")
    else:
        more.append(
            "or leave the files out of both: HATCH_DATAFETCH_WHEEL=omit "
            "HATCH_DATAFETCH_DATA_WHEEL=0"
        )
    more.append(
        'or make the sdist carry the files: sdist = "bundle" (or '
        "HATCH_DATAFETCH_SDIST=bundle when building the sdist)"
    )
    return network, more


def stage_for_build(
    config: Mapping[str, Any], settings: Settings, root: str | os.PathLike[str], purpose: str
) -> dict[str, str]:
    """:func:`stage_files` for a build in ``root``: the unpacked sdist's bundle first, never
    the network when ``root`` is an unpacked sdist, and remedies that fit ``purpose``
    (``"sdist"``, ``"wheel"``, ``"data wheel"``, ``"wheel and data wheel"``)."""
    bundle = os.path.join(root, BUNDLE_DIR)
    network: Mapping[Offline | None, str] = NETWORK_REMEDIES
    more: list[str] = []
    if purpose != "sdist" and built_from_sdist(root) and not os.path.isdir(bundle):
        network, more = sdist_remedies(purpose)
    return stage_files(
        config,
        BuildEnvironment.from_env(),
        jobs=settings.jobs,
        extra_sources=[bundle] if os.path.isdir(bundle) else [],
        offline=Offline.SDIST if built_from_sdist(root) else None,
        network_remedies=network,
        more_remedies=more,
        purpose=purpose,
    )


def resolved_config(
    config: Mapping[str, Any], root: str | os.PathLike[str], *, wrap_mode: str | None = None
) -> dict[str, Any]:
    """``config`` with its ``doi:`` URLs resolved (:mod:`.resolved`): from the sdist's
    records, the build cache, else the network unless this build may not use it."""
    from .resolved import resolve_config

    reason = offline_reason(root, BuildEnvironment.from_env(), wrap_mode=wrap_mode)
    return resolve_config(config, root=root, offline=reason.value if reason else None)


def sdist_doi_record(
    config: Mapping[str, Any], root: str | os.PathLike[str]
) -> tuple[bytes | None, str | None]:
    """What an sdist of ``config`` carries as ``_datafetch_dois.json`` (the records of its
    ``doi:`` URLs, so that a wheel built from it, offline, has concrete URLs): its bytes, or
    None (no ``doi:`` URL, or an unpacked sdist that has the file already); and, when the
    records cannot be had (an offline sdist build), the warning to show instead."""
    from .resolved import SDIST_RECORD, sdist_record

    if built_from_sdist(root) and os.path.isfile(os.path.join(root, SDIST_RECORD)):
        return None, None
    reason = offline_reason(root, BuildEnvironment.from_env())
    try:
        return sdist_record(config, root=root, offline=reason.value if reason else None), None
    except BuildError as e:
        return None, (
            "hatch-datafetch: the sdist carries no records of its doi: URLs, so a wheel "
            f"built from it must resolve them:\n{render(e, prefix='')}"
        )


def prefetch_for_wheel_step(
    config: Mapping[str, Any], settings: Settings, purpose: str, root: str | os.PathLike[str]
) -> tuple[str, bool]:
    """``sdist = "omit"`` and the wheel step needs the files (``wheel = "bundle"``, or the
    data wheel): front ends that build the wheel from this sdist, which never downloads,
    find them in the build cache, where this puts them now (not into the sdist). The sdist
    itself needs no data, so a failure is only a warning: the message, and whether it is
    one."""
    try:
        config = resolved_config(config, root)
        files = stage_files(config, BuildEnvironment.from_env(), jobs=settings.jobs)
    except BuildError as e:
        return (
            f"hatch-datafetch: could not put the data into the build cache for the {purpose} "
            f"of this sdist:\n{render(e, prefix='')}",
            True,
        )
    return staged_summary(files, f"{purpose}, in the build cache"), False


def keeps_data_wheel() -> tuple[bool, str]:
    """Will a data wheel written beside the wheel be kept? Only under a front end that
    keeps its whole output directory (:mod:`.frontends`), or when
    HATCH_DATAFETCH_DATA_WHEEL=1 forces it. Also: who runs the build, for messages."""
    who = front_end()
    if env_overrides(os.environ)[0].get("data-wheel") is True:
        return True, who or "this front end"
    return who in KEEPERS, who or "a front end that could not be identified"


def data_wheel_skipped(who: str) -> str:
    """The build log's line when the data wheel is not built under ``who``."""
    return (
        f"hatch-datafetch: not building the data wheel under {who}, which keeps only "
        "the wheel it asked for; python -m build, uv build, pdm build and hatch build "
        "keep it, and hatch-datafetch build-data-wheel builds it for any backend "
        "(HATCH_DATAFETCH_DATA_WHEEL=1 forces it)"
    )

"""The companion data wheels (SPEC §5): one builder for the Hatch hook and the CLI.

:func:`staging.plan_data_parts` says which wheels there are: ``<data-name>`` for the names in
no group, ``<data-name>-<group>`` per group, each split into ``-1``, ``-2``... under
``data-wheel-max-size``. Each is a pure ``py3-none-any`` wheel with one import package
(``<top-level package>_data``, ``..._<group>``, ``..._<n>``) holding its files laid out by
NAME, ``_manifest.json`` (names, hashes, data version, the hash of the registry it was built
from) and ``__init__.py`` with ``__version__``. The locator finds each file in its part
(lookup step 2), checks it against its own registry, and warns once when the installed
part was built from another registry (pip does not upgrade extras on ``-U``).

Bytes are deterministic: sorted entries, fixed timestamps from ``SOURCE_DATE_EPOCH``,
fixed permissions. Files stream through in 1 MiB pieces (constant memory). Formats that
are already compressed are stored; others are deflated only when a sample compresses.
RECORD reuses the registry's verified sha256 instead of hashing again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import __version__
from ._runtime.fs import CHUNK
from ._runtime.layout import manifest_json
from .errors import BuildError
from .registry import Registry
from .settings import Settings
from .staging import DataPart, plan_data_parts, registry_hash

# Extensions whose content is already compressed: deflating them costs time and saves ~0.
STORED_SUFFIXES = frozenset(
    (  # noqa: SIM905
        ".png .jpg .jpeg .gif .webp .avif .heic .jp2 .gz .tgz .bz2 .xz .lzma .zst .zip .npz "
        ".7z .rar .whl .mp3 .mp4 .m4a .ogg .oga .webm .mkv .flac .parquet .pdf .br .lz4 .sz"
    ).split()
)
_SAMPLE = 1 << 16  # bytes of an unknown format compressed to decide
_WORTH_IT = 0.9  # deflate when the sample shrinks below 90 %


def wheel_filename(name: str, version: str) -> str:
    """PEP 427/491 file name: normalised name, ``py3-none-any``."""
    return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-py3-none-any.whl"


def _epoch() -> tuple[int, int, int, int, int, int]:
    stamp = max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)
    return time.gmtime(stamp)[:6]


def choose_compression(path: str) -> int:
    """ZIP_STORED for compressed formats (by suffix, else by compressing a sample)."""
    if Path(path).suffix.lower() in STORED_SUFFIXES:
        return zipfile.ZIP_STORED
    with open(path, "rb") as f:
        sample = f.read(_SAMPLE)
    if len(sample) < 512:
        return zipfile.ZIP_DEFLATED
    ratio = len(zlib.compress(sample, 1)) / len(sample)
    return zipfile.ZIP_DEFLATED if ratio < _WORTH_IT else zipfile.ZIP_STORED


def _record_hash(digest_hex: str) -> str:
    raw = bytes.fromhex(digest_hex)
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class _Writer:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.date = _epoch()
        self.record: list[tuple[str, str, int]] = []

    def _info(self, arcname: str, compress: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(arcname, self.date)
        info.external_attr = 0o644 << 16
        info.compress_type = compress
        info.create_system = 3  # unix, so the permissions above are read back
        return info

    def add_bytes(self, arcname: str, data: bytes) -> None:
        self.zf.writestr(self._info(arcname, zipfile.ZIP_DEFLATED), data)
        self.record.append((arcname, _record_hash(hashlib.sha256(data).hexdigest()), len(data)))

    def add_file(self, arcname: str, path: str, sha256_hex: str | None) -> None:
        size = os.path.getsize(path)
        info = self._info(arcname, choose_compression(path))
        hasher = None if sha256_hex else hashlib.sha256()
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        with (
            open(path, "rb", buffering=0) as src,
            self.zf.open(info, "w", force_zip64=size > 0x7FFFFFFF) as dst,
        ):
            while True:
                n = src.readinto(buf)
                if not n:
                    break
                dst.write(view[:n])
                if hasher is not None:
                    hasher.update(view[:n])
        digest = sha256_hex or (hasher.hexdigest() if hasher else "")
        self.record.append((arcname, _record_hash(digest), size))


def build_data_wheels(
    files: Mapping[str, str],
    settings: Settings,
    registry: Registry,
    out_dir: str | os.PathLike[str],
    groups: Sequence[str] | None = None,
) -> list[Path]:
    """Write every companion wheel (or those of ``groups``; ``""`` is the names in no
    group) for the verified ``files`` (shipped path -> path, see :func:`stage_files`)
    into ``out_dir``; their paths."""
    parts = select_parts(registry, settings, groups)
    digest = registry_hash(registry)
    return [build_data_wheel(files, settings, registry, out_dir, p, digest) for p in parts]


def select_parts(
    registry: Registry, settings: Settings, groups: Sequence[str] | None = None
) -> list[DataPart]:
    """The data wheels of ``groups`` (``""``: the names in no group; None: all of them)."""
    parts = plan_data_parts(registry, settings)
    if groups is None:
        return parts
    known = {p.group or "" for p in parts}
    unknown = sorted(set(groups) - known)
    if unknown:
        raise BuildError(
            f"no data wheel for the group(s) {', '.join(map(repr, unknown))}",
            hint=f"the groups with data wheels: {', '.join(sorted(map(repr, known)))}",
        )
    return [p for p in parts if (p.group or "") in groups]


def build_data_wheel(
    files: Mapping[str, str],
    settings: Settings,
    registry: Registry,
    out_dir: str | os.PathLike[str],
    part: DataPart,
    digest: str,
) -> Path:
    """Write the companion wheel ``part`` from the verified ``files`` into ``out_dir``.

    Its version comes from ``settings`` (``data-version``), the hashes from ``registry``,
    ``digest`` is the registry's hash. The wheel is written to a temp file in ``out_dir``
    and renamed, so a failed build leaves nothing behind; one larger than
    ``data-wheel-max-size`` is removed and is an error.
    """
    name, version, package = part.dist, settings.data_version, part.package
    files = {p: files[p] for n in part.names for p in registry[n].shipped()}
    if not version:
        raise BuildError(
            "the data wheel needs a data version", hint="set `data-version` in the settings"
        )
    pkg_path = package.replace(".", "/")
    reserved = {"__init__.py", "_manifest.json"}
    clash = sorted(n for n in files if n in reserved)
    if clash:
        raise BuildError(
            f"registry names {clash} collide with the data package's own files",
            hint="rename those registry entries",
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / wheel_filename(name, version)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    dist_info = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}.dist-info"
    shipped = registry.shipped()  # NAME, or NAME/member of an unpacked archive
    texts = _texts(part, settings, {n: shipped[n] for n in sorted(files)}, digest)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            w = _Writer(zf)
            w.add_bytes(f"{pkg_path}/__init__.py", texts["__init__.py"])
            w.add_bytes(f"{pkg_path}/_manifest.json", texts["_manifest.json"])
            for n in sorted(files):
                alg, _, hexdigest = shipped[n].partition(":")
                w.add_file(f"{pkg_path}/{n}", files[n], hexdigest if alg == "sha256" else None)
            w.add_bytes(f"{dist_info}/METADATA", texts["METADATA"])
            w.add_bytes(f"{dist_info}/WHEEL", texts["WHEEL"])
            rows = [f"{a},{h},{s}" for a, h, s in w.record] + [f"{dist_info}/RECORD,,"]
            zf.writestr(
                w._info(f"{dist_info}/RECORD", zipfile.ZIP_DEFLATED), "\n".join(rows) + "\n"
            )
        size = tmp.stat().st_size
        if size > settings.data_wheel_max_size:
            raise BuildError(
                f"the data wheel {target.name} would be {size:,} bytes, more than "
                f"data-wheel-max-size ({settings.data_wheel_max_size:,} bytes)",
                hint="give the registry entries their sizes (hatch-datafetch make-registry "
                "writes them), so that the files are split into parts that fit",
            )
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def _how_to_install(part: DataPart, settings: Settings) -> str:
    """The install command of a data wheel's description: the project with its data extra
    (the group's extra for a group's part), or the data wheel itself when the project
    declares no data extra (data-wheel = false, a wheel made by ``build-data-wheel``)."""
    if not settings.data_wheel:
        return f"Install them with `pip install '{part.dist}=={settings.data_version}'`"
    every = f"`pip install '{settings.project}[{settings.data_extra}]'`"
    if part.group is None:
        return f"Install them with the project's data extra: {every}"
    group = f"`pip install '{settings.project}[{settings.data_extra}-{part.group}]'`"
    return f"Install them with the group's extra: {group} ({every} for all the data)"


def _texts(
    part: DataPart, settings: Settings, hashes: Mapping[str, str], digest: str
) -> dict[str, bytes]:
    """The generated files of a data wheel: ``__init__.py``, ``_manifest.json``, METADATA
    and WHEEL."""
    name, version, project = part.dist, settings.data_version, settings.package
    manifest = manifest_json(name, version, hashes, part.group, digest)
    init = (
        f'"""Data files of {project} (data version {version}), generated by '
        f'hatch-datafetch.\n\nFind them with the package\'s own locator, not by path."""\n\n'
        f"__version__ = {version!r}\n"
    )
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        f"Summary: Data files for {project}, generated by hatch-datafetch\n"
        "Description-Content-Type: text/markdown\n"
        "\n"
        f"# {name} {version}\n\n"
        f"The {len(hashes)} data files of `{project}`, installed into the import package "
        f"`{part.package}`. {_how_to_install(part, settings)}; the project's own locator "
        "(`fetch(name)`) finds and hash-checks them, and downloads nothing.\n"
    )
    wheel = (
        "Wheel-Version: 1.0\n"
        f"Generator: hatch-datafetch {__version__}\n"
        "Root-Is-Purelib: true\n"
        "Tag: py3-none-any\n"
    )
    return {
        "__init__.py": init.encode(),
        "_manifest.json": (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode(),
        "METADATA": metadata.encode(),
        "WHEEL": wheel.encode(),
    }

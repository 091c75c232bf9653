"""The readers on the package's data files; expected values come from Pillow and numpy.

Each test names the data it needs (``@pytest.mark.datafetch``) and gets it through the
``datafetch`` fixture of the locator's pytest plugin (conftest.py): skipped with a reason
when a file cannot be had, failed instead with ``--datafetch=require``."""

from __future__ import annotations

import datetime
import hashlib
import math
import os
import subprocess
import sys
import types
import zlib
from pathlib import Path
from typing import Callable

import example_pkg
import pytest
from example_pkg import read_npy, read_png, read_temperatures

Fetch = Callable[[str], Path]
ROOT = Path(__file__).resolve().parent.parent
# the files laid out by name, for a fake locator: the stand-in CDN, or in an unpacked sdist
# (which has no cdn/) the verified copies of its _datafetch_bundle/
CDN = ROOT / "cdn" if (ROOT / "cdn").is_dir() else ROOT / "_datafetch_bundle"
NAMES = sorted(p.relative_to(CDN).as_posix() for p in CDN.rglob("*") if p.is_file())


@pytest.mark.datafetch("images/camera.png")
def test_read_png_grayscale(datafetch: Fetch) -> None:
    image = read_png(datafetch("images/camera.png"))
    assert (image.width, image.height, image.mode) == (512, 512, "grayscale")
    assert [image.pixel(0, 0), image.pixel(100, 200), image.pixel(333, 77)] == [
        (214,),
        (181,),
        (230,),
    ]
    assert image.pixel(511, 511) == (77,)
    assert image.mean() == pytest.approx((150.2237587,))
    digest = "0058d1259f0bd59a946960b4b6d2fe940374b0b0175df220900674675e7e924b"
    assert hashlib.sha256(image.pixels).hexdigest() == digest


@pytest.mark.datafetch("images/coins.png")
def test_read_png_rgb(datafetch: Fetch) -> None:
    image = read_png(datafetch("images/coins.png"))
    assert (image.width, image.height, image.mode) == (384, 256, "RGB")
    assert image.pixel(0, 0) == (29, 67, 40)
    assert image.pixel(100, 200) == (162, 134, 40)
    assert image.pixel(333, 77) == (147, 144, 154)
    assert image.mean() == pytest.approx((58.69563802, 93.74925741, 50.33611043))
    digest = "115bccb693eedb7f2eebdba474050d73a24762fcfbd4568991a5237e666df187"
    assert hashlib.sha256(image.pixels).hexdigest() == digest


@pytest.mark.datafetch("images/camera.png")
def test_sample_pngs_use_every_filter_type(datafetch: Fetch) -> None:
    data = datafetch("images/camera.png").read_bytes()
    raw = zlib.decompress(data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8])
    assert {raw[y * 513] for y in range(512)} == {0, 1, 2, 3, 4}


@pytest.mark.datafetch("images/camera.png")
def test_read_png_rejects_damage(datafetch: Fetch, tmp_path: Path) -> None:
    data = bytearray(datafetch("images/camera.png").read_bytes())
    path = tmp_path / "bad.png"
    path.write_bytes(data[1:])
    with pytest.raises(ValueError, match="not a PNG"):
        read_png(path)
    data[100] ^= 0xFF
    path.write_bytes(data)
    with pytest.raises(ValueError, match="bad CRC in IDAT"):
        read_png(path)


@pytest.mark.datafetch("arrays/gradient.npy")
def test_read_npy(datafetch: Fetch) -> None:
    shape, values = read_npy(datafetch("arrays/gradient.npy"))
    assert shape == (64, 96) and len(values) == 64 * 96
    assert values[:2] == [0.0, 1 / 95]
    assert values[10 * 96 + 48] == 0.46516290726817044
    assert (values[-1], min(values), max(values)) == (0.5, 0.0, 1.0)
    assert math.fsum(values) == 2304.0


@pytest.mark.datafetch("arrays/gradient.npy")
def test_read_npy_rejects_other_dtypes(datafetch: Fetch, tmp_path: Path) -> None:
    data = datafetch("arrays/gradient.npy").read_bytes().replace(b"'<f8'", b"'>f8'")
    (tmp_path / "big.npy").write_bytes(data)
    with pytest.raises(ValueError, match="only C-ordered '<f8'"):
        read_npy(tmp_path / "big.npy")


@pytest.mark.datafetch("tables/temperatures.csv")
def test_read_temperatures(datafetch: Fetch) -> None:
    rows = read_temperatures(datafetch("tables/temperatures.csv"))
    assert len(rows) == 3 * 1095
    assert rows[0] == {
        "date": datetime.date(2021, 1, 1),
        "station": "Ashbury Fell",
        "tmin_c": -8.6,
        "tmax_c": 1.8,
        "precip_mm": 0.0,
    }
    assert {r["station"] for r in rows} == {"Ashbury Fell", "Brightwater", "Cold Harbour"}
    assert max(r["tmax_c"] for r in rows) == 26.4
    assert min(r["tmin_c"] for r in rows) == -15.1


def test_import_does_not_load_the_locator() -> None:
    code = "import sys, example_pkg; print('example_pkg._datafetch' in sys.modules)"
    src = str(Path(example_pkg.__file__).parent.parent)
    env = dict(os.environ, PYTHONPATH=src)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr


def test_loaders_go_through_the_locator(monkeypatch: pytest.MonkeyPatch) -> None:
    fetched: list[str] = []

    def fetch(name: str) -> Path:
        fetched.append(name)
        return CDN / name

    locator = types.ModuleType("example_pkg._datafetch")
    locator.registry = dict.fromkeys(NAMES, "sha256:...")  # type: ignore[attr-defined]
    locator.fetch = fetch  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "example_pkg._datafetch", locator)

    assert (
        example_pkg.data_files()
        == NAMES
        == [
            "arrays/gradient.npy",
            "images/camera.png",
            "images/coins.png",
            "tables/temperatures.csv",
            "text/poem.txt",
        ]
    )
    assert example_pkg.load_camera().pixel(0, 0) == (214,)
    assert example_pkg.load_coins().mode == "RGB"
    assert len(example_pkg.load_temperatures()) == 3285
    assert example_pkg.load_poem().startswith("The Keeper of the Index\n")
    assert example_pkg.load_array()[0] == (64, 96)
    assert fetched == [
        "images/camera.png",
        "images/coins.png",
        "tables/temperatures.csv",
        "text/poem.txt",
        "arrays/gradient.npy",
    ]

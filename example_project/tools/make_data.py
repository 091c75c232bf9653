"""Generate the sample data in ``cdn/`` (stdlib only, deterministic).

    python tools/make_data.py [OUT_DIR]      # default: the cdn/ directory beside tools/

Every file is a pure function of this script: the images and tables are procedural, their
noise comes from seeded ``random.Random`` generators. Two runs give identical bytes (the PNGs
with the same zlib build). After changing anything here, regenerate ``registry.toml`` with
``hatch-datafetch make-registry cdn -o registry.toml --base-url ...`` (see README.md).
"""

from __future__ import annotations

import datetime
import math
import random
import struct
import sys
import zlib
from pathlib import Path

CDN = Path(__file__).resolve().parent.parent / "cdn"


# --------------------------------------------------------------------------- PNG


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _filter(kind: int, row: bytes, prior: bytes, bpp: int) -> bytes:
    """PNG filter ``kind`` (0-4) applied to ``row``; ``prior`` is the unfiltered row above."""
    out = bytearray(len(row))
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prior[i]
        c = prior[i - bpp] if i >= bpp else 0
        if kind == 0:
            pred = 0
        elif kind == 1:
            pred = a
        elif kind == 2:
            pred = b
        elif kind == 3:
            pred = (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
        out[i] = (x - pred) & 0xFF
    return bytes(out)


def png(width: int, height: int, channels: int, pixels: bytes) -> bytes:
    """An 8-bit grayscale (1 channel) or RGB (3) PNG; rows cycle through filters 0-4."""
    stride = width * channels
    prior = bytes(stride)
    raw = bytearray()
    for y in range(height):
        row = pixels[y * stride : (y + 1) * stride]
        raw.append(y % 5)
        raw += _filter(y % 5, row, prior, channels)
        prior = row
    color_type = {1: 0, 3: 2}[channels]
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(bytes(raw), 9)),
            _chunk(b"IEND", b""),
        ]
    )


def _clamp(v: float) -> int:
    return min(255, max(0, round(v)))


def camera_pixels(width: int = 512, height: int = 512) -> bytes:
    """A grayscale landscape: sky gradient, sun with a halo, two hill ranges, film grain."""
    rng = random.Random(1)
    sun_x, sun_y, sun_r = 0.72 * width, 0.24 * height, 0.07 * width
    out = bytearray()
    for y in range(height):
        for x in range(width):
            far = 0.55 * height + 22 * math.sin(x / 41) + 12 * math.sin(x / 13 + 2)
            near = 0.70 * height + 30 * math.sin(x / 67 + 1) + 6 * math.sin(x / 9)
            if y > near:
                v = 70 + 50 * (y - near) / height + 12 * math.sin(x / 5 + y / 7)
            elif y > far:
                v = 120 - 30 * (y - far) / (near - far + 1)
            else:
                d = math.hypot(x - sun_x, y - sun_y)
                v = 235 if d < sun_r else 215 - 90 * y / height + 40 * sun_r / d
            out.append(_clamp(v + 12 * (rng.random() - 0.5)))
    return bytes(out)


def coins_pixels(width: int = 384, height: int = 256) -> bytes:
    """RGB coins (copper, silver, gold discs with a rim, lit from the top left) on felt."""
    rng = random.Random(2)
    metals = [(184, 115, 51), (192, 192, 200), (212, 175, 55)]
    coins = []
    for row in range(2):
        for col in range(5):
            r = 24 + 8 * rng.random()
            cx = (col + 0.5) * width / 5 + 8 * (rng.random() - 0.5)
            cy = (row + 0.5) * height / 2 + 12 * (rng.random() - 0.5)
            coins.append((cx, cy, r, metals[(row + col) % 3]))
    out = bytearray()
    for y in range(height):
        for x in range(width):
            color: tuple[float, ...] = (30, 70 + 30 * y / height, 40)
            for cx, cy, r, metal in coins:
                dx, dy = (x - cx) / r, (y - cy) / r
                d2 = dx * dx + dy * dy
                if d2 < 1:
                    light = 0.75 + 0.35 * (-dx - dy) / 2 - (0.25 if 0.78 < d2 < 0.86 else 0)
                    color = tuple(c * light for c in metal)
                    break
            out += bytes(_clamp(c + 8 * (rng.random() - 0.5)) for c in color)
    return bytes(out)


# --------------------------------------------------------------------------- NPY


def npy(shape: tuple[int, ...], values: list[float]) -> bytes:
    """A version 1.0 ``.npy`` file of little-endian float64, header padded to 64 bytes."""
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    return (
        b"\x93NUMPY\x01\x00"
        + struct.pack("<H", len(header))
        + header.encode("latin-1")
        + (struct.pack(f"<{len(values)}d", *values))
    )


def gradient(rows: int = 64, cols: int = 96) -> list[float]:
    """A smooth 2-D field: a ramp across columns, damped down the rows."""
    return [(j / (cols - 1)) * (1 - i / (2 * (rows - 1))) for i in range(rows) for j in range(cols)]


# --------------------------------------------------------------------------- text


def temperatures_csv() -> str:
    """Three years of daily readings at three (invented) stations."""
    rng = random.Random(3)
    stations = [("Ashbury Fell", 6.0, 9.0), ("Brightwater", 11.0, 7.5), ("Cold Harbour", 3.5, 11.0)]
    lines = ["date,station,tmin_c,tmax_c,precip_mm"]
    day, end = datetime.date(2021, 1, 1), datetime.date(2023, 12, 31)
    while day <= end:
        season = -math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365.25)
        for name, mean, amplitude in stations:
            mid = mean + amplitude * season + 2.5 * (rng.random() - 0.5)
            spread = 3 + 4 * rng.random()
            rain = max(0.0, 18 * rng.random() ** 3 - 2)
            lines.append(
                f"{day.isoformat()},{name},{mid - spread:.1f},{mid + spread:.1f},{rain:.1f}"
            )
        day += datetime.timedelta(days=1)
    return "\n".join(lines) + "\n"


POEM = """\
The Keeper of the Index

I kept a list of every file,
its name, its weight, its sum;
I wrote them down in tidy rows
for readers yet to come.

The files themselves I sent away
to sit on distant shelves,
for lists are light and travel well
and rarely lose themselves.

And when a reader asks of me,
"Where is the coin, the camera, the rain?"
I walk the shelves in order, near to far,
and bring it home again.

I check each one against its sum
before I hand it through:
a page that has been changed in transit
is never given you.

So if you find me offline, friend,
with nothing on the shelf,
just set the path, or fetch the lot,
or bring the box yourself.
"""


def main(out: Path) -> None:
    files = {
        "images/camera.png": png(512, 512, 1, camera_pixels()),
        "images/coins.png": png(384, 256, 3, coins_pixels()),
        "arrays/gradient.npy": npy((64, 96), gradient()),
        "tables/temperatures.csv": temperatures_csv().encode(),
        "text/poem.txt": POEM.encode(),
    }
    for name, data in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{len(data):>8}  {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CDN)

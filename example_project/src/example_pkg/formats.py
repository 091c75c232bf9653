"""Readers for the sample data formats, stdlib only; each takes a path."""

from __future__ import annotations

import ast
import csv
import datetime
import math
import os
import struct
import sys
import zlib
from array import array
from dataclasses import dataclass
from typing import TypedDict

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3}  # PNG colour type -> samples per pixel (grayscale, RGB)


@dataclass(frozen=True)
class Image:
    """An 8-bit image; ``pixels`` holds rows top to bottom, ``channels`` samples per pixel."""

    width: int
    height: int
    channels: int
    pixels: bytes

    @property
    def mode(self) -> str:
        return "grayscale" if self.channels == 1 else "RGB"

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        i = (y * self.width + x) * self.channels
        return tuple(self.pixels[i : i + self.channels])

    def mean(self) -> tuple[float, ...]:
        """Mean of each channel."""
        n = self.width * self.height
        return tuple(sum(self.pixels[c :: self.channels]) / n for c in range(self.channels))


def read_png(path: str | os.PathLike[str]) -> Image:
    """Decode an 8-bit grayscale or RGB, non-interlaced PNG (all five row filters)."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError(f"{os.fspath(path)}: not a PNG file")
    pos, idat, header = len(PNG_SIGNATURE), bytearray(), b""
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"{os.fspath(path)}: bad CRC in {kind.decode('latin-1')} chunk")
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or color not in _CHANNELS or interlace:
        raise ValueError(
            f"{os.fspath(path)}: unsupported PNG (bit depth {depth}, colour type {color}, "
            f"interlace {interlace}); this reader handles 8-bit grayscale and RGB"
        )
    channels = _CHANNELS[color]
    return Image(width, height, channels, _unfilter(zlib.decompress(idat), width, height, channels))


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> bytes:
    stride = width * bpp
    out = bytearray(height * stride)
    prior = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                row[i] = (row[i] + row[i - bpp]) & 0xFF
        elif kind == 2:
            for i in range(stride):
                row[i] = (row[i] + prior[i]) & 0xFF
        elif kind == 3:
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + (left + prior[i]) // 2) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = row[i - bpp] if i >= bpp else 0
                b = prior[i]
                c = prior[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        elif kind != 0:
            raise ValueError(f"bad PNG filter type {kind} in row {y}")
        out[y * stride : (y + 1) * stride] = prior = row
    return bytes(out)


def read_npy(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], list[float]]:
    """Read a C-ordered little-endian float64 ``.npy`` file: (shape, values in row order)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{os.fspath(path)}: not a .npy file")
    major = data[6]
    fmt = "<H" if major == 1 else "<I"
    (hlen,) = struct.unpack_from(fmt, data, 8)
    start = 8 + struct.calcsize(fmt)
    header = ast.literal_eval(data[start : start + hlen].decode("latin-1"))
    if header["descr"] != "<f8" or header["fortran_order"]:
        raise ValueError(f"{os.fspath(path)}: only C-ordered '<f8' arrays are supported")
    values = array("d", data[start + hlen :])
    if sys.byteorder == "big":
        values.byteswap()
    shape = tuple(header["shape"])
    if len(values) != math.prod(shape):
        raise ValueError(f"{os.fspath(path)}: {len(values)} values for shape {shape}")
    return shape, values.tolist()


class Reading(TypedDict):
    date: datetime.date
    station: str
    tmin_c: float
    tmax_c: float
    precip_mm: float


def read_temperatures(path: str | os.PathLike[str]) -> list[Reading]:
    """Daily station readings from a CSV with a ``date,station,tmin_c,tmax_c,precip_mm`` header."""
    with open(path, newline="", encoding="utf-8") as f:
        return [
            Reading(
                date=datetime.date.fromisoformat(row["date"]),
                station=row["station"],
                tmin_c=float(row["tmin_c"]),
                tmax_c=float(row["tmax_c"]),
                precip_mm=float(row["precip_mm"]),
            )
            for row in csv.DictReader(f)
        ]

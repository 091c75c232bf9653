"""``python -m example_setuptools``: where each data file is found."""

from __future__ import annotations

from ._datafetch import fetch, where


def origin(name: str) -> str:
    for candidate in where(name):
        if candidate.status.startswith("ok: fetch() returns this"):
            return candidate.source
    return "nowhere"


def main() -> None:
    from . import data_files

    for name in data_files():
        fetch(name)
        print(f"{name:28}  from  {origin(name)}")


if __name__ == "__main__":
    main()

"""``python -m example_meson_pkg``: where each data file is found, and its size."""

from __future__ import annotations

import sys

from . import count_lines, data_files, fetch
from ._datafetch import DataNotFoundError, HashMismatchError, where


def main() -> int:
    failed = 0
    for name in data_files():
        source = next((c.source for c in where(name) if c.status.startswith("ok: fetch")), "")
        try:
            path = fetch(name)
        except (DataNotFoundError, HashMismatchError) as e:
            print(f"{name}\n  error {str(e).splitlines()[0]}")
            failed += 1
            continue
        data = path.read_bytes()
        print(f"{name}\n  from  {source or 'download'}\n  size  {len(data)} bytes")
        if name.endswith((".txt", ".csv")):
            print(f"  lines {count_lines(data)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""What is where: ``verify`` (every file re-hashed where the lookup chain, or a directory,
has it) and ``where`` (every place a file is looked for, in order, and what is there)."""

from __future__ import annotations

from .fs import safe_join
from .memo import check
from .sources import Candidate

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .lookup import Locator


class VerifyReport:
    """Result of `verify`: names that are ok, missing, or bad (name, path, actual hash)."""

    def __init__(self) -> None:
        self.ok: list[str] = []
        self.missing: list[str] = []
        self.bad: list[tuple[str, str, str]] = []

    def __bool__(self) -> bool:
        return not (self.missing or self.bad)

    def __repr__(self) -> str:
        return f"VerifyReport(ok={len(self.ok)}, missing={self.missing!r}, bad={self.bad!r})"

    def add(self, name: str, status: str, path: str | None, actual: str) -> None:
        if status == "ok":
            self.ok.append(name)
        elif status == "missing":
            self.missing.append(name)
        else:
            self.bad.append((name, path or "", actual))


def verify(loc: Locator, root: str | None, jobs: int) -> VerifyReport:
    """Re-hash every file in ``root`` (laid out by NAME), or its first local copy along the
    lookup chain; archives member by member (:meth:`.unpacked.Archives.verify_rows`)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(name: str) -> list[tuple[str, str, str | None, str]]:
        if loc.files[name].get("unpack"):
            loc.require_known(name)
            return loc.archives.verify_rows(name, root)
        expected = loc.expected_hash(name)
        if root is not None:
            paths = [safe_join(root, name)]
        else:
            paths = [p for _, p in loc._local_candidates(name)] + [loc._cache_path(name)]
        bad: tuple[str, str] | None = None
        for path in paths:
            found = check(path, expected, loc._memo, rehash=True)
            if found.ok:
                return [(name, "ok", None, "")]
            if found.state == "bad" and bad is None:
                bad = (path, found.error or found.actual)
        return [(name, "bad", bad[0], bad[1]) if bad else (name, "missing", None, "")]

    report = VerifyReport()
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for rows in pool.map(one, sorted(loc.files)):
                for row in rows:
                    report.add(*row)
    finally:
        loc._memo.flush()
    return report


def where(loc: Locator, name: str) -> list[Candidate]:
    """Every place NAME is looked for, in order, with what was found there."""
    from .advice import url_status

    loc.require_known(name)
    archive, member = loc.entries.member_of.get(name, (name, None))
    out = [c for s in loc.chain for c in [s.skipped(archive)] if c is not None]
    found = False
    if loc.files[archive].get("unpack"):
        out += loc.archives.where(archive, member)
        found = any(c.status.startswith("ok") for c in out)
        name, places = archive, []  # then the archive's URLs
    else:
        places = [*loc._local_candidates(name, every=True)]
        places.append(("user cache", loc._cache_path(name)))
    for label, path in places:
        status = check(path, loc.expected_hash(name), loc._memo).status()
        if status == "ok":
            status = "ok (shadowed)" if found else "ok: fetch() returns this"
            found = True
        out.append(Candidate(label, path, status))
    urls = loc.urls(name)
    for url in urls:
        status = "not needed" if found else url_status(url, loc.offline)
        out.append(Candidate("download", url, status))
    if not urls:
        out.append(Candidate("download", "", "no URL configured"))
    loc._memo.flush()
    return out

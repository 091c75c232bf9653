"""Archives as a layer on top of the single-file chain (as pooch's processors run after a
fetch): an entry with ``unpack`` is served as the directory of its verified members.

With ``members`` in the registry, a local source (package bundle, data wheel, env-var and
system dirs) holds the members laid out under NAME/ and counts when every member verifies;
the user cache holds ``<hash dir>/<basename>.d/``, extracted from the verified archive into
a temp dir, every member verified, then renamed into place, after which the archive is
deleted (the tree is a valid copy on its own). Without ``members``, sources hold the archive
itself; the cache keeps it, and trusts the tree beside it only while the archive verifies,
checking the tree against the hashes taken while unpacking (its member record).
"""

from __future__ import annotations

import os

from . import advice
from .archives import single_member, unpack_archive
from .chain import STALE
from .errors import (
    STRICT_HINT,
    Cancelled,
    DataNotFoundError,
    DiskFull,
    HashMismatchError,
    NoSpaceError,
    StopFile,
    Stuck,
    UnknownFileError,
    Unsafe,
    warn,
)
from .fs import (
    ensure_dirs,
    is_real_dir,
    make_dir,
    remove_tree,
    safe_join,
    token_pattern,
    unique_name,
    unlink,
)
from .getfile import download, fetch_file
from .layout import lock_path, members_json, members_record, read_json, write_json
from .locks import ACTIVE_PARTS, FileLock, owner_gone
from .memo import Candidate, check

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from .chain import Chain
    from .progress import Progress


class _Trees:
    """Checking member trees: complete, verified, trusted; what ``where`` and ``verify``
    say of them."""

    def __init__(self, loc: Chain) -> None:
        self.loc = loc
        self.entries = loc.entries

    def verify_rows(self, name: str, root: str | None) -> list[tuple[str, str, str | None, str]]:
        """`verify` rows of the archive NAME: the first place whose tree (or archive) is
        all ok, else the first place found, member by member; else NAME missing."""
        expected, members = self.loc._expected(name), self.entries.members[name]
        tree = self.loc._tree_path(name)
        if root is not None:
            places = [safe_join(root, name)]
        else:
            places = [p for _, p in self.loc._local_candidates(name)] + [
                tree,
                self.loc._cache_path(name),
            ]
        first: list[tuple[str, str, str | None, str]] | None = None
        for path in places:
            if not os.path.lexists(path):
                continue
            if os.path.isdir(path) and (members is not None or path == tree):
                listed = members
                if listed is None and self.loc._is_valid_copy(name, self.loc._cache_path(name)):
                    listed = self.read_record(name)
                if listed is None:
                    continue  # without its archive, such a tree is not trusted
                rows = [
                    rehash_row(f"{name}/{m}", safe_join(path, m), h, self.loc)
                    for m, h in sorted(listed.items())
                ]
            else:
                rows = [rehash_row(name, path, expected, self.loc)]
            if all(row[1] == "ok" for row in rows):
                return rows
            first = first or rows
        return first or [(name, "missing", None, "")]

    def where(self, name: str, member: str | None) -> list[Candidate]:
        """`where` of the archive NAME (or its ``member``): each local source's tree or
        archive, the cache's tree, then the cache's archive."""
        expected = self.loc._expected(name)
        tree = self.loc._tree_path(name)
        places: list[Candidate | tuple[str, str, bool]] = [
            place if isinstance(place, Candidate) else (*place, False)
            for place in self.loc._sources_in_order(name)
        ]
        places += [
            ("user cache", tree, True),
            ("user cache (archive)", self.loc._cache_path(name), False),
        ]
        out: list[Candidate] = []
        found = False
        for place in places:
            if isinstance(place, Candidate):  # a source with nothing to look at
                out.append(place)
                continue
            label, path, cached_tree = place
            if os.path.isdir(path):
                status = self._tree_status(name, member, path, cached_tree)
                shown = path if member is None else safe_join(path, member)
            else:
                status = (
                    "missing" if cached_tree else check(path, expected, self.loc._memo).status()
                )
                shown = path
                if status == "ok":
                    status = "ok (the archive)"
            if status.startswith("ok"):
                if found:
                    status = "ok (shadowed)"
                elif status == "ok":
                    status = "ok: fetch() returns this"
                else:
                    status = "ok: fetch() unpacks this archive into the user cache"
                found = True
            out.append(Candidate(label, shown, status))
        return out

    def _tree_status(self, name: str, member: str | None, root: str, cached: bool) -> str:
        """What `where` says of a tree of the archive NAME at ``root``."""
        listed = self.entries.members[name]
        if listed is None:
            if not cached:
                return (
                    "bad: a directory, but the registry lists no members (only the archive counts)"
                )
            if not self.loc._is_valid_copy(name, self.loc._cache_path(name)):
                return "not trusted: its archive is gone or bad (the registry lists no members)"
            listed = self.read_record(name)
            if listed is None:
                return "not trusted: the list of what was unpacked is gone"
        if member is not None:
            if member not in listed:
                return "missing"
            return check(safe_join(root, member), listed[member], self.loc._memo).status()
        report = self.tree_report(root, listed)
        bad = [m for m, (state, _) in report.items() if state not in ("ok", "missing")]
        if bad:
            return f"bad: member {bad[0]}: {report[bad[0]][0]}"
        missing = [m for m, (state, _) in report.items() if state == "missing"]
        if missing:
            shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
            return f"incomplete: {len(missing)} of {len(listed)} members missing ({shown})"
        return "ok"

    def _state(self, path: str, expected: str) -> tuple[str, str]:
        """``("ok", hash)``, ``("missing", "")`` or ``(problem, actual hash or "")`` of one
        file (``path`` absolute; the memo spares re-hashing an unchanged one)."""
        found = check(path, expected, self.loc._memo, absolute=True)
        if found.state != "bad":
            return found.state, found.actual
        if found.error is not None:
            return found.error, found.actual
        return f"hash {found.actual}, expected {expected}", found.actual

    def tree_report(self, root: str, members: Mapping[str, str]) -> dict[str, tuple[str, str]]:
        """member -> :meth:`_state` for each member under ``root``; stops at the first
        problem that is not a missing file, as a tree with one bad member is bad."""
        out = {}
        base = os.path.join(os.path.abspath(root), "")
        for member in sorted(members):  # (validated names: base + member is normalised)
            path = base + (member if os.sep == "/" else member.replace("/", os.sep))
            state = self._state(path, members[member])
            out[member] = state
            if state[0] not in ("ok", "missing"):
                break
        return out

    def tree_ok(
        self,
        name: str,
        root: str,
        members: Mapping[str, str],
        label: str | None,
        warn_missing: bool = True,
    ) -> bool:
        """Does ``root`` hold every member, verified? A tree that exists but has a bad
        member (or is incomplete, if ``warn_missing``) warns at a ``label``ed source (a bad
        member raises when strict)."""
        report = self.tree_report(root, members)
        if all(state == "ok" for state, _ in report.values()):
            return True
        bad = [m for m, (state, _) in report.items() if state not in ("ok", "missing")]
        if label is None or not (bad or warn_missing) or label.endswith(STALE):
            return False
        if bad:
            full = f"{name}/{bad[0]}"
            state, actual = report[bad[0]]
            path = os.path.join(root, *bad[0].split("/"))
            if self.loc.strict:
                raise HashMismatchError(
                    full, members[bad[0]], actual, f"{label} {path}", STRICT_HINT
                )
            problem = f"member {bad[0]!r}: {state}"
        else:
            missing = [m for m, (state, _) in report.items() if state == "missing"]
            shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
            problem = f"{len(missing)} of {len(members)} members missing ({shown})"
        warn(f"skipping {root} ({label}): {problem}")
        return False

    def cache_tree_ok(self, name: str, tree: str, label: str | None = "user cache") -> bool:
        """Is the cache's tree of NAME complete and verified? Without listed members, only
        while the archive beside it verifies, against the hashes taken when unpacking. A
        bad member warns (with a ``label``), a missing one does not."""
        if not is_real_dir(tree):
            return False
        members = self.entries.members[name]
        if members is None:
            if not self.loc._is_valid_copy(name, self.loc._cache_path(name)):
                return False
            listed = self.read_record(name)
            if listed is None:
                return False
            members = listed
        return self.tree_ok(name, tree, members, label, warn_missing=False)

    def read_record(self, name: str) -> dict[str, str] | None:
        """The members an archive without listed members unpacked to (validated), or None."""
        members = members_record(read_json(self._record_path(name)), self.loc._expected(name))
        if members is not None:
            self.entries.listed[name] = members
        return members

    def _record_path(self, name: str) -> str:
        return self.loc.layout.members_record(self.loc._expected(name), name)

    def _write_record(self, name: str, members: Mapping[str, str]) -> None:
        write_json(self._record_path(name), members_json(self.loc._expected(name), members))
        self.entries.listed[name] = dict(members)


class Archives(_Trees):
    """Serving archives unpacked: a member, the tree, unpacking into the cache."""

    def member_paths(self, name: str) -> dict[str, Path]:
        from pathlib import Path

        tree = self.unpacked(name, None, 4)
        listed = self.entries.members[name]
        if listed is None:
            listed = self.entries.listed[name]
        return {m: Path(safe_join(tree, m)) for m in sorted(listed)}

    def fetch(
        self,
        name: str,
        member: str | None,
        dest: str | None,
        progress: Progress | None,
        segments: int,
    ) -> str:
        """The tree of the archive NAME (or one ``member`` of it), verified."""
        if dest is not None:
            return self._unpacked_into(name, member, dest, progress, segments)
        if member is not None and self.entries.members[name] is not None:
            found = self._find_member(name, member)
            if found is not None:
                return found
        return self._result(name, member, self.unpacked(name, progress, segments))

    def _result(self, name: str, member: str | None, tree: str) -> str:
        """What `fetch` returns for the archive NAME (or its ``member``) unpacked at ``tree``:
        the directory, or the one file of a single-file kind."""
        if member is None:
            stem = single_member(name, self.loc.files[name]["unpack"])
            return os.path.join(tree, stem) if stem else tree
        if self.entries.members[name] is None and member not in self.entries.listed.get(name, {}):
            raise UnknownFileError(
                f"{name + '/' + member!r} is not in the {self.loc.data_name} registry: the archive "
                f"{name!r} has no member {member!r}",
                f"{name}/{member}",
            )
        return safe_join(tree, member)

    def _find_member(self, name: str, member: str) -> str | None:
        """One listed member, valid in a local tree or the cache tree (only that member is
        checked: a tree missing other members still serves this one)."""
        full = f"{name}/{member}"
        for label, path in self.loc._local_candidates(name):
            if os.path.isdir(path) and self.loc._is_valid_copy(
                full, safe_join(path, member), label
            ):
                return safe_join(path, member)
        tree = self.loc._tree_path(name)
        if is_real_dir(tree) and self.loc._is_valid_copy(full, safe_join(tree, member)):
            return safe_join(tree, member)
        return None

    def unpacked(self, name: str, progress: Progress | None, segments: int) -> str:
        """A verified tree of the archive NAME: a local source's tree, else the cache's,
        else unpacked into the cache from a local or cached archive, or a download."""
        members = self.entries.members[name]
        for label, path in self.loc._local_candidates(name):
            if members is not None and os.path.isdir(path):
                if self.tree_ok(name, path, members, label):
                    return path
            elif self.loc._is_valid_copy(name, path, label):  # the archive itself
                return self._extract_cached(name, path, progress, segments)
        tree = self.loc._tree_path(name)
        if self.cache_tree_ok(name, tree):
            return tree
        return self._extract_cached(name, None, progress, segments)

    def _unpacked_into(
        self,
        name: str,
        member: str | None,
        dest: str,
        progress: Progress | None,
        segments: int,
    ) -> str:
        """``fetch_all(dest)`` of an archive: its listed members verified into dest/NAME/
        (the layout local sources have); an archive whose members the registry does not
        list goes to dest/NAME as it is."""
        members = self.entries.members[name]
        if members is None:
            if member is not None:
                raise UnknownFileError(
                    f"the registry lists no members of {name!r}, so {name}/{member} cannot be "
                    f"laid out on its own; fetch {name!r} (the archive) instead",
                    f"{name}/{member}",
                )
            return str(fetch_file(self.loc, name, dest, progress, segments))
        root = safe_join(dest, name)
        todo = [member] if member is not None else sorted(members)
        tree: str | None = None
        for m in todo:
            full, target = f"{name}/{m}", safe_join(root, m)
            if self.loc._is_valid_copy(full, target):
                continue
            if tree is None:
                tree = self.unpacked(name, progress, segments)
            source = os.path.abspath(safe_join(tree, m))
            from pathlib import Path

            download(self.loc, full, target, dest, [Path(source).as_uri()], progress, segments)
        return self._result(name, member, root)

    def _extract_cached(
        self, name: str, archive: str | None, progress: Progress | None, segments: int
    ) -> str:
        """Unpack the archive NAME into the cache's tree, under a lock, from ``archive`` (a
        verified local copy) or the cache's copy, downloaded if needed. With listed members
        the cache's archive is then deleted."""
        tree = self.loc._tree_path(name)

        def finished() -> bool:  # another thread or process unpacked it meanwhile
            return self.cache_tree_ok(name, tree, None)

        for _attempt in range(3):
            source = archive
            if source is None:
                fetched = fetch_file(self.loc, name, None, progress, segments, False, finished)
                source = str(fetched)
            directory = os.path.dirname(tree)
            try:
                self.loc.layout.tag()
                ensure_dirs(self.loc.cache_root, directory)
                lock = FileLock(
                    lock_path(tree),
                    stale=2 * self.loc.timeout + 5,
                    what=f"the unpacking of {name}",
                    cancelled=self.loc.cancel.wait,
                )
                with lock:
                    if self.cache_tree_ok(name, tree, None):  # (it warned already)
                        self._drop_archive(name)
                        return tree
                    if not self.loc._is_valid_copy(name, source):
                        continue  # another process unpacked it and deleted the archive
                    self._extract(name, source, tree, lock.heartbeat)
                    self._drop_archive(name)
                    return tree
            except DiskFull as e:
                raise NoSpaceError(f"cannot unpack {name!r}: {e}", name) from None
            except Cancelled:
                raise KeyboardInterrupt from None
            except (Stuck, StopFile, Unsafe, OSError) as e:
                why = f"cannot unpack it into {directory}: {getattr(e, 'strerror', None) or e}"
                raise DataNotFoundError(
                    advice.not_found(self.loc.config, name, why, False), name
                ) from None
        raise DataNotFoundError(
            advice.not_found(
                self.loc.config, name, "its archive kept disappearing while unpacking", False
            ),
            name,
        )

    def _drop_archive(self, name: str) -> None:
        """With its members listed, a verified tree is the cache's copy of the archive: the
        cache's archive goes (called under the tree's lock; another thread may have fetched
        it again meanwhile)."""
        if self.entries.members[name] is not None:
            unlink(self.loc._cache_path(name))

    def _extract(self, name: str, source: str, tree: str, tick: Callable[[], None]) -> None:
        """Unpack into a temp dir beside ``tree``, verify, then rename it into place."""
        kind = self.loc.files[name]["unpack"]
        members = self.entries.members[name]

        def progress() -> None:  # Ctrl-C stops it; lock waiters see it alive
            self.loc.cancel.check()
            tick()

        self._clear_leftovers(tree)
        tmp = unique_name(tree, ".tmp")
        if not make_dir(tmp):  # (a unique name: never there)
            raise FileExistsError(tmp)
        ACTIVE_PARTS.add(tmp)
        try:
            got = unpack_archive(
                source,
                kind,
                tmp,
                members,
                label=name,
                stem=single_member(name, kind),
                limit=self.loc.config.max_size,
                tick=progress,
            )
            if members is None:
                self._write_record(name, got)
            if os.path.lexists(tree):  # an invalid old tree: moved aside, then removed
                old = unique_name(tree, ".old")
                os.rename(tree, old)
                remove_tree(old)
            os.replace(tmp, tree)
        except BaseException:
            remove_tree(tmp)
            raise
        finally:
            ACTIVE_PARTS.discard(tmp)
        for member, digest in got.items():
            path = os.path.join(tree, *member.split("/"))
            self.loc._memo.record(os.path.abspath(path), os.stat(path), digest)

    def _clear_leftovers(self, tree: str) -> None:
        """Remove temp and old trees of ``tree`` left by unpackings that are over."""
        directory, base = os.path.split(tree)
        head = f".{base}."
        try:
            names = [n for n in os.listdir(directory) if n.startswith(head)]
        except OSError:
            return
        for n in names:
            m = (
                token_pattern().fullmatch(n[len(head) : -4])
                if n.endswith((".tmp", ".old"))
                else None
            )
            path = os.path.join(directory, n)
            if m and owner_gone(m[1], int(m[2]), path):
                remove_tree(path)


def rehash_row(name: str, path: str, expected: str, loc: Chain) -> tuple[str, str, str | None, str]:
    """A `verify` row for one file, re-hashed: (NAME, ok/missing/bad, path, actual)."""
    if not os.path.lexists(path):
        return name, "missing", None, ""
    found = check(path, expected, loc._memo, rehash=True)
    if found.ok:
        return name, "ok", None, ""
    if found.state == "missing":  # a link to nothing
        return name, "bad", path, "No such file or directory"
    return name, "bad", path, found.error or found.actual

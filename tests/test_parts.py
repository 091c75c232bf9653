"""How the data wheels are cut (SPEC §5 "At PyPI scale"): groups, parts under the size limit,
the extras that pin them; deterministic, and clear errors for what cannot be split."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hatch_datafetch.errors import BuildError
from hatch_datafetch.registry import FileEntry, Registry
from hatch_datafetch.settings import Settings, parse_settings
from hatch_datafetch.staging import data_extras, plan_data_parts, runtime_config

H = "sha256:" + "a" * 64


def registry(sizes: dict[str, int | None]) -> Registry:
    return Registry(tuple(FileEntry(n, H, s) for n, s in sizes.items()))


def settings(**raw: Any) -> Settings:
    return parse_settings(
        {"registry": "r.toml", "data-wheel": True, **raw},
        root=".",
        project_name="pkg",
        project_version="2.0",
        env={},
    )


SIZES = {
    "a.txt": 100,
    "images/x.png": 400_000,
    "images/y.png": 400_000,
    "images/z.png": 400_000,
    "mri/s1/t1.nii": 300_000,
    "mri/s2/deep/t2.nii": 300_000,
}


def test_one_part_per_group_and_one_for_the_rest() -> None:
    s = settings(groups={"images": ["images/*"], "volumes": ["mri/**"]})
    parts = plan_data_parts(registry(SIZES), s)
    assert [(p.dist, p.package, p.group, p.names) for p in parts] == [
        ("pkg-data", "pkg_data", None, ("a.txt",)),
        ("pkg-data-images", "pkg_data_images", "images", tuple(f"images/{c}.png" for c in "xyz")),
        (
            "pkg-data-volumes",
            "pkg_data_volumes",
            "volumes",
            ("mri/s1/t1.nii", "mri/s2/deep/t2.nii"),
        ),
    ]
    assert data_extras(registry(SIZES), s) == {
        "data": ["pkg-data==2.0", "pkg-data-images==2.0", "pkg-data-volumes==2.0"],
        "data-images": ["pkg-data-images==2.0"],
        "data-volumes": ["pkg-data-volumes==2.0"],
    }


def test_parts_under_the_limit_are_numbered_and_deterministic() -> None:
    s = settings(groups={"images": ["images/*"]}, **{"data-wheel-max-size": "1 MB"})
    parts = plan_data_parts(registry(SIZES), s)
    assert [(p.dist, p.names) for p in parts] == [
        ("pkg-data", ("a.txt", "mri/s1/t1.nii", "mri/s2/deep/t2.nii")),
        ("pkg-data-images-1", ("images/x.png", "images/y.png")),
        ("pkg-data-images-2", ("images/z.png",)),
    ]
    assert plan_data_parts(registry(dict(reversed(SIZES.items()))), s) == parts
    assert data_extras(registry(SIZES), s)["data-images"] == [
        "pkg-data-images-1==2.0",
        "pkg-data-images-2==2.0",
    ]
    config = runtime_config(registry(SIZES), s)
    assert config["data_parts"] == ["pkg_data", "pkg_data_images_1", "pkg_data_images_2"]
    assert config["files"]["images/z.png"]["part"] == 2


@pytest.mark.parametrize(
    ("groups", "limit", "message"),
    [
        ({"a": ["images/*"], "b": ["*/y.png"]}, "100 MB", "'images/y.png' is in more than one"),
        ({"a": ["image/*"]}, "100 MB", "group patterns that match no registry name: a: 'image/*'"),
        ({}, "350 kB", "'images/x.png' (400,000 bytes) is larger than data-wheel-max-size"),
    ],
)
def test_what_cannot_be_cut(groups: dict[str, list[str]], limit: str, message: str) -> None:
    s = settings(groups=groups, **{"data-wheel-max-size": limit})
    with pytest.raises(BuildError) as e:
        plan_data_parts(registry(SIZES), s)
    assert message in str(e.value)


def test_meson_projects_get_the_extras_lines(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text(
        "[files]\n" + "".join(f'"{n}" = {{ hash = "{H}", size = {s} }}\n' for n, s in SIZES.items())
    )
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "pkg"\nversion = "2.0"\n[tool.datafetch]\nregistry = "r.toml"\n'
        'data-wheel = true\ngroups = { images = ["images/*"] }\n'
        'extras = { plot = ["matplotlib"] }\n'
    )
    cmd = [sys.executable, "-m", "hatch_datafetch", "meson-snippet", "--extras"]
    r = subprocess.run(
        [*cmd, "--pyproject", str(tmp_path / "pyproject.toml")], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "[project.optional-dependencies]\n"
        'data = ["pkg-data==2.0", "pkg-data-images==2.0"]\n'
        'data-images = ["pkg-data-images==2.0"]\n'
        'plot = ["matplotlib"]\n'
    )

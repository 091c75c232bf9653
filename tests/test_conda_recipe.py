"""The rattler-build recipe of example_project (example_project/packaging/conda/recipe.yaml).

rattler-build cannot build it here (no conda channel is reachable, and hatch-datafetch is not
on conda-forge), so the recipe is checked by what can be checked offline:
- its structure (PyYAML): schema_version 1, the sdist plus one source per registry entry whose
  sha256, target_directory/file_name and URL match registry.toml, the main and data outputs;
- that it is what ``update_recipe.py`` (``hatch-datafetch conda-sources``) generates;
- rendering by rattler-build's own parser, py-rattler-build, when it is installed;
- its build and test scripts, run as rattler-build would run them: in a work dir holding the
  unpacked sdist and the data sources placed by target_directory/file_name (taken from cdn/
  after checking each sha256 the recipe names), with $PREFIX a fresh venv, offline.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).parent.parent
EXAMPLE = REPO / "example_project"
CONDA = EXAMPLE / "packaging" / "conda"
RECIPE = CONDA / "recipe.yaml"
FOLDER = "datafetch-data"

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

with open(EXAMPLE / "registry.toml", "rb") as _f:
    REGISTRY = tomllib.load(_f)


def load() -> dict[str, Any]:
    recipe: dict[str, Any] = yaml.safe_load(RECIPE.read_text())
    return recipe


def outputs(recipe: dict[str, Any]) -> dict[str, dict[str, Any]]:
    ctx = recipe["context"]
    named = {}
    for output in recipe["outputs"]:
        name = output["package"]["name"].replace("${{ name }}", ctx["name"])
        named[name.replace("${{ data_name }}", ctx["data_name"])] = output
    return named


def script_lines(script: Any) -> list[str]:
    lines = script["content"] if isinstance(script, dict) else script
    return [lines] if isinstance(lines, str) else list(lines)


def test_multi_output_recipe_v1() -> None:
    recipe = load()
    assert recipe["schema_version"] == 1
    assert "package" not in recipe and recipe["recipe"]["version"] == "${{ version }}"
    assert recipe["context"]["version"] == "1.0.0"
    assert sorted(outputs(recipe)) == ["example-pkg", "example-pkg-data"]


def test_every_data_source_matches_the_registry() -> None:
    sdist, *data = load()["source"]
    assert sdist["url"].endswith("/example_pkg-${{ version }}.tar.gz")
    assert len(sdist["sha256"]) == 64 and int(sdist["sha256"], 16) >= 0
    base = REGISTRY["base-url"]
    got = {}
    for source in data:
        directory = source["target_directory"]
        assert directory == FOLDER or directory.startswith(FOLDER + "/"), directory
        name = f"{directory}/{source['file_name']}"[len(FOLDER) + 1 :]
        assert name not in got, f"{name} twice"
        assert source["url"] == base + name
        got[name] = "sha256:" + source["sha256"]
    assert got == {name: entry["hash"] for name, entry in REGISTRY["files"].items()}


def test_outputs_build_offline_and_put_the_data_in_share() -> None:
    main, data = (outputs(load())[n] for n in ("example-pkg", "example-pkg-data"))
    assert main["build"]["noarch"] == "python"
    lines = script_lines(main["build"]["script"])
    export = f'export HATCH_DATAFETCH_SOURCE="$SRC_DIR/{FOLDER}" HATCH_DATAFETCH_OFFLINE=1'
    assert export in lines  # the line conda-sources prints
    assert any("pip install . " in ln and "--no-build-isolation" in ln for ln in lines)
    assert "hatch-datafetch" in main["requirements"]["host"]
    assert main["requirements"]["run_constraints"] == ["${{ data_name }} ==${{ version }}"]
    assert data["build"]["noarch"] == "generic"
    assert f'cp -R "$SRC_DIR/{FOLDER}/." "$PREFIX/share/example-pkg-data/"' in script_lines(
        data["build"]["script"]
    )
    files = data["tests"][0]["package_contents"]["files"]
    assert files == [f"share/example-pkg-data/{n}" for n in sorted(REGISTRY["files"])]


def test_generated_blocks_are_up_to_date() -> None:
    r = subprocess.run(
        [sys.executable, str(CONDA / "update_recipe.py"), "--check"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_rattler_build_renders_both_outputs() -> None:
    rattler_build = pytest.importorskip(
        "rattler_build", reason="py-rattler-build (rattler-build's parser) is not installed"
    )
    recipe = rattler_build.Stage0Recipe.from_yaml(RECIPE.read_text())
    platform = rattler_build.PlatformConfig(
        target_platform="linux-64", build_platform="linux-64", host_platform="linux-64"
    )
    variants = recipe.render(
        rattler_build.VariantConfig({}), rattler_build.RenderConfig(platform=platform)
    )
    rendered = {v.recipe.package.name: v.recipe.to_dict() for v in variants}
    assert sorted(rendered) == ["example-pkg", "example-pkg-data"]
    assert rendered["example-pkg"]["requirements"]["run_constraints"] == [
        "example-pkg-data ==1.0.0"
    ]
    assert len(rendered["example-pkg-data"]["source"]) == 1 + len(REGISTRY["files"])


def test_scripts_run_like_rattler_build(tmp_path: Path) -> None:
    """The work dir, build scripts and test commands of both outputs, offline."""
    recipe = load()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("HATCH_DATAFETCH_", "EXAMPLE_"))
    }
    env.update(
        HATCH_DATAFETCH_OFFLINE="1",
        HATCH_DATAFETCH_SOURCE=str(EXAMPLE / "cdn"),
        HATCH_DATAFETCH_CACHE=str(tmp_path / "build-cache"),
    )
    build = [sys.executable, "-m", "build", "--no-isolation", "--sdist"]
    r = subprocess.run(
        [*build, "--outdir", str(tmp_path), str(EXAMPLE)], env=env, capture_output=True
    )
    assert r.returncode == 0, r.stderr

    # SRC_DIR: the sdist unpacked one level up (rattler-build strips a single top dir), then
    # every other source checked against its sha256 and placed by target_directory/file_name
    work = tmp_path / "work"
    with tarfile.open(tmp_path / "example_pkg-1.0.0.tar.gz") as tf:
        tf.extractall(tmp_path / "unpacked", filter="data")
    (tmp_path / "unpacked" / "example_pkg-1.0.0").rename(work)
    for source in recipe["source"][1:]:
        name = f"{source['target_directory']}/{source['file_name']}"[len(FOLDER) + 1 :]
        data = (EXAMPLE / "cdn" / name).read_bytes()  # the CDN's files, stood in by cdn/
        assert hashlib.sha256(data).hexdigest() == source["sha256"], name
        target = work / source["target_directory"] / source["file_name"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    # PREFIX: a venv whose build backends come from the test environment (host requirements)
    prefix = tmp_path / "prefix"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    site = next(prefix.glob("lib/python*/site-packages"))
    outer = Path(yaml.__file__).parent.parent
    (site / "_host.pth").write_text(f"import site; site.addsitedir({str(outer)!r})\n")
    python = str(prefix / "bin" / "python")
    run_env = {
        "PATH": f"{prefix / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path / "home"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
        "SRC_DIR": str(work),
        "PREFIX": str(prefix),
        "PYTHON": python,
        "PIP_NO_INDEX": "1",  # as conda-build and rattler-build set it
    }
    no_network = ["unshare", "-n"] if _can_unshare() else []

    def run_script(script: Any, cwd: Path) -> str:
        lines = [ln.replace("${{ PYTHON }}", python) for ln in script_lines(script)]
        extra = script.get("env", {}) if isinstance(script, dict) else {}
        text = "set -euo pipefail\n" + "\n".join(lines) + "\n"
        r = subprocess.run(
            [*no_network, "bash", "-c", text],
            cwd=cwd,
            env={**run_env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, f"{text}\n{r.stdout}\n{r.stderr}"
        return r.stdout + r.stderr

    main, data = (outputs(recipe)[n] for n in ("example-pkg", "example-pkg-data"))
    run_script(main["build"]["script"], work)
    run_script(data["build"]["script"], work)
    for name in data["tests"][0]["package_contents"]["files"]:
        assert (prefix / name).is_file(), name
    out = run_script(main["tests"][1]["script"], tmp_path)
    assert out.count("  from  system dir") == len(REGISTRY["files"])
    assert f"{len(REGISTRY['files'])} ok, 0 missing, 0 bad" in out


def _can_unshare() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0

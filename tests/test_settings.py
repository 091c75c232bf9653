"""Tests for hatch_datafetch.settings (SPEC §3)."""

from __future__ import annotations

import os
import pathlib
import sys
from typing import Any

import pytest

from hatch_datafetch.settings import (
    HATCH_RESERVED_KEYS,
    BuildEnvironment,
    Settings,
    SettingsError,
    default_build_cache,
    load_pyproject,
    parse_settings,
)

T = "tool.datafetch"


def parse(raw: dict[str, Any], env: dict[str, str] | None = None, **kwargs: Any) -> Settings:
    options: dict[str, Any] = {
        "root": "/proj",
        "project_name": "My-Project",
        "project_version": "1.2.3",
        "env": env or {},
    }
    options.update(kwargs)
    return parse_settings(raw, **options)


def errors_of(raw: dict[str, Any], env: dict[str, str] | None = None, **kw: Any) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        parse(raw, env, **kw)
    return info.value


def test_defaults() -> None:
    s = parse({"registry": "data/registry.txt"})
    assert s == Settings(
        registry="data/registry.txt",
        package="my_project",
        locator="_datafetch",
        base_url=None,
        mirrors=None,
        env_var="MY_PROJECT_DATA_DIR",
        url_env_var="MY_PROJECT_DATA_URL",
        token_env_var="MY_PROJECT_DATA_TOKEN",
        system_dirs=(),
        wheel="omit",
        sdist="omit",
        data_wheel=False,
        data_name="My-Project-data",
        data_version="1.2.3",
        data_extra="data",
        data_package="my_project_data",
        extras={},
        groups={},
        jobs=8,
        max_size=20 * 10**9,
        data_wheel_max_size=100 * 10**6,
        backend=None,
        backend_path=(),
        root=os.path.abspath("/proj"),
        project="My-Project",
    )
    assert s.registry_path() == pathlib.Path(os.path.abspath("/proj")) / "data/registry.txt"
    assert parse({"registry": "r.txt"}, project_version=None).data_version is None
    assert parse({"registry": "r.txt"}, project_name="a.b-c__d").package == "a_b_c_d"


def test_defaults_follow_the_top_level_package() -> None:
    s = parse({"registry": "r.txt", "package": "skimage.data"})
    assert (s.env_var, s.url_env_var) == ("SKIMAGE_DATA_DIR", "SKIMAGE_DATA_URL")
    assert s.data_package == "skimage_data"


def test_all_keys() -> None:
    raw = {
        "registry": "r.toml",
        "package": "pkg.sub",
        "locator": "_locate",
        "base-url": "https://cdn.example.org/v1/",
        "mirrors": ["https://m.example.org/", "doi:10.5281/zenodo.1"],
        "env-var": "PKG_DIR",
        "url-env-var": "PKG_URL",
        "system-dirs": ["/usr/share/pkg", "{prefix}/share/pkg", "C:\\data"],
        "wheel": "bundle",
        "sdist": "bundle",
        "data-wheel": True,
        "data-name": "pkg-datasets",
        "data-version": "2024.1.post1",
        "data-extra": "Sample_Data",
        "data-package": "pkg_datasets",
        "extras": {"Plot_Extras": ["matplotlib>=3"], "io": []},
        "jobs": 64,
        "max-size": "512 MiB",
        "groups": {"images": ["images/*"], "mri-scans": ["mri/**", "*.nii"]},
        "data-wheel-max-size": "99 MB",
    }
    s = parse(raw)
    assert s.package == "pkg.sub" and s.locator == "_locate"
    assert s.base_url == "https://cdn.example.org/v1/"
    assert s.mirrors == ("https://m.example.org/", "doi:10.5281/zenodo.1")
    assert (s.env_var, s.url_env_var) == ("PKG_DIR", "PKG_URL")
    assert s.system_dirs == ("/usr/share/pkg", "{prefix}/share/pkg", "C:\\data")
    assert (s.wheel, s.sdist, s.data_wheel) == ("bundle", "bundle", True)
    assert (s.data_name, s.data_version) == ("pkg-datasets", "2024.1.post1")
    assert (s.data_extra, s.data_package) == ("sample-data", "pkg_datasets")
    assert dict(s.extras) == {"plot-extras": ("matplotlib>=3",), "io": ()}
    assert s.jobs == 64
    assert s.max_size == 512 << 20
    assert dict(s.groups) == {"images": ("images/*",), "mri-scans": ("mri/**", "*.nii")}
    assert s.data_wheel_max_size == 99_000_000
    assert parse({"registry": "r", "max-size": "1.5 GB"}).max_size == 1_500_000_000
    assert parse({"registry": "r", "mirrors": []}).mirrors == ()


def test_settings_are_frozen_and_hashable() -> None:
    s = parse({"registry": "r", "extras": {"a": ["x"]}})
    with pytest.raises(TypeError):
        s.extras["b"] = ()  # type: ignore[index]
    with pytest.raises(AttributeError):
        s.jobs = 3  # type: ignore[misc]
    assert hash(s) == hash(parse({"registry": "r", "extras": {"a": ["x"]}}))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("registry", 3, "expected a path string, got 3"),
        ("registry", "", "must not be empty"),
        ("registry", "/abs/r.txt", 'must be relative to the project root, got "/abs/r.txt"'),
        ("package", "my-pkg", 'expected a dotted import name like "pkg.sub", got "my-pkg"'),
        ("package", "pkg.class", "expected a dotted import name"),
        ("package", "pkg.", "expected a dotted import name"),
        ("locator", "a.b", 'expected a Python module name like "_datafetch", got "a.b"'),
        ("locator", "import", "expected a Python module name"),
        ("data-package", "x-y", 'expected a dotted import name, got "x-y"'),
        ("base-url", "cdn.example.org", "URL 'cdn.example.org' has no scheme"),
        ("base-url", ["https://x/"], 'expected a URL string, got ["https://x/"]'),
        ("mirrors", "https://x/", 'expected a list of URL strings, got "https://x/"'),
        ("mirrors", ["https://x/", 1], "expected a list of URL strings"),
        ("mirrors", ["gopher://x/"], "unsupported scheme 'gopher'"),
        ("env-var", "1ABC", 'expected a name of letters, digits and _, got "1ABC"'),
        ("url-env-var", "A-B", "expected a name of letters, digits and _"),
        ("system-dirs", "/usr/share", "expected a list of directory strings"),
        ("system-dirs", ["relative/dir"], "must be an absolute path or start with {prefix}"),
        ("system-dirs", ["{prefx}/share"], "the only placeholder allowed is {prefix}"),
        ("system-dirs", ["/a/{"], "the only placeholder allowed is {prefix}"),
        ("wheel", "yes", 'expected "omit" or "bundle", got "yes"'),
        ("sdist", True, 'expected "omit" or "bundle", got true'),
        ("data-wheel", "true", 'got "true"; write data-wheel = true without quotes'),
        ("data-wheel", "no", "write data-wheel = false without quotes"),
        ("data-wheel", 1, "expected true or false, got 1"),
        ("data-name", "-bad-", 'expected a distribution name like "pkg-data", got "-bad-"'),
        ("data-version", "one", 'expected a PEP 440 version like "1.0", got "one"'),
        ("data-version", 2024, 'got 2024; write data-version = "2024" with quotes'),
        ("data-extra", "bad extra", 'expected an extra name like "data", got "bad extra"'),
        ("extras", ["a"], "expected a table of lists of requirements"),
        ("jobs", 0, "expected an integer from 1 to 64, got 0"),
        ("max-size", "lots", 'expected a size like "20 GB" or "512 MiB", got "lots"'),
        ("data-wheel-max-size", "1 parsec", 'expected a size like "20 GB"'),
        ("groups", ["images"], "expected a table of lists of glob patterns"),
        ("max-size", "0 MB", 'expected a size like "20 GB" or "512 MiB", got "0 MB"'),
        ("max-size", 100, 'expected a size, got 100; write max-size = "100" with quotes'),
        ("jobs", 65, "expected an integer from 1 to 64, got 65"),
        ("jobs", True, "expected an integer from 1 to 64, got true"),
        ("jobs", "8", 'expected an integer from 1 to 64, got "8"; write jobs = 8 without quotes'),
    ],
)
def test_bad_values(key: str, value: Any, message: str) -> None:
    raw = {"registry": "r.txt", key: value}
    error = errors_of(raw)
    assert len(error.errors) == 1, error.errors
    assert error.errors[0].startswith(f"{T}.{key}: ")
    assert message in error.errors[0]


@pytest.mark.parametrize(
    ("extras", "key", "message"),
    [
        ({"Data": ["x"]}, "extras.Data", 'the extra "data" is the data extra'),
        ({"a_b": ["x"], "A.B": ["y"]}, 'extras."A.B"', 'normalises to "a-b"'),
        ({"a": "x"}, "extras.a", 'expected a list of requirement strings, got "x"'),
        ({"a": [""]}, "extras.a", "expected a list of requirement strings"),
        ({"-a": []}, "extras.-a", '"-a" is not a valid extra name'),
    ],
)
def test_bad_extras(extras: dict[str, Any], key: str, message: str) -> None:
    error = errors_of({"registry": "r", "extras": extras})
    assert error.errors[0].startswith(f"{T}.{key}: ")
    assert message in error.errors[0]


def test_extras_clash_with_custom_data_extra() -> None:
    error = errors_of({"registry": "r", "data-extra": "Samples", "extras": {"samples": []}})
    assert "is the data extra" in str(error)


def test_missing_registry() -> None:
    error = errors_of({})
    assert error.errors == (
        f"{T}.registry: missing; set it to the registry file, relative to the project root, "
        'e.g. registry = "data/registry.txt"',
    )


def test_default_package_not_an_identifier() -> None:
    error = errors_of({"registry": "r"}, project_name="3d-tools")
    assert error.errors == (
        f'{T}.package: the default "3d_tools" derived from the project name "3d-tools" is not '
        "an import name; set package explicitly",
    )
    assert parse({"registry": "r", "package": "tools3d"}, project_name="3d-tools").package


def test_unknown_keys_did_you_mean() -> None:
    error = errors_of({"registry": "r", "data_wheel": True, "regsitry": "x", "zzz": 1})
    assert f"{T}.data_wheel: unknown key; did you mean 'data-wheel'?" in error.errors
    assert f"{T}.regsitry: unknown key; did you mean 'registry'?" in error.errors
    assert f"{T}.zzz: unknown key" in error.errors


def test_all_errors_at_once_and_message_format() -> None:
    raw = {"wheel": "yes", "jobs": 0, "data-wheel": "1", "extra": {}}
    error = errors_of(raw, {"HATCH_DATAFETCH_SDIST": "nope"}, source="pyproject.toml")
    keys = [e.split(":")[0] for e in error.errors]
    assert sorted(keys) == sorted(
        [
            f"{T}.extra",
            f"{T}.registry",
            f"{T}.wheel",
            "environment variable HATCH_DATAFETCH_SDIST",
            f"{T}.data-wheel",
            f"{T}.jobs",
        ]
    )
    header = "invalid hatch-datafetch settings in pyproject.toml and the environment:\n"
    assert str(error) == header + "\n".join(f"  - {e}" for e in error.errors)
    assert "did you mean 'extras'?" in str(error)
    assert str(errors_of({})).startswith("invalid hatch-datafetch settings in [tool.datafetch]:")


def test_error_names_the_table() -> None:
    table = "tool.hatch.build.hooks.datafetch"
    error = errors_of({"registry": "r", "wheel": "yes"}, table=table)
    assert error.errors == (f'{table}.wheel: expected "omit" or "bundle", got "yes"',)


def test_hatch_reserved_keys() -> None:
    raw = {"registry": "r", **{k: [] for k in HATCH_RESERVED_KEYS}}
    assert parse(raw, allow_hatch_reserved=True).registry == "r"
    error = errors_of(raw)
    assert len(error.errors) == len(HATCH_RESERVED_KEYS)
    assert (
        f"{T}.enable-by-default: is a hatchling build-hook option, only valid in "
        "[tool.hatch.build.hooks.datafetch]" in error.errors
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ("omit", "bundle", True)),
        ({"HATCH_DATAFETCH_WHEEL": "bundle"}, ("bundle", "bundle", True)),
        ({"HATCH_DATAFETCH_SDIST": "OMIT"}, ("omit", "omit", True)),
        ({"HATCH_DATAFETCH_DATA_WHEEL": "0"}, ("omit", "bundle", False)),
        ({"HATCH_DATAFETCH_DATA_WHEEL": "Off"}, ("omit", "bundle", False)),
        ({"HATCH_DATAFETCH_DATA_WHEEL": ""}, ("omit", "bundle", True)),
        ({"HATCH_DATAFETCH_WHEEL": ""}, ("omit", "bundle", True)),
    ],
)
def test_env_overrides(env: dict[str, str], expected: tuple[str, str, bool]) -> None:
    s = parse({"registry": "r", "sdist": "bundle", "data-wheel": True}, env)
    assert (s.wheel, s.sdist, s.data_wheel) == expected


def test_env_override_turns_data_wheel_on() -> None:
    assert parse({"registry": "r"}, {"HATCH_DATAFETCH_DATA_WHEEL": "yes"}).data_wheel


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("HATCH_DATAFETCH_WHEEL", "yes", 'expected "omit" or "bundle", got "yes"'),
        ("HATCH_DATAFETCH_SDIST", "include", 'expected "omit" or "bundle", got "include"'),
        ("HATCH_DATAFETCH_DATA_WHEEL", "maybe", "expected 1/0, true/false, yes/no or on/off"),
    ],
)
def test_bad_env_overrides(var: str, value: str, message: str) -> None:
    error = errors_of({"registry": "r"}, {var: value})
    assert len(error.errors) == 1
    assert error.errors[0].startswith(f"environment variable {var}: ")
    assert message in error.errors[0]


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HATCH_DATAFETCH_WHEEL", "bundle")
    monkeypatch.delenv("HATCH_DATAFETCH_SDIST", raising=False)
    monkeypatch.delenv("HATCH_DATAFETCH_DATA_WHEEL", raising=False)
    s = parse_settings({"registry": "r"}, root=".", project_name="p", project_version=None)
    assert s.wheel == "bundle"
    assert s.root == os.path.abspath(".")


# --------------------------------------------------------------------------- load_pyproject


def write(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_pyproject_tool_table(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path,
        '[project]\nname = "demo-pkg"\nversion = "0.3"\n\n'
        '[tool.datafetch]\nregistry = "data/registry.toml"\nwheel = "bundle"\n',
    )
    s = load_pyproject(path, env={})
    assert (s.package, s.data_name, s.data_version) == ("demo_pkg", "demo-pkg-data", "0.3")
    assert s.wheel == "bundle"
    assert s.root == os.path.abspath(tmp_path)
    assert s.registry_path() == pathlib.Path(s.root) / "data/registry.toml"
    assert load_pyproject(path, env={"HATCH_DATAFETCH_WHEEL": "omit"}).wheel == "omit"


def test_load_pyproject_hatch_table(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path,
        '[project]\nname = "demo"\ndynamic = ["version"]\n\n'
        "[tool.hatch.build.hooks.datafetch]\n"
        'registry = "r.txt"\nenable-by-default = true\ndependencies = ["x"]\n',
    )
    s = load_pyproject(path, env={})
    assert s.registry == "r.txt" and s.data_version is None


def test_load_pyproject_errors_name_file_and_table(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path,
        '[project]\nname = "demo"\n[tool.hatch.build.hooks.datafetch]\nregistry = "r"\njbos = 2\n',
    )
    with pytest.raises(SettingsError) as info:
        load_pyproject(path, env={})
    assert str(info.value) == (
        f"invalid hatch-datafetch settings in {path}:\n"
        "  - pyproject.toml:5: tool.hatch.build.hooks.datafetch.jbos: unknown key; "
        "did you mean 'jobs'?"
    )


def test_settings_errors_name_the_line(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path,
        '[project]\nname = "demo"\nversion = "1"\n\n[tool.datafetch]\nregistry = "r"\n'
        'wheel = "yes"  # a comment\n"jobs" = 0\n\n[tool.datafetch.extras]\nData = ["x"]\n',
    )
    with pytest.raises(SettingsError) as info:
        load_pyproject(path, env={"HATCH_DATAFETCH_SDIST": "nope"})
    assert info.value.errors == (  # in line order (issue 17.14), the environment last
        'pyproject.toml:7: tool.datafetch.wheel: expected "omit" or "bundle", got "yes"',
        "pyproject.toml:8: tool.datafetch.jobs: expected an integer from 1 to 64, got 0",
        'pyproject.toml:10: tool.datafetch.extras.Data: the extra "data" is the data extra, '
        "which hatch-datafetch adds itself; remove it or choose another data-extra",
        'environment variable HATCH_DATAFETCH_SDIST: expected "omit" or "bundle", got "nope"',
    )
    assert info.value.message == f"invalid hatch-datafetch settings in {path} and the environment:"


def test_load_pyproject_reserved_keys_only_in_hatch_table(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path, '[project]\nname = "d"\n[tool.datafetch]\nregistry = "r"\ndependencies = []\n'
    )
    with pytest.raises(SettingsError, match="is a hatchling build-hook option"):
        load_pyproject(path, env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[project]\nname = "d"\n', "no [tool.datafetch] or [tool.hatch.build.hooks.datafetch]"),
        ('[tool.datafetch]\nregistry = "r"\n', "project.name: missing"),
        ('[project]\nversion = "1"\n[tool.datafetch]\nregistry = "r"\n', "project.name"),
        (
            '[project]\nname = "d"\n[tool.datafetch]\nregistry = "a"\n'
            '[tool.hatch.build.hooks.datafetch]\nregistry = "b"\n',
            "are present and differ; keep one",
        ),
        ('[project]\nname = "d"\n[tool]\ndatafetch = 3\n', "tool.datafetch: expected a table"),
        ('[project\nname = "d"\n', "cannot read"),
    ],
)
def test_load_pyproject_bad(tmp_path: pathlib.Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as info:
        load_pyproject(path, env={})
    assert message in str(info.value)
    assert str(info.value).startswith(f"invalid hatch-datafetch settings in {path}:")


def test_load_pyproject_identical_tables(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path,
        '[project]\nname = "d"\n[tool.datafetch]\nregistry = "a"\n'
        '[tool.hatch.build.hooks.datafetch]\nregistry = "a"\n',
    )
    assert load_pyproject(path, env={}).registry == "a"


def test_load_pyproject_missing(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SettingsError, match="not found; run from the project root"):
        load_pyproject(tmp_path / "pyproject.toml", env={})


# --------------------------------------------------------------------------- build environment


def test_build_environment_defaults() -> None:
    assert BuildEnvironment.from_env({}) == BuildEnvironment(False, (), None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[("1", True), ("TRUE", True), ("yes", True), ("on", True)],
        *[("0", False), ("false", False), ("No", False), ("off", False), ("", False)],
    ],
)
def test_build_environment_offline(value: str, expected: bool) -> None:
    assert BuildEnvironment.from_env({"HATCH_DATAFETCH_OFFLINE": value}).offline is expected


def test_build_environment_bad_offline() -> None:
    with pytest.raises(SettingsError) as info:
        BuildEnvironment.from_env({"HATCH_DATAFETCH_OFFLINE": "sometimes"})
    assert info.value.errors == (
        "environment variable HATCH_DATAFETCH_OFFLINE: expected 1/0, true/false, yes/no or "
        'on/off, got "sometimes"',
    )


def test_build_environment_sources_and_cache() -> None:
    sources = os.pathsep.join(["/a", "", "/b/c", ""])
    env = BuildEnvironment.from_env(
        {"HATCH_DATAFETCH_SOURCE": sources, "HATCH_DATAFETCH_CACHE": "/cache"}
    )
    assert env.sources == (pathlib.Path("/a"), pathlib.Path("/b/c"))
    assert env.cache == pathlib.Path("/cache")


def test_build_environment_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HATCH_DATAFETCH_OFFLINE", "1")
    assert BuildEnvironment.from_env().offline


def test_default_build_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    assert default_build_cache({"HATCH_DATAFETCH_CACHE": "/c"}) == pathlib.Path("/c")
    monkeypatch.setattr(sys, "platform", "linux")
    assert default_build_cache({"XDG_CACHE_HOME": "/xdg"}) == pathlib.Path(
        "/xdg/hatch-datafetch/build"
    )
    expected = tmp_path / ".cache" / "hatch-datafetch" / "build"
    assert default_build_cache({}) == expected
    assert default_build_cache({"XDG_CACHE_HOME": "relative"}) == expected
    monkeypatch.setattr(sys, "platform", "darwin")
    assert default_build_cache({}) == tmp_path / "Library/Caches/hatch-datafetch/build"
    monkeypatch.setattr(sys, "platform", "win32")
    assert default_build_cache({"LOCALAPPDATA": "/L"}) == pathlib.Path("/L/hatch-datafetch/build")
    assert default_build_cache({}) == tmp_path / "AppData/Local/hatch-datafetch/build"


@pytest.mark.parametrize(
    ("groups", "key", "message"),
    [
        ({"Images": ["a/*"]}, "groups.Images", "is not a group name"),
        ({"a_b": ["a/*"]}, "groups.a_b", "lower-case letters, digits and single dashes"),
        ({"a": "a/*"}, "groups.a", 'expected a list of glob patterns over NAMEs like ["images/*"]'),
        ({"a": []}, "groups.a", "expected a list of glob patterns"),
    ],
)
def test_bad_groups(groups: dict[str, Any], key: str, message: str) -> None:
    error = errors_of({"registry": "r", "groups": groups})
    assert error.errors[0].startswith(f"{T}.{key}: ")
    assert message in error.errors[0]


def test_group_extras_clash_with_extras() -> None:
    error = errors_of({"registry": "r", "groups": {"img": ["i/*"]}, "extras": {"data-img": []}})
    assert 'the extra "data-img" is a data extra of a group' in str(error)


def test_backend_and_backend_path() -> None:
    s = parse({"registry": "r.txt", "backend": "setuptools.build_meta", "backend-path": ["_b"]})
    assert (s.backend, s.backend_path) == ("setuptools.build_meta", ("_b",))
    assert parse({"registry": "r.txt", "backend": "pkg.mod:obj.attr"}).backend == "pkg.mod:obj.attr"
    e = errors_of(
        {"registry": "r.txt", "backend": "not a backend", "backend-path": ["/abs", "../up"]}
    )
    assert e.errors == (
        f'{T}.backend: expected a build backend like "setuptools.build_meta" (module, or '
        'module:object), got "not a backend"',
        f'{T}.backend-path: "/abs" must be a directory inside the project, relative to its root',
        f'{T}.backend-path: "../up" must be a directory inside the project, relative to its root',
    )

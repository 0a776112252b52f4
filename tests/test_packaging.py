"""Packaging: the sdist and the wheel build from a copy of this repository, each
installs into a fresh virtual environment, and the installed package works there
(its version, py.typed, data files, the console script, the demo and a part of
this test suite run against it, from a directory outside the repository).

Dependencies come from the package index (pip's cache makes that fast). The
build is made with --no-isolation when this interpreter already has what
pyproject.toml's [build-system] asks for, else in build's isolated environment.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parent.parent

# Left out of the copy made for the build: what a build or a test run leaves behind.
TOP_LEVEL_JUNK = {".git", "build", "dist", ".venv", "venv", ".tox", ".nox", ".hypothesis",
                  ".benchmarks", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
DEEPER_JUNK = {"tests/artifacts"}
# Data files added to the copy: package-data must take any static/ folder, at any depth.
PROBES = ["greenpylm/_packaging_probe/static/probe.html",
          "greenpylm/_packaging_probe/static/css/probe.css"]
# Top-level files the sdist must hold.
SDIST_FILES = ["pyproject.toml", "setup.py", "requirements.txt", "README.md", "LICENSE",
               "CHANGELOG.md", "greenpylm/py.typed"]
# Tests of this suite run against the installed package: cheap, and needing nothing of the
# repository but these files.
SUITE_FILES = ["conftest.py", "helpers.py", "test_wire.py", "test_shipping.py"]
SUITE_DESELECT = ["tests/test_wire.py::test_the_api_reference_is_up_to_date"]  # reads docs/


def run(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited {result.returncode}\n"
        f"--- stdout (end)\n{result.stdout[-6000:]}\n--- stderr (end)\n{result.stderr[-6000:]}")
    return result


def clean_env(venv: Path | None = None) -> dict[str, str]:
    """This process's environment without what would let another interpreter's modules in."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV",
                        "PYTHONUSERBASE"}}
    env["PYTHONNOUSERSITE"] = "1"
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def source_version(source: Path) -> str:
    text = (source / "greenpylm" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", text, re.MULTILINE)
    assert found, "no __version__ = '...' in greenpylm/__init__.py"
    return found.group(1)


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split(" #")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def normal(requirement: str) -> str:
    from packaging.requirements import Requirement  # build's own dependency
    return str(Requirement(requirement))


def package_files(source: Path) -> set[str]:
    """Every file of the package in the source tree, as a path relative to it."""
    return {p.relative_to(source).as_posix() for p in (source / "greenpylm").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def assert_same_files(packed: set[str], source: set[str]) -> None:
    assert packed == source, (
        f"not packed: {sorted(source - packed)}; not in the source: {sorted(packed - source)}")


def copy_source(destination: Path) -> Path:
    def ignore(directory: str, names: list[str]) -> set[str]:
        left_out = {n for n in names
                    if n == "__pycache__" or n.endswith((".pyc", ".egg-info"))}
        here = Path(directory).resolve()
        if here == ROOT:
            left_out |= TOP_LEVEL_JUNK & set(names)
        left_out |= {n for n in names if (here / n).relative_to(ROOT).as_posix() in DEEPER_JUNK}
        return left_out

    shutil.copytree(ROOT, destination, ignore=ignore, symlinks=True)
    return destination


def build_isolation_flags(source: Path) -> list[str]:
    """--no-isolation if this interpreter meets the build requirements, else nothing."""
    try:
        import build
        from pyproject_hooks import quiet_subprocess_runner
    except ImportError:
        pytest.fail("the packaging test needs PyPA's build: pip install '.[test]'")
    builder = build.ProjectBuilder(source, runner=quiet_subprocess_runner)
    if any(tuple(build.check_dependency(r)) for r in builder.build_system_requires):
        return []
    if any(builder.check_dependencies(kind) for kind in ("sdist", "wheel")):
        return []
    return ["--no-isolation"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sdist and the wheel of a copy of the repository (with probe data files)."""
    source = copy_source(tmp_path_factory.mktemp("source") / "greenpylm-src")
    for probe in PROBES:
        (source / probe).parent.mkdir(parents=True, exist_ok=True)
        (source / probe).write_text(f"probe {probe}\n")
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--sdist", "--wheel", *build_isolation_flags(source),
         "--outdir", str(out), str(source)], timeout=400, cwd=source, env=clean_env())
    [sdist] = out.glob("greenpylm-*.tar.gz")
    [wheel] = out.glob("greenpylm-*.whl")
    return {"source": source, "version": source_version(source), "sdist": sdist,
            "wheel": wheel, "files": package_files(source)}


def test_the_sdist_holds_the_metadata_files_and_the_whole_package(built):
    version = built["version"]
    assert built["sdist"].name == f"greenpylm-{version}.tar.gz"
    top = f"greenpylm-{version}/"
    with tarfile.open(built["sdist"]) as archive:
        names = {m.name[len(top):] for m in archive.getmembers()
                 if m.isfile() and m.name.startswith(top)}
    missing = [f for f in SDIST_FILES if f not in names]
    assert not missing, f"not in the sdist: {missing}"
    assert_same_files({n for n in names if n.startswith("greenpylm/")}, built["files"])


def test_the_wheel_holds_the_package_alone_with_its_license(built):
    version = built["version"]
    assert built["wheel"].name == f"greenpylm-{version}-py3-none-any.whl"
    with zipfile.ZipFile(built["wheel"]) as archive:
        names = set(archive.namelist())
    dist_info = f"greenpylm-{version}.dist-info/"
    assert {n.split("/")[0] + "/" for n in names} == {"greenpylm/", dist_info}
    assert f"{dist_info}licenses/LICENSE" in names
    assert_same_files({n for n in names if n.startswith("greenpylm/")}, built["files"])


INSPECT = textwrap.dedent("""
    import importlib.metadata, importlib.resources, json, site, sys, sysconfig
    import greenpylm
    base_purelib = sysconfig.get_paths(vars={"base": sys.base_prefix,
                                             "platbase": sys.base_prefix})["purelib"]
    files = importlib.resources.files("greenpylm")
    print(json.dumps({
        "file": greenpylm.__file__,
        "version": greenpylm.__version__,
        "dist_version": importlib.metadata.version("greenpylm"),
        "requires": importlib.metadata.requires("greenpylm"),
        "record": [str(f) for f in importlib.metadata.files("greenpylm")],
        "typed": files.joinpath("py.typed").is_file(),
        "probes": {p: files.joinpath(*p.split("/")[1:]).is_file() for p in %r},
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "base_site_on_path": base_purelib in sys.path,
        "user_site": site.ENABLE_USER_SITE,
    }))
""") % (PROBES,)

INSTALLED_TEST = textwrap.dedent('''
    """Written by tests/test_packaging.py: this run imports greenpylm from its venv."""
    import os
    import sys
    from pathlib import Path

    import greenpylm


    def test_greenpylm_comes_from_the_virtual_environment():
        where = Path(greenpylm.__file__).resolve()
        venv = Path(os.environ["GREENPYLM_PACKAGING_VENV"]).resolve()
        assert Path(sys.prefix).resolve() == venv
        assert where.is_relative_to(venv), where
        Path(os.environ["GREENPYLM_PACKAGING_MARK"]).write_text(str(where))
''')


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_the_artifact_installs_and_works_in_a_fresh_venv(built, kind, tmp_path):
    version = built["version"]
    venv = tmp_path / "venv"
    work = tmp_path / "work"  # the working directory of every command: outside the repository
    work.mkdir()
    assert not work.resolve().is_relative_to(ROOT) and not venv.resolve().is_relative_to(ROOT)

    run([sys.executable, "-m", "venv", str(venv)], timeout=180, cwd=work, env=clean_env())
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    python = str(venv / "bin" / "python")
    env = clean_env(venv)
    run([python, "-m", "pip", "install", "--no-input", "--disable-pip-version-check",
         f"{built[kind]}[test]"], timeout=420, cwd=work, env=env)

    # the installed package: where it is, its version, its data files, its metadata
    seen = json.loads(run([python, "-c", INSPECT], timeout=60, cwd=work, env=env).stdout)
    assert Path(seen["file"]).resolve().is_relative_to(venv.resolve()), seen["file"]
    assert Path(seen["prefix"]).resolve() == venv.resolve() != Path(seen["base_prefix"]).resolve()
    assert not seen["base_site_on_path"] and not seen["user_site"]
    assert seen["version"] == seen["dist_version"] == version
    assert seen["typed"] and "greenpylm/py.typed" in seen["record"]
    assert all(seen["probes"].values()), seen["probes"]
    assert [normal(r) for r in seen["requires"] if "extra ==" not in r] == [
        normal(r) for r in requirement_lines(built["source"] / "requirements.txt")]
    assert any('extra == "test"' in r for r in seen["requires"])
    assert any('extra == "progress"' in r for r in seen["requires"])

    # the console script and python -m greenpylm
    script = run([str(venv / "bin" / "greenpylm"), "--version"], timeout=60, cwd=work, env=env)
    assert script.stdout.split() == ["greenpylm", version]
    demo = run([python, "-m", "greenpylm", "demo"], timeout=120, cwd=work, env=env)
    starts = {line.split()[0] for line in demo.stdout.splitlines() if line.strip()}
    assert {"eval", "job", "cache", "error"} <= starts, demo.stdout

    # a part of this suite, against the installed package
    suite = tmp_path / "suite"
    (suite / "tests").mkdir(parents=True)
    for name in SUITE_FILES:
        shutil.copy2(built["source"] / "tests" / name, suite / "tests" / name)
    (suite / "tests" / "test_installed_package.py").write_text(INSTALLED_TEST)
    (suite / "pytest.ini").write_text("[pytest]\ntestpaths = tests\ntimeout = 120\n")
    mark = tmp_path / "imported-from"
    result = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                  *(f"--deselect={d}" for d in SUITE_DESELECT)], timeout=300, cwd=suite,
                 env={**env, "GREENPYLM_PACKAGING_VENV": str(venv),
                      "GREENPYLM_PACKAGING_MARK": str(mark)})
    assert re.search(r"\b\d+ passed\b", result.stdout) and " failed" not in result.stdout
    assert Path(mark.read_text()).is_relative_to(venv.resolve())

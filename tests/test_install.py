"""A built wheel carries the raw sources and works without the repository.

The wheel is built from a copy of the source tree (so the checkout gets no ``build/`` or
``*.egg-info``), installed into a throwaway folder and imported from there in a subprocess
whose working directory is outside the repository: the raw sources must come from the
installed copy and the sample must be built in the cache folder, byte for byte the sample a
checkout builds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from elder_coverage.sample.census import PROVINCE_60_PLUS
from elder_coverage.sample.paths import raw_dir

ROOT = Path(__file__).resolve().parents[1]
# The first setuptools that reads the SPDX string `license = "MIT"` of pyproject.toml; the
# dev extras require it, so a venv made by `make` has it.
MIN_SETUPTOOLS = 77


def _setuptools_major() -> int:
    try:
        return int(metadata.version("setuptools").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return 0


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(wheel, site folder the wheel was installed into)."""
    if _setuptools_major() < MIN_SETUPTOOLS:
        pytest.skip(f"setuptools>={MIN_SETUPTOOLS} is needed to build the wheel offline; "
                    "`make` installs it with the dev extras")
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    shutil.copytree(ROOT / "coverage", src / "coverage",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    wheels = tmp / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    done = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels),
         str(src)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = wheels.glob("elder_coverage-*.whl")
    site = tmp / "site"
    done = subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--no-compile", "--target", str(site),
         str(wheel)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return wheel, site


def test_wheel_holds_the_raw_sources_and_not_the_fetch_script(installed):
    wheel, _ = installed
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for path in sorted(raw_dir().iterdir()):
            member = f"elder_coverage/data/raw/{path.name}"
            assert member in names, member
            assert zf.read(member) == path.read_bytes(), member
    assert "elder_coverage/data/raw/SOURCES.md" in names  # licences and credits travel along
    # The maintainer's download script stays in the repository.
    assert not [n for n in names if n.endswith(("sample/raw.py", "fetch_sources.py"))]
    assert not [n for n in names if "data/processed" in n]


_SCRIPT = textwrap.dedent("""
    import json, os, sys
    from importlib import resources

    import pandas as pd

    import elder_coverage
    from elder_coverage.national.sample import load_census as national_census
    from elder_coverage.sample import paths
    from elder_coverage.study import load_sample

    census = resources.files("elder_coverage") / "data" / "raw" / "census2020_jilin_counties.csv"
    with census.open("rb") as fh:
        jilin = pd.read_csv(fh, dtype={"code": str})
    env_folder, env_rule = paths.data_dir_origin()
    study = load_sample()
    os.environ.pop(paths.ENV_VAR)
    user_folder, user_rule = paths.data_dir_origin()
    print(json.dumps({
        "module": elder_coverage.__file__, "census": str(census),
        "raw_dir": str(paths.raw_dir()), "checkout": paths.checkout_root() is not None,
        "jilin_60": int(jilin["age60"].sum()),
        "china_60": int(national_census()["age60"].sum()),
        "env": [str(env_folder), env_rule], "user": [str(user_folder), user_rule],
        "facilities": len(study.facilities), "meta": study.meta,
    }))
""")


def test_installed_copy_reads_its_own_data_and_builds_in_the_cache(installed, tmp_path,
                                                                     sample_path):
    _, site = installed
    cwd, cache, xdg = tmp_path / "elsewhere", tmp_path / "cache", tmp_path / "xdg"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), ELDER_COVERAGE_CACHE=str(cache), XDG_CACHE_HOME=str(xdg),
               ELDER_COVERAGE_PROGRESS="off")
    done = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.splitlines()[-1])

    # Code and data come from the installed copy, not from the repository.
    assert Path(out["module"]).is_relative_to(site)
    assert Path(out["census"]).is_relative_to(site / "elder_coverage" / "data" / "raw")
    assert Path(out["raw_dir"]) == site / "elder_coverage" / "data" / "raw"
    assert not out["checkout"]
    # The coded county rows of the packaged table; the 70,705 of the four uncoded zones come
    # from the age-sex table (SOURCES.md).
    assert out["jilin_60"] == PROVINCE_60_PLUS - 70_705 == 5_480_460
    assert out["china_60"] == 264_018_218

    # The sample is built in the folder ELDER_COVERAGE_CACHE names, and load_sample said so.
    folder = cache / "jilin_city_rural_250m"
    assert out["env"] == [str(cache), "set by ELDER_COVERAGE_CACHE"]
    assert (f"elder-coverage: building sample jilin_city_rural in {folder} "
            "(set by ELDER_COVERAGE_CACHE)") in done.stderr
    assert (folder / "manifest.json").is_file()
    assert list(cwd.iterdir()) == []  # nothing written relative to the working directory
    # Without the variable an installed copy uses the per-user cache folder.
    assert out["user"][1].startswith("the user cache folder")
    if sys.platform.startswith("linux"):  # platformdirs follows XDG_CACHE_HOME on Linux only
        assert out["user"][0] == str(xdg / "elder-coverage")

    # Same raw sources and code → the very files a checkout builds.
    ours = json.loads((sample_path / "manifest.json").read_text(encoding="utf-8"))
    assert out["meta"]["fingerprint"] == ours["fingerprint"]
    assert out["meta"]["files"] == ours["files"]
    assert out["facilities"] == sum(ours["counts"]["facilities"].values())

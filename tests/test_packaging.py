"""The build configuration and the lock file the Docker image installs (offline checks; the full
comparison with a fresh resolution is ``bash .ci/lock --check``, which needs PyPI)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# "name==version \" (or "name==version ; marker \") followed by its "--hash=sha256:..." lines
# (uv pip compile --generate-hashes; e.g. psycopg-binary has "; implementation_name != 'pypy'").
PIN = re.compile(
    r"^([A-Za-z0-9._-]+)==(\S+)(?: ;[^\\\n]*)? \\\n((?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)",
    re.M,
)


def locked() -> dict[str, tuple[Version, int]]:
    """requirements.lock as {canonical name: (pinned version, number of hashes)}."""
    text = (ROOT / "requirements.lock").read_text()
    return {
        canonicalize_name(name): (Version(version), hashes.count("--hash="))
        for name, version, hashes in PIN.findall(text)
    }


def test_license_is_an_spdx_expression_with_a_setuptools_that_reads_it() -> None:
    # setuptools < 77 cannot read `license = "MIT"`; with the old `{ text = ... }` table, newer
    # ones warn that the build stops working on 2027-02-18.
    assert PYPROJECT["project"]["license"] == "MIT"
    (backend,) = [r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    assert Requirement(backend).specifier == SpecifierSet(">=77")


def test_every_runtime_dependency_is_locked_at_an_allowed_version_with_hashes() -> None:
    pins = locked()
    assert len(pins) >= len(PYPROJECT["project"]["dependencies"])
    for line in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run `bash .ci/lock`"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version), f"{name}=={version} breaks {line!r}"
        assert hashes >= 1, f"{name} has no hash"


def test_the_lock_pattern_reads_every_pinned_line() -> None:
    # A guard for the test above: a format change in the lock must not make it vacuous.
    text = (ROOT / "requirements.lock").read_text()
    pinned_lines = [line for line in text.splitlines() if re.match(r"^[A-Za-z0-9._-]+==", line)]
    assert len(locked()) == len(pinned_lines) > 0


def test_the_test_and_lint_extras_bring_what_ci_runs() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    names = {extra: {canonicalize_name(Requirement(r).name) for r in reqs}
             for extra, reqs in extras.items()}
    assert {"ruff", "mypy", "uv"} <= names["lint"]
    assert {"pytest", "pytest-asyncio"} <= names["test"]


def test_the_wheel_ships_every_translation_catalog() -> None:
    # The catalogs are read as they are at start (bot.i18n): the wheel (and so the Docker
    # image, which installs it) must hold each .po and the template, by package-data.
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["bot"]
    package = ROOT / "bot"
    catalogs = sorted(package.glob("locales/**/*.po*"))
    assert {path.name for path in catalogs} == {"bot.po", "bot.pot"}
    for path in catalogs:
        relative = path.relative_to(package)
        assert any(relative.match(pattern) for pattern in patterns), relative

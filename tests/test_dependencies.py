"""The dependency contract: declared ranges that the pinned sets honour, and warnings that
fail the suite only when the project itself calls something deprecated."""

from __future__ import annotations

import re
import tomllib
import warnings
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def declared() -> list[Requirement]:
    """Every requirement of the project and of its extras."""
    project = PROJECT["project"]
    names = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        names += extra
    # "cleargif[postgres]" in the test extra names the project's own extra, listed already.
    return [Requirement(name) for name in names
            if _normal(Requirement(name).name) != _normal(project["name"])]


def pins(name: str) -> dict[str, Version]:
    """``requirements/<name>`` as distribution (normalised) to pinned version."""
    found: dict[str, Version] = {}
    for line in (REPO / "requirements" / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            dist, _, version = line.partition("==")
            assert version, f"{name}: {line!r} is not pinned with =="
            found[_normal(dist)] = Version(version)
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_the_tested_set_is_inside_every_declared_range(requirement: Requirement) -> None:
    pinned = pins("tested.txt").get(_normal(requirement.name))
    assert pinned is not None, f"{requirement.name} is not in requirements/tested.txt"
    assert requirement.specifier.contains(pinned), (requirement, pinned)


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_the_minimum_set_pins_each_lower_bound(requirement: Requirement) -> None:
    lower = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    assert len(lower) == 1, f"{requirement} declares no lower bound (>=)"
    pinned = pins("minimum.txt").get(_normal(requirement.name))
    assert pinned is not None, f"{requirement.name} is not in requirements/minimum.txt"
    # The lowest release of the range (a bound of 8.2 is the release 8.2.0).
    assert pinned == lower[0] or (pinned.release[:len(lower[0].release)] == lower[0].release
                                  and not pinned.is_prerelease), (requirement, pinned)
    assert requirement.specifier.contains(pinned)


# --- warnings ---------------------------------------------------------------------------

_DEPENDENCY = '''
import warnings

def old_api():
    """A dependency's deprecated function: the warning points at its caller."""
    warnings.warn("old_api is deprecated", DeprecationWarning, stacklevel=2)

def uses_old_api_itself():
    """A dependency calling its own deprecated function: its own business."""
    return old_api()
'''


def _module(name: str, source: str, namespace: dict[str, object] | None = None) -> dict[str,
                                                                                          object]:
    scope: dict[str, object] = {"__name__": name, **(namespace or {})}
    exec(compile(source, f"<{name}>", "exec"), scope)  # our own test source
    return scope


def _configured_filters() -> list[str]:
    return list(PROJECT["tool"]["pytest"]["ini_options"]["filterwarnings"])


def _apply(entry: str) -> None:
    """Install one ``filterwarnings`` entry as pytest does (later entries win)."""
    action, message, category, module = [*entry.split(":"), "", "", ""][:4]
    categories = {"": Warning, "DeprecationWarning": DeprecationWarning,
                  "PendingDeprecationWarning": PendingDeprecationWarning}
    warnings.filterwarnings(action, message, categories[category], module)  # type: ignore[arg-type]


@pytest.mark.parametrize(("caller", "fails"), [
    ("collector.cli", True), ("collector.storage.sqlite", True), ("sdk.mail", True),
    (__name__, True), ("bench.pixel", True),
    ("fakedep.internal", False), ("flask.app", False), ("collectors_other", False),
])
def test_a_deprecated_call_fails_only_from_the_project(caller: str, fails: bool) -> None:
    dependency = _module("fakedep", _DEPENDENCY)
    code = _module(caller, "def call(): return old_api()\n", {"old_api": dependency["old_api"]})
    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()
        for entry in _configured_filters():
            _apply(entry)
        if fails:
            with pytest.raises(DeprecationWarning, match="old_api is deprecated"):
                code["call"]()  # type: ignore[operator]
        else:
            code["call"]()  # type: ignore[operator]
            assert [str(w.message) for w in seen] == ["old_api is deprecated"]  # reported


def test_a_dependency_deprecating_inside_itself_is_only_reported() -> None:
    dependency = _module("fakedep", _DEPENDENCY)
    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()
        for entry in _configured_filters():
            _apply(entry)
        dependency["uses_old_api_itself"]()  # type: ignore[operator]
        with pytest.raises(UserWarning):  # anything else is still an error
            warnings.warn("something else", UserWarning, stacklevel=1)
    assert len(seen) == 1

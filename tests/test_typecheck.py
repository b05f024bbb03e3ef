"""The type check of ``src/`` (mypy, configured in ``pyproject.toml``) is clean, and its configuration stays strict.

The mypy run is marked integration: a cold run (no ``.mypy_cache``) follows torch and transformers and takes minutes
on a small CPU; a warm one takes seconds. It uses the project's own cache folder, ``.mypy_cache`` at the root (mypy
keeps it consistent per file and per option set), so repeated suite runs stay fast.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser under its backport's name
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
# `# type: ignore` followed by an error code in brackets (`# type: ignore[arg-type]`).
IGNORE = re.compile(r"#\s*type:\s*ignore(\[[^\]]*\])?")


def run_mypy(*args: str, cache_dir: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python -m mypy ARGS`` with the project's configuration and ``cache_dir``; the finished process.

    Raises:
        pytest.fail.Exception: when mypy is not installed (it comes with the ``test`` extra).
    """
    check = subprocess.run([sys.executable, "-c", "import mypy"], capture_output=True, text=True)
    if check.returncode:
        pytest.fail("mypy is not installed in this environment: pip install -e '.[test]' (scripts/setup.sh does it)")
    command = [sys.executable, "-m", "mypy", "--config-file", str(PYPROJECT), "--cache-dir", str(cache_dir), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=1800)


def mypy_config() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["mypy"]


@pytest.mark.integration
def test_src_type_checks_clean() -> None:
    """`python -m mypy` over the configured files (src/) reports no error; on failure, mypy's own report."""
    start = time.monotonic()
    proc = run_mypy(cache_dir=ROOT / ".mypy_cache")
    took = time.monotonic() - start
    assert proc.returncode == 0, f"mypy found errors in src/ ({took:.0f} s):\n{proc.stdout}{proc.stderr}"
    assert "Success: no issues found" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.integration
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # a plain type error: the check must be able to fail, and the test must report where
        ('count: int = "three"\n', "bad.py:1: error: Incompatible types in assignment"),
        # a stale ignore (nothing left to silence) is reported, so that ignores do not outlive their reason
        ("x = 1  # type: ignore\n", 'bad.py:1: error: Unused "type: ignore" comment'),
        # an untyped function body is still checked (check_untyped_defs)
        ("def f():\n    return 1 + 'a'\n", "bad.py:2: error: Unsupported operand types"),
    ],
    ids=["assignment", "unused-ignore", "untyped-def-body"],
)
def test_mypy_reports_errors_with_project_config(tmp_path: Path, source: str, expected: str) -> None:
    """A file with a known error fails the project's mypy configuration, and the output names file and line."""
    (tmp_path / "bad.py").write_text(source, encoding="utf-8")
    proc = run_mypy("bad.py", cache_dir=tmp_path / "cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert expected in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        # the target is the oldest Python the package supports (requires-python >= 3.10)
        ("python_version", "3.10"),
        # the checked tree is the package source
        ("files", ["src"]),
        # bodies of functions without annotations are checked too
        ("check_untyped_defs", True),
        # a `# type: ignore` that no longer silences anything is an error, so stale ones go
        ("warn_unused_ignores", True),
    ],
)
def test_mypy_config_values(key: str, expected: object) -> None:
    assert mypy_config().get(key) == expected


@pytest.mark.parametrize(
    "key",
    [
        # missing imports are ignored per third-party module (overrides), never for everything
        "ignore_missing_imports",
        # no part of the tree is exempt from the check
        "ignore_errors",
        # imports are followed: a skipped import would turn its names into Any silently
        "follow_imports",
    ],
)
def test_mypy_config_has_no_global_escape_hatch(key: str) -> None:
    config = mypy_config()
    assert key not in config, f"[tool.mypy] sets {key} globally"
    for override in config.get("overrides", []):
        assert "ignore_errors" not in override, f"override {override.get('module')} exempts modules from the check"
        modules = override.get("module", [])
        modules = [modules] if isinstance(modules, str) else modules
        first_party = [m for m in modules if m == "perception_r1" or m.startswith("perception_r1.")]
        assert not first_party, f"override {first_party} relaxes the project's own modules"


def ignore_comments() -> list[tuple[str, str, str]]:
    """``(file:line, the ignore, the three lines before it)`` for every ``# type: ignore`` in src/."""
    found = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if match := IGNORE.search(line):
                where = f"{path.relative_to(ROOT)}:{number}"
                found.append((where, line[match.start() :], "\n".join(lines[max(0, number - 4) : number - 1])))
    return found


IGNORES = ignore_comments() or [("(none)", "", "")]


@pytest.mark.parametrize(("where", "comment", "before"), IGNORES, ids=[where for where, _, _ in IGNORES])
def test_type_ignores_name_code_and_reason(where: str, comment: str, before: str) -> None:
    """Each ignore silences one named error code and says why (after it, or in a comment just above)."""
    if where == "(none)":
        return
    match = IGNORE.match(comment)
    assert match and match.group(1), f"{where}: `# type: ignore` without an error code ([arg-type], ...)"
    reason_after = comment[match.end() :].lstrip().startswith("#")
    reason_before = any(line.lstrip().startswith("#") for line in before.splitlines())
    assert reason_after or reason_before, f"{where}: `{comment.strip()}` gives no reason (a comment)"

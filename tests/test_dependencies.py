"""Every third-party module that src/ imports is declared in pyproject.toml (a dependency or an extra).

A module that only arrives through another package's dependencies (e.g. ``httpx2`` through the openai SDK) breaks
the day that package changes its own: it must be declared where it is used.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
# Modules whose distribution is not installed here (GPU-only extras): module -> the distribution they come from.
# verl and its config libraries live in their own venv (scripts/setup_verl.sh), not in the one the suite runs in.
NOT_INSTALLED_HERE = {
    "vllm": "vllm",
    "deepspeed": "deepspeed",
    "flash_attn": "flash-attn",
    "verl": "verl",
    "hydra": "hydra-core",
    "omegaconf": "omegaconf",
}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def _imported_modules() -> dict[str, str]:
    """Top-level module -> one file of src/ that imports it (imports inside functions included)."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_imported_third_party_module_is_declared():
    declared = _declared()
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module, where in sorted(_imported_modules().items()):
        if module in sys.stdlib_module_names or module in ("perception_r1", "__future__"):
            continue
        dists = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
        dists |= {NOT_INSTALLED_HERE[module]} if module in NOT_INSTALLED_HERE else set()
        if not dists & declared:
            missing.append(f"{module} (imported in {where}; from {sorted(dists) or 'no installed distribution'})")
    assert not missing, "undeclared in pyproject.toml: " + "; ".join(missing)

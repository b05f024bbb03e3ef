"""Layering of src/perception_r1: which part may import which, read from the source with ``ast``.

Every ``import`` counts, also one inside a function (a lazy import is still a dependency). A *unit* is a top-level
module or subpackage of ``perception_r1`` (``rewards``, ``key_info``, ...). Data flows one way, from the bottom
of ``ALLOWED`` up; an import that is not listed there fails, so a new dependency is a decision written down here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "perception_r1"

# Imports that must never appear, whatever ALLOWED says: (importing unit, imported unit, why).
FORBIDDEN: list[tuple[str, str, str]] = [
    ("train", "eval", "training must not depend on evaluation"),
    ("train", "experiment", "training must not reach up into the experiment built on it"),
    ("data", "rewards", "the data layer does not know the rewards (curation gets its verifier from the caller)"),
    ("rewards", "data", "rewards read their columns, not the dataset layer (the <infoN> layout is in key_info)"),
    ("*", "testing", "test doubles live in tests/support, outside the package"),
]
# Top-level names outside the package that no package module may import: the test tree and its doubles.
TEST_ONLY_MODULES = ("tests", "support", "conftest")

# The allowed edges (importing unit -> imported unit), bottom-up; "*" means any unit.
ALLOWED: dict[tuple[str, str], str] = {
    ("__init__", "-"): "the package root only holds its docstring and version: it imports nothing of ours",
    ("registry", "-"): "the bottom of the stack: every extension point builds on it, it imports nothing of ours",
    ("io_utils", "-"): "atomic writes and JSONL reading: pure helpers, nothing of ours",
    ("disk", "-"): "writability checks and disk errors of output folders: pure helpers, nothing of ours",
    ("ranks", "-"): "where a process stands in a launch, read from the launcher's environment: nothing of ours",
    ("processes", "-"): "child processes that stop with their parent (signals, pools): nothing of ours",
    ("folder_lock", "disk"): "a claimed output folder is checked for writability first",
    ("folder_lock", "ranks"): "only the launch's rank 0 holds the folder",
    ("folder_lock", "redact"): "the holder's command line, shown to a refused writer, may carry a key",
    ("train", "ranks"): "rank 0 writes the run's files; a cache build runs outside the launched group",
    ("key_info", "-"): "the <infoN> annotation layout: pure text, shared by data, rewards and analysis",
    ("final_answer", "-"): "where a response states its answer: pure text, shared by data, rewards and eval",
    ("redact", "-"): "secrets out of printed and stored texts: pure text, nothing of ours",
    ("images", "-"): "decoding untrusted images under a pixel limit: PIL and datasets only",
    ("special_tokens", "-"): "a processor's special tokens in untrusted text: pure text",
    ("data", "images"): "training and curation images are decoded under the pixel limit",
    ("eval", "images"): "benchmark images are decoded under the pixel limit, one item at a time",
    ("eval", "special_tokens"): "questions quoting the processor's special tokens are neutralised",
    ("train", "special_tokens"): "problems quoting the processor's special tokens are neutralised",
    ("llm", "redact"): "error texts are redacted where the LLM layer makes them (a server may quote the key back)",
    ("data", "redact"): "curation records and summaries quote LLM error texts",
    ("eval", "redact"): "generations and items store generation error texts",
    ("train", "redact"): "training samples store judge failure reasons",
    ("report", "redact"): "the HTML page shows stored error texts",
    ("config", "registry"): "unknown config keys get the registry's did-you-mean",
    ("templates", "config"): "a bad template file raises ConfigError",
    ("llm", "config"): "client settings are typed configs",
    ("llm", "registry"): "LLM backends are a registry",
    ("data", "config"): "curation options and data recipes are typed configs",
    ("data", "registry"): "data sources and synthetic families are registries",
    ("data", "io_utils"): "datasets and step outputs are written atomically",
    ("data", "key_info"): "the reference layout stores annotations as <infoN> tags",
    ("data", "final_answer"): "distillation keeps teacher replies that state a boxed answer",
    ("data", "llm"): "curation asks a teacher and an annotator LLM",
    ("model", "config"): "the tiny model's settings are typed configs",
    ("model", "io_utils"): "the built model is written atomically",
    ("judge", "config"): "judge options are typed configs",
    ("judge", "registry"): "judge backends are a registry",
    ("judge", "templates"): "the judge prompt is a versioned template",
    ("judge", "llm"): "LLM judges call the LLM layer",
    ("judge", "data"): "the rule judge parses facts with data.facts",
    ("rewards", "registry"): "rewards and format templates are registries",
    ("rewards", "io_utils"): "the scoring engine of 'rewards score' writes its outputs atomically",
    ("rewards", "templates"): "the format reward re-exports the format instruction it checks",
    ("rewards", "key_info"): "the perception reward reads annotations in the <infoN> layout",
    ("rewards", "final_answer"): "the accuracy reward reads the final answer",
    ("rewards", "llm"): "the perception reward runs its judge on the LLM layer's loop",
    ("rewards", "judge"): "the perception reward asks the judge",
    ("train", "config"): "recipes are typed configs",
    ("train", "registry"): "unknown recipe and GRPO options get did-you-mean, unknown rewards a clear error",
    ("train", "io_utils"): "metrics, samples and recipe.json are written atomically",
    ("train", "templates"): "prompts end with the format instruction",
    ("train", "data"): "training reads schema rows (loaders, synthetic testbed)",
    ("train", "model"): "model.path=tiny builds the tiny model",
    ("train", "judge"): "recipe.json records the judge prompt's fingerprint",
    ("train", "rewards"): "GRPO optimises the rewards",
    ("train", "integrations"): "train/verl_reward.py keeps the former verl adapter path working",
    ("integrations", "rewards"): "verl and EasyR1 score with the same rewards as TRL training",
    ("integrations", "data"): "data export reads schema rows and their images",
    ("integrations", "io_utils"): "exported parquet files are written atomically",
    ("integrations", "templates"): "exported prompts end with the format instruction",
    ("train", "folder_lock"): "one training run per output folder; leftovers of cut saves are removed by rank 0 only",
    ("train", "disk"): "a checkpoint save cut by a full disk is named as such",
    ("train", "processes"): "a stopped launch stops torchrun, which stops its ranks",
    ("eval", "config"): "evaluation options are typed configs",
    ("eval", "registry"): "benchmarks, scorers and backends are registries",
    ("eval", "io_utils"): "predictions and reports are written atomically",
    ("eval", "templates"): "evaluation prompts end with the format instruction",
    ("eval", "llm"): "LLM answer grading and generation backends",
    ("eval", "rewards"): "answers are extracted and letters mapped as the accuracy reward does",
    ("eval", "folder_lock"): "one evaluation per output folder (run.json checked and written by one process)",
    ("analysis", "io_utils"): "analysis outputs are written atomically",
    ("analysis", "data"): "perception analysis reads schema rows",
    ("analysis", "judge"): "perception analysis judges responses",
    ("report", "io_utils"): "reports are written atomically",
    ("report", "eval"): "the evaluation section knows the benchmarks",
    ("experiment", "config"): "the experiment's settings are typed configs",
    ("experiment", "registry"): "unknown experiment keys get did-you-mean",
    ("experiment", "io_utils"): "every stage writes atomically",
    ("experiment", "data"): "the synthetic testbed provides the splits",
    ("experiment", "model"): "the small policy is built like the tiny model",
    ("experiment", "judge"): "the rule judge gives the exact perception metrics",
    ("experiment", "rewards"): "the arms train and evaluate with the rewards",
    ("experiment", "train"): "the arms are GRPO runs",
    ("experiment", "analysis"): "arms are compared with the McNemar test",
    ("experiment", "report"): "the experiment writes its HTML report",
    ("experiment", "folder_lock"): "one experiment per folder; the cached warm-up is built by one process",
    ("experiment", "processes"): "the GRPO worker processes stop with the experiment",
    ("cli", "*"): "the commands wire every part together",
}


def unit_of(module: str) -> str | None:
    """``perception_r1.rewards.format`` -> ``rewards``; ``perception_r1`` -> ``__init__``; None outside the package."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path, src: Path) -> str:
    """Dotted name of a source file under ``src`` (``__init__.py`` names its package)."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, src: Path) -> list[tuple[str, int]]:
    """Every module ``path`` imports, relative imports resolved, with its line number.

    Args:
        path: A Python file under ``src``.
        src: The source root (the folder holding the package).

    Returns:
        ``(imported module, line)`` pairs; ``from a import b`` gives ``a``.
    """
    name = module_name(path, src)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from ..x import y: climb from the importing package
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, node.lineno))
    return out


def package_edges(src: Path) -> list[tuple[str, str, str]]:
    """``(importing unit, imported module, "file:line")`` for every import in the package under ``src``."""
    edges = []
    for path in sorted((src / PACKAGE).rglob("*.py")):
        source_unit = unit_of(module_name(path, src))
        for target, line in imports_of(path, src):
            edges.append((source_unit, target, f"{path.relative_to(src)}:{line}"))
    return edges


def violations(src: Path) -> list[str]:
    """Every import under ``src`` that breaks FORBIDDEN, TEST_ONLY_MODULES or ALLOWED, as readable lines."""
    allowed = {(a, b) for a, b in ALLOWED if b != "-"}
    out = []
    for source, target, where in package_edges(src):
        if target.split(".")[0] in TEST_ONLY_MODULES:
            out.append(f"{where}: imports the test-only module {target}")
            continue
        imported = unit_of(target)
        if imported is None or imported == source:
            continue
        why = next((why for a, b, why in FORBIDDEN if a in (source, "*") and b == imported), None)
        if why is not None:
            out.append(f"{where}: {source} -> {imported} is forbidden: {why}")
        elif (source, imported) not in allowed and (source, "*") not in allowed:
            out.append(f"{where}: {source} -> {imported} is not an allowed edge (add it to ALLOWED with its reason)")
    return out


def test_package_follows_the_layering():
    assert violations(SRC) == []


def test_every_unit_has_a_place():
    # A new top-level module or subpackage must be placed in ALLOWED (its edges, or "-" for none).
    placed = {a for a, _ in ALLOWED}
    units = {unit_of(module_name(p, SRC)) for p in (SRC / PACKAGE).rglob("*.py")}
    assert units - placed == set()


def test_no_test_doubles_in_the_package():
    assert not (SRC / PACKAGE / "testing").exists()  # the fakes moved to tests/support


def test_allowed_edges_have_no_cycle():
    # Every allowed edge points down: training does not reach up into the experiment (the train command resolves
    # the experiment's warm-up policy before it trains).
    graph: dict[str, set[str]] = {}
    for a, b in ALLOWED:
        if b not in ("-", "*"):
            graph.setdefault(a, set()).add(b)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    assert [a for a in graph if reaches(a, a, set())] == []


def module_imports(src: Path) -> dict[str, set[str]]:
    """Module -> the package modules it imports at run time, lazily inside functions too (``from a import b``
    counts as ``a.b`` where that is a module); imports under ``if TYPE_CHECKING:`` are left out (never run)."""
    files = {module_name(p, src): p for p in sorted((src / PACKAGE).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(n)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for stmt in block.body
            for n in ast.walk(stmt)
        }
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(tree):
            if id(node) in typing_only or not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
                continue
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names}
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def module_cycles(src: Path) -> list[list[str]]:
    """Every module that can reach itself through imports, with one such loop."""
    graph = module_imports(src)
    found = []
    for start in sorted(graph):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph[node]):
                if nxt == start:
                    found.append([*path, start])
                    stack = []
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    return found


def test_no_module_imports_itself_round_about():
    # Two modules that import each other (even lazily, inside a function) have no order to read them in: the
    # shared part belongs in one of them, or lower.
    assert module_cycles(SRC) == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a lazy import back: a cycle
        ({"perception_r1/a.py": "from perception_r1 import b\n",
          "perception_r1/b.py": "def f():\n    from perception_r1.a import x\n"}, 2),
        # an import for type checking only: no cycle
        ({"perception_r1/a.py": "from perception_r1 import b\n",
          "perception_r1/b.py": "import typing\nif typing.TYPE_CHECKING:\n    from perception_r1.a import x\n"},
         0),
        # through a third module, by a relative import
        ({"perception_r1/a.py": "from . import b\n", "perception_r1/b.py": "import perception_r1.c\n",
          "perception_r1/c.py": "from .a import x\n"}, 3),
    ],
)  # fmt: skip
def test_cycle_checker(tmp_path, files, expected):
    assert len(module_cycles(_write(tmp_path, {"perception_r1/__init__.py": "", **files}))) == expected


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # training importing evaluation, lazily inside a function
        (
            {"perception_r1/train/x.py": "def f():\n    from perception_r1.eval import y\n"},
            ["train -> eval is forbidden"],
        ),
        # a relative import is resolved before it is checked (data/curate/x.py: ...rewards -> perception_r1.rewards)
        (
            {"perception_r1/data/curate/x.py": "from ...rewards import get_reward\n"},
            ["data -> rewards is forbidden"],
        ),
        # rewards reading the data layer: forbidden although data sits lower
        ({"perception_r1/rewards/x.py": "import perception_r1.data.schema\n"}, ["rewards -> data is forbidden"]),
        # the package importing the test doubles, by either name
        ({"perception_r1/llm/x.py": "from support.fake_judge import j\n"}, ["test-only module support.fake_judge"]),
        ({"perception_r1/llm/x.py": "from perception_r1.testing import t\n"}, ["llm -> testing is forbidden"]),
        # an upward import that no rule names: not an allowed edge
        ({"perception_r1/llm/x.py": "from perception_r1.judge import j\n"}, ["llm -> judge is not an allowed edge"]),
        # allowed edges, imports within a unit and third-party imports pass
        (
            {
                "perception_r1/rewards/x.py": "from perception_r1.judge import j\nfrom .y import z\nimport numpy\n",
                "perception_r1/cli/x.py": "from perception_r1.eval import e\n",
            },
            [],
        ),
    ],
)
def test_checker_finds_bad_imports(tmp_path, files, expected):
    found = violations(_write(tmp_path, files))
    assert len(found) == len(expected)
    for fragment, line in zip(expected, found, strict=True):
        assert fragment in line

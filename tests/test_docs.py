"""The documentation stays true to the tree: citations of docs/reference.md resolve, the tests it names exist."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference.md"
# Where code and prose may cite docs/reference.md.
CITING_ROOTS = ("src", "tests", "benchmarks", "recipes", "scripts", "docs", "README.md", "DEVELOPING.md")
CITING_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".sh", ".txt"}
CITATION = re.compile(r"docs/reference\.md#([A-Za-z0-9_-]+)")
# Numbered citations of a document outside the repository (a section or defect number, or a § sign, followed by a
# digit): they must become anchors of docs/reference.md, which can be checked.
BARE_CITATION = re.compile(r"\breference\s+(?:sections?|§)\s*\d|\bdefects?\s+\d|\bsections?\s+\d|§\s*\d", re.I)
NAMED_TEST = re.compile(r"`(tests/[\w/]+\.py)::([\w:]+)`")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens.

    >>> github_anchor("Defect 6: penalty missing from logged total")
    'defect-6-penalty-missing-from-logged-total'
    """
    text = heading.strip().replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def heading_anchors(markdown: str) -> list[str]:
    """Anchors of every ATX heading outside fenced code blocks, in order (duplicates kept, to be found)."""
    anchors, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6}\s+(.+?)\s*#*\s*$", line)):
            anchors.append(github_anchor(m.group(1)))
    return anchors


def citing_files() -> list[Path]:
    """Every text file under CITING_ROOTS, this file excepted (its patterns would cite themselves)."""
    files = []
    for name in CITING_ROOTS:
        root = ROOT / name
        candidates = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
        files += [p for p in candidates if p.is_file() and p.suffix in CITING_SUFFIXES]
    this = Path(__file__).resolve()
    return [p for p in files if "__pycache__" not in p.parts and ".venv" not in p.parts and p.resolve() != this]


def citations() -> list[tuple[str, str]]:
    """``(file:line, anchor)`` for every ``docs/reference.md#anchor`` in the citing files."""
    found = []
    for path in citing_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            found += [(f"{path.relative_to(ROOT)}:{number}", m.group(1)) for m in CITATION.finditer(line)]
    return found


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Method", "method"),  # one word
        ("Results (Table 1)", "results-table-1"),  # brackets dropped
        ("Defect 5: signal timeout off the main thread", "defect-5-signal-timeout-off-the-main-thread"),  # colon
        ("TRL `GRPOTrainer`", "trl-grpotrainer"),  # inline code keeps its text
        ("MMMU, MMMU-Pro, MMStar, EMMA", "mmmu-mmmu-pro-mmstar-emma"),  # commas dropped, hyphens kept
    ],
)
def test_github_anchor(heading, anchor):
    assert github_anchor(heading) == anchor


@pytest.mark.parametrize(
    ("line", "bare"),
    [
        ("as in Reference Section 3", True),  # a numbered section, any letter case
        ("fixes Reference Defects 1 and 2", True),  # numbered defects
        ("the reference scored this 1.0 (Defect 5.3)", True),  # a sub-numbered defect
        ("(Perception-R1, reference §2)", True),  # a section sign
        ("see docs/reference.md#defect-3-score-divided-by-verdicts-received", False),  # an anchor
        ("the reference layout (visual_key_info)", False),  # the word alone cites nothing
    ],
)
def test_bare_citation_pattern(line, bare):
    assert bool(BARE_CITATION.search(line)) is bare


def test_heading_anchors_skip_code_blocks():
    text = "# Title\n```\n# not a heading\n```\n## Sub part ##\n"
    assert heading_anchors(text) == ["title", "sub-part"]


def test_reference_anchors_are_unique():
    anchors = heading_anchors(REFERENCE.read_text(encoding="utf-8"))
    assert len(anchors) == len(set(anchors)), sorted(a for a in anchors if anchors.count(a) > 1)


def test_every_citation_points_to_a_section():
    anchors = set(heading_anchors(REFERENCE.read_text(encoding="utf-8")))
    found = citations()
    # The rewards, judge and evaluation modules cite it; none at all means the scan itself broke.
    assert len(found) >= 10, found
    dangling = [f"{where}: #{anchor}" for where, anchor in found if anchor not in anchors]
    assert not dangling, "citations of docs/reference.md without such a section:\n" + "\n".join(dangling)


def test_reference_links_within_the_page_resolve():
    text = REFERENCE.read_text(encoding="utf-8")
    anchors = set(heading_anchors(text))
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert links, "the contents list links its sections"
    assert sorted(set(links) - anchors) == []


def test_no_numbered_citations_of_an_outside_document():
    bare = []
    for path in citing_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if path != REFERENCE and BARE_CITATION.search(line):
                bare.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not bare, "cite docs/reference.md#<anchor> (or give the reason) instead of:\n" + "\n".join(bare)


def _defined_names(path: Path) -> set[str]:
    """``name`` and ``Class::name`` for every function and class of a test module."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names |= {f"{node.name}::{item.name}" for item in node.body if isinstance(item, ast.FunctionDef)}
    return names


def test_every_test_named_in_the_reference_exists():
    named = NAMED_TEST.findall(REFERENCE.read_text(encoding="utf-8"))
    assert len(named) >= 20, named
    missing = []
    for file, name in named:
        path = ROOT / file
        if not path.is_file():
            missing.append(f"{file} (no such file)")
        elif name not in _defined_names(path):
            missing.append(f"{file}::{name} (no such test)")
    assert not missing, "docs/reference.md names tests that do not exist:\n" + "\n".join(missing)


def sections(markdown: str) -> list[tuple[int, str, str]]:
    """``(level, title, body)`` for each level-2 and level-3 heading; the body runs to the next such heading."""
    marks = list(re.finditer(r"^(#{2,3}) (.*)$", markdown, flags=re.M))
    ends = [m.start() for m in marks[1:]] + [len(markdown)]
    return [(len(m.group(1)), m.group(2), markdown[m.end() : end]) for m, end in zip(marks, ends, strict=True)]


def test_every_fact_and_defect_of_the_reference_names_a_guarding_test():
    parts = sections(REFERENCE.read_text(encoding="utf-8"))
    unguarded = []
    for i, (level, title, body) in enumerate(parts):
        # A section followed by its own sub-sections only introduces them (Rewards, Engines, the defects list).
        introduces = i + 1 < len(parts) and parts[i + 1][0] > level
        if not introduces and not NAMED_TEST.search(body):
            unguarded.append(title)
    assert unguarded == [], f"sections naming no test: {unguarded}"
    assert [t.split(":")[0] for _, t, _ in parts if t.startswith("Defect ")] == [f"Defect {n}" for n in range(1, 7)]


def resolve_dotted(name: str) -> bool:
    """Whether ``name`` is an importable module, or a module followed by attributes that exist on it."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@pytest.mark.parametrize(
    ("name", "exists"),
    [
        ("perception_r1.registry", True),  # a module
        ("perception_r1.registry.Registry", True),  # an attribute of a module
        ("perception_r1.registry.NoSuchThing", False),  # a missing attribute
        ("perception_r1.no_such_module", False),  # a missing module
    ],
)
def test_resolve_dotted(name, exists):
    assert resolve_dotted(name) is exists


def test_every_module_named_in_the_reference_exists():
    names = sorted(set(re.findall(r"`(perception_r1(?:\.\w+)+)`", REFERENCE.read_text(encoding="utf-8"))))
    assert names, "the reference names the modules that implement its facts"
    assert [n for n in names if not resolve_dotted(n)] == []


DEVELOPING = ROOT / "DEVELOPING.md"
LAYOUT_ENTRY = re.compile(r"^( *)([A-Za-z0-9_][\w.\-/]*(?:/|\.[a-z]+))(?:\s{2,}|$)")


def layout_paths(markdown: str) -> list[str]:
    """Paths named by the first code block after the ``## Layout`` heading, nesting read from the indentation.

    An entry is a name ending in ``/`` (a folder) or a file name with an extension at the start of a line; the
    lines between entries continue the description.

    >>> layout_paths("## Layout\\n```\\nsrc/\\n  a.py   the a\\n         and more\\n  b/\\n    c.py\\nd.md\\n```\\n")
    ['src/', 'src/a.py', 'src/b/', 'src/b/c.py', 'd.md']
    """
    block = markdown.split("## Layout", 1)[1].split("```", 2)[1]
    paths: list[str] = []
    parents: list[tuple[int, str]] = []  # (indent, folder path) of the open folders
    for line in block.splitlines():
        if not (m := LAYOUT_ENTRY.match(line)):
            continue
        indent, name = len(m.group(1)), m.group(2)
        while parents and parents[-1][0] >= indent:
            parents.pop()
        path = (parents[-1][1] if parents else "") + name
        paths.append(path)
        if name.endswith("/"):
            parents.append((indent, path))
    return paths


def test_every_path_in_the_developing_layout_exists():
    paths = layout_paths(DEVELOPING.read_text(encoding="utf-8"))
    assert len(paths) >= 20, paths
    missing = [p for p in paths if not (ROOT / p).exists() or p.endswith("/") != (ROOT / p).is_dir()]
    assert missing == [], f"DEVELOPING.md's layout names paths that do not exist: {missing}"


def test_the_developing_layout_names_every_package_and_top_level_module():
    named = set(layout_paths(DEVELOPING.read_text(encoding="utf-8")))
    package = ROOT / "src" / "perception_r1"
    expected = {f"{p.parent.relative_to(ROOT)}/" for p in package.rglob("__init__.py")}
    expected |= {str(p.relative_to(ROOT)) for p in package.glob("*.py") if p.name != "__init__.py"}
    expected |= {"docs/reference.md", "tests/"}
    if (ROOT / "tests" / "support").is_dir():  # the test doubles' home outside the package
        expected.add("tests/support/")
    assert sorted(expected - named) == []


def test_every_module_path_in_the_developing_data_flow_exists():
    flow = DEVELOPING.read_text(encoding="utf-8").split("## Data flow", 1)[1].split("\n## ", 1)[0]
    paths = set(re.findall(r"`([\w/]+(?:\.py|/))`", flow))
    assert len(paths) >= 15, paths
    package = ROOT / "src" / "perception_r1"
    assert sorted(p for p in paths if not (package / p).exists() and not (ROOT / p).exists()) == []

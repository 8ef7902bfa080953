"""The package layout is a contract: dependencies point down the layers, and no package imports in a cycle.

Read from the code's own imports (every ``import`` and ``from ... import`` anywhere in a module, including those
inside functions and ``TYPE_CHECKING`` blocks), so a lazy import cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "interest_tools"

#: Low to high. A module may import its own package and any package in a lower layer, never a higher one.
LAYERS: list[set[str]] = [
    {"_version", "errors", "memory", "settings", "threads"},
    {"data"},
    {"datasets"},
    {"windows"},
    {"summaries"},
    {"explain"},
    {"forecast"},
    {"recommend"},
    {"report"},
    {"store"},
    {"pipeline", "evaluate"},
    {"engine"},
    {"adapters"},
    {"__main__"},
    {"__init__"},  # the lazy public API of interest_tools itself
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
#: Stage packages may not import agent frameworks; summaries alone takes a LangChain chat model.
FRAMEWORKS = ("langchain", "langchain_core", "langchain_openai", "fastmcp", "mcp")
FRAMEWORK_FREE = {"data", "datasets", "windows", "explain", "forecast", "recommend", "report", "store", "evaluate"}


def _unit(path: Path) -> str:
    """The top-level unit a file belongs to: a subpackage name, or a top-level module's name."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every imported module name with its line (relative imports are not used in this package)."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}:{node.lineno}: use absolute imports"
            if node.module == "interest_tools":
                found += [(f"interest_tools.{a.name}", node.lineno) for a in node.names]
            else:
                found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
    return found


def _graph() -> dict[str, dict[str, list[str]]]:
    """unit -> imported unit -> places (``file:line``)."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        me = _unit(path)
        for name, line in _imports(path):
            if not name.startswith("interest_tools."):
                continue
            other = name.split(".")[1]
            if other != me:
                graph.setdefault(me, {}).setdefault(other, []).append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    return graph


def test_every_unit_has_a_layer() -> None:
    units = {_unit(p) for p in PACKAGE.rglob("*.py")}
    assert units - set(RANK) == set(), "add new packages to LAYERS"


def test_dependencies_point_down_the_layers() -> None:
    upward = [
        f"{me} -> {other} ({places[0]})"
        for me, deps in _graph().items()
        for other, places in deps.items()
        if RANK[other] > RANK[me] or (RANK[other] == RANK[me] and other != me)
    ]
    assert upward == []


def test_no_import_cycles_between_packages() -> None:
    graph = {me: set(deps) for me, deps in _graph().items()}
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize("unit", sorted(FRAMEWORK_FREE))
def test_stage_packages_do_not_import_agent_frameworks(unit: str) -> None:
    files = [PACKAGE / f"{unit}.py"] if (PACKAGE / f"{unit}.py").exists() else sorted((PACKAGE / unit).rglob("*.py"))
    leaks = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in files
        for name, line in _imports(path)
        if name.split(".")[0] in FRAMEWORKS
    ]
    assert leaks == []


def _module_scope_imports(path: Path) -> list[tuple[str, int]]:
    """Imports that run when the module is imported (module level and its ``if``/``try`` blocks, not functions)."""
    found: list[tuple[str, int]] = []
    stack: list[ast.AST] = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue  # never runs
        elif isinstance(node, ast.If | ast.Try):
            stack += [*node.body, *node.orelse, *getattr(node, "handlers", []), *getattr(node, "finalbody", [])]
        elif isinstance(node, ast.ExceptHandler):
            stack += node.body
    return found


def test_forecast_inference_never_imports_training() -> None:
    """Serving code (every forecast module but training's) imports no training module when it is imported.

    Training is reached only through the training entry points (``train_forecaster``, ``LSTMForecaster.fit``),
    which import it when called.
    """
    training = {"interest_tools.forecast._train"}
    inference = [p for p in (PACKAGE / "forecast").glob("*.py") if p.stem.lstrip("_") != "train"]
    leaks = [f"{p.name}:{line}" for p in inference for name, line in _module_scope_imports(p) if name in training]
    assert leaks == []


def test_serving_imports_no_training_code() -> None:
    """Importing the engine (which loads checkpoints and forecasts) leaves the training module unimported."""
    code = (
        "import sys, interest_tools.engine, interest_tools.forecast; "
        "print(','.join(m for m in sys.modules if m.startswith('interest_tools.forecast') and 'train' in m))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_the_graph_checker_itself_finds_upward_imports_and_cycles(tmp_path: Path) -> None:
    """The checks above must be able to fail: a planted upward import is seen as one."""
    fake = tmp_path / "windows_probe.py"
    fake.write_text("from interest_tools.engine import Engine\n", encoding="utf-8")
    assert ("interest_tools.engine", 1) in _imports(fake)
    assert RANK["engine"] > RANK["windows"]

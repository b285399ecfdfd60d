"""The layout's promises, checked: no import cycle, small modules, stages that only look
back. A failure here names the modules that broke the shape."""

from __future__ import annotations

import ast
from pathlib import Path

import gi_conform

PACKAGE = Path(gi_conform.__file__).parent
MAX_LINES = 800

# Stages in pipeline order: a module may import its own stage and earlier ones only.
# ``gi_conform`` itself (the model, semantics, rules, units, ...) is the foundation.
STAGES = ("document", "argv", "strategies", "groundtruth", "libvirt", "oracle", "fuzz", "cli")
# Top-level modules that are not foundation: the stage whose tools they use.
TOP_LEVEL_STAGES = {"gi_conform.corpus": "argv"}
# Deliberate exceptions, each with its reason.
ALLOWED = {
    ("gi_conform.libvirt.proof", "gi_conform.oracle.model"): (
        "a proof campaign runs over the oracle's CheckCase selection"
    ),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every gi_conform module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("gi_conform"):
                continue
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("gi_conform")}
    return found & set(modules)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def _stage(module: str) -> int:
    if module in TOP_LEVEL_STAGES:
        return STAGES.index(TOP_LEVEL_STAGES[module]) + 1
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in STAGES:
        return STAGES.index(parts[1]) + 1
    return 0


def test_no_import_cycle() -> None:
    # A package's __init__ that imports its own submodules is not a cycle of the design:
    # only count edges between distinct modules, the package inits included.
    assert _cycle(_graph()) is None


def test_stages_import_only_earlier_stages() -> None:
    backwards = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        for target in targets
        if module != "gi_conform" and _stage(target) > _stage(module)
        if (module, target) not in ALLOWED
    )
    assert backwards == []


def test_no_module_is_too_long() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_checker_sees_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_every_public_module_declares_its_api() -> None:
    """A module whose name has no leading ``_`` says what is public in ``__all__``
    (docstring-only package folders and ``__main__`` have nothing to declare)."""
    missing = sorted(
        name
        for name, path in _modules().items()
        if not any(part.startswith("_") for part in name.split(".")[1:])
        and "__all__" not in path.read_text()
        and ast.parse(path.read_text()).body[1:]  # more than a docstring
    )
    assert missing == []

"""The package's layout: no import circles, and docs/architecture.md names every part and module there is."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "qa"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(f): f for f in PACKAGE.rglob("*.py")}


def imports(path: Path) -> set[str]:
    """The qa modules a module imports, wherever in it: a function's own import and a type-only one count too (a module
    that needs another's types for its signatures should not be needed by it)."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_Import(self, node: ast.Import) -> None:
            found.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module and node.level == 0:
                for alias in node.names:  # `from qa.x import y` imports module qa.x.y when there is one
                    found.add(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module)

    Visitor().visit(ast.parse(path.read_text()))
    return {name for name in found if name in MODULES and name != module_name(path) and name != "qa"}


def cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A path of imports from `start` back to itself, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph[node]):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_no_module_imports_itself_through_others():
    graph = {name: imports(path) for name, path in MODULES.items()}
    cycles = [cycle for name in graph if (cycle := cycle_from(name, graph))]
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


CORE = ("qa.settings", "qa.domain", "qa.errors", "qa.text")


def test_the_core_modules_import_no_subpackage():
    for name in CORE:
        upward = sorted(i for i in imports(MODULES[name]) if i not in CORE)
        assert not upward, f"{name} imports {', '.join(upward)}: a core module needs nothing above it"


def test_no_class_over_160_lines_and_no_function_over_60():
    too_long = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            limit = 160 if isinstance(node, ast.ClassDef) else 60 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
            if limit and node.end_lineno - node.lineno + 1 > limit:
                too_long.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not too_long, "; ".join(too_long)


def test_each_subpackage_keeps_to_the_parts_its_docstring_allows():
    """A subpackage's `__init__` says which parts it may import ("May import: qa.x, qa.y"); its modules keep to them."""
    for init in PACKAGE.glob("*/__init__.py"):
        package = module_name(init)
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        match = re.search(r"May import:([^\n]*)", doc)
        assert match, f"{package}'s docstring does not say what it may import"
        allowed = {name.strip(" .`") for name in match.group(1).split(",") if name.strip(" .`") != "nothing"}
        for name, path in MODULES.items():
            if name.startswith(f"{package}."):
                for imported in imports(path):
                    assert imported.startswith(f"{package}.") or any(
                        imported == a or imported.startswith(f"{a}.") for a in allowed
                    ), f"{name} imports {imported}, outside what {package} may import ({', '.join(sorted(allowed))})"


def test_the_architecture_document_matches_the_code():
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`(qa/[\w/]+\.py)`", text)) | set(re.findall(r"`(qa/\w+/)`", text))
    for entry in named:
        assert (ROOT / entry).exists(), f"docs/architecture.md names {entry}, which does not exist"
    for init in PACKAGE.glob("*/__init__.py"):
        folder = f"{init.parent.relative_to(ROOT)}/"
        assert folder in named, f"docs/architecture.md does not name the subpackage {folder}"
    for path in PACKAGE.rglob("*.py"):
        if path.name != "__init__.py" and path.name != "__main__.py":
            relative = str(path.relative_to(ROOT))
            assert relative in named, f"docs/architecture.md does not name {relative}"


def test_every_package_qa_imports_is_declared_in_pyproject():
    """A package qa imports itself is named in pyproject.toml, not left to arrive because another depends on it."""
    import sys
    import tomllib
    from importlib.metadata import packages_distributions

    def canonical(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {canonical(re.split(r"[\s<>=!~\[;]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}
    imported: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {name for name in imported if name not in sys.stdlib_module_names and name != "qa"}
    distributions = packages_distributions()
    missing = {
        name: distributions.get(name, ["?"]) for name in third_party
        if not any(canonical(d) in declared for d in distributions.get(name, [name]))
    }
    assert not missing, f"imported by qa but not declared in pyproject.toml: {missing}"

"""The package's modules import each other without circles (counting imports inside functions and
``TYPE_CHECKING`` blocks: an import moved into a function to dodge a circle is still a circle)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pulse_teach"


def _module(path: Path) -> str:
    parts = list(path.with_suffix("").relative_to(PACKAGE.parent).parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                if node.module:
                    found.add(".".join(base + [node.module]))
                else:  # from . import faces
                    found |= {".".join(base + [alias.name]) for alias in node.names}
        graph[name] = found
    return {name: {d for d in deps if d in graph and d != name and not name.startswith(d + ".")}
            for name, deps in graph.items()}


def test_no_import_circles():
    graph = _imports()
    assert "pulse_teach.checkpoints" in graph["pulse_teach.models"]  # the graph sees relative imports
    state: dict[str, str] = {}
    circles = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for dep in sorted(graph[name]):
            if state.get(dep) == "open":
                circles.append(" -> ".join(path[path.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, path + [dep])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not circles, "import circles:\n" + "\n".join(circles)

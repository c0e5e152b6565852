"""Public functions say what they raise: a function with a ``raise`` statement names the error in its docstring."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pulse_teach"
PENDING: set[str] = set()


def _undocumented() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in PENDING:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        public_classes = [c for c in tree.body if isinstance(c, ast.ClassDef) and not c.name.startswith("_")]
        for node in tree.body + [n for c in public_classes for n in c.body]:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            raised = {r.exc.func.id if isinstance(r.exc, ast.Call) and isinstance(r.exc.func, ast.Name) else None
                      for r in ast.walk(node) if isinstance(r, ast.Raise) and r.exc is not None}
            raised.discard(None)
            doc = ast.get_docstring(node) or ""
            missing = sorted(name for name in raised if name not in doc)
            if missing:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} raises {missing}")
    return found


def test_public_functions_document_what_they_raise():
    undocumented = _undocumented()
    assert not undocumented, "say what these raise in their docstrings:\n" + "\n".join(undocumented)

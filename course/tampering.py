"""Learner cells that reach into the grading machinery, found by reading them.

The guard cells (`course.guard`) catch a changed machinery at run time, from inside the kernel
that learner code could also change. This reads the learner's cells in the grader's own process,
where nothing a learner writes runs: a cell that registers a magic, patches pytest, ipytest or
the course, changes `sys.modules`, reads `solutions/`, builds code at run time or ends its own
process gets a note that an instructor reviews. Honest solutions do none of this (the grading
tests measure it on every alternative solution), so a flag is rare and specific.
"""

import ast
import re

from IPython.core.inputtransformer2 import TransformerManager

MACHINERY = ("pytest", "_pytest", "pluggy", "ipytest", "course", "IPython", "ipykernel", "nbval")
MAGIC_REGISTRATION = {
    "register_magic_function",
    "register_magics",
    "register_cell_magic",
    "register_line_magic",
    "register_line_cell_magic",
    "magics_class",
    "cell_magic",
    "line_cell_magic",
}
SHELL_INTERNALS = {
    "magics_manager",
    "set_custom_exc",
    "custom_exceptions",
    "CustomTB",
    "input_transformers_cleanup",
    "input_transformers_post",
    "input_transformer_manager",
    "ast_transformers",
    "run_cell",
    "run_cell_magic",
    "displayhook",
    "excepthook",
}
CODE_AT_RUN_TIME = {"exec", "eval", "compile", "__import__"}
SOLUTIONS_PATH = re.compile(r"(^|[/\\])solutions([/\\]|$)")
PATCHERS = {"patch", "setattr", "delattr", "object"}  # mock.patch(...), patch.object(...), ...


def _python(source: str) -> str:
    """A cell as Python: a cell magic's body (a %%ipytest cell's tests, the file %%writetest
    writes), line magics as the calls IPython makes of them."""
    if source.lstrip().startswith("%%"):
        source = source.lstrip().split("\n", 1)[1] if "\n" in source.lstrip() else ""
    return TransformerManager().transform_cell(source)


def _dotted(node) -> str:
    """`a.b.c` for a Name/Attribute chain, with `x[...]` as `x[]`; "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    if isinstance(node, ast.Subscript):
        base = _dotted(node.value)
        return f"{base}[]" if base else ""
    return ""


class _Reader(ast.NodeVisitor):
    def __init__(self):
        self.found: list[tuple[int, str]] = []
        self.modules: dict[str, str] = {}  # local name -> the module it is bound to

    def _flag(self, node, what: str) -> None:
        self.found.append((node.lineno, what))

    def _machinery(self, dotted: str) -> str:
        """The machinery module a dotted name reaches, as imported here: "" if none."""
        head, _, rest = dotted.partition(".")
        module = self.modules.get(head, "")
        full = f"{module}.{rest}" if module and rest else module
        return full if full.split(".")[0] in MACHINERY else ""

    def visit_Import(self, node):
        for alias in node.names:
            self.modules[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )
            if alias.name == "ctypes":
                self._flag(node, "imports ctypes")
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        for alias in node.names:
            self.modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        self.generic_visit(node)

    def _target(self, target, node, verb: str) -> None:
        dotted = _dotted(target)
        if dotted.startswith("sys.modules"):
            self._flag(node, "changes sys.modules")
        elif isinstance(target, ast.Attribute | ast.Subscript) and (
            reached := self._machinery(dotted)
        ):
            self._flag(node, f"{verb} {reached.removesuffix('[]')}")
        elif isinstance(target, ast.Attribute) and target.attr in SHELL_INTERNALS:
            self._flag(node, f"{verb} IPython's {target.attr}")

    def visit_Assign(self, node):
        for target in node.targets:
            self._target(target, node, "patches")
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._target(node.target, node, "patches")
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self._target(target, node, "deletes")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr in MAGIC_REGISTRATION:
            self._flag(node, "registers a magic")
        elif node.attr in SHELL_INTERNALS and isinstance(node.ctx, ast.Load):
            self._flag(node, f"uses IPython's {node.attr}")
        elif node.attr == "_exit":
            self._flag(node, "ends its own process (_exit)")
        elif _dotted(node).startswith("sys.modules.") and node.attr != "get":
            self._flag(node, "changes sys.modules")
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in MAGIC_REGISTRATION:
            self._flag(node, "registers a magic")
        elif node.id in CODE_AT_RUN_TIME:
            self._flag(node, f"runs code built at run time ({node.id})")
        self.generic_visit(node)

    def visit_Call(self, node):
        if self._machinery(_dotted(node.func)) in ("ipytest.config", "ipytest.autoconfig"):
            self._flag(node, "changes ipytest's settings")
        name = _dotted(node.func).rsplit(".", 1)[-1]
        if name in PATCHERS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                if first.value.split(".")[0] in MACHINERY:  # mock.patch("pytest.main", ...)
                    self._flag(node, f"patches {first.value}")
            elif reached := self._machinery(_dotted(first)):  # setattr(pytest, "main", ...)
                self._flag(node, f"patches {reached}")
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str) and SOLUTIONS_PATH.search(node.value):
            self._flag(node, "reads solutions/")
        elif isinstance(node.value, str) and node.value.startswith("/proc/"):
            self._flag(node, "reads /proc")


def reaches_into_machinery(source: str) -> list[str]:
    """What a learner cell does to the grading machinery, each with its line; [] for none."""
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return []  # it cannot run either; its check says so
    reader = _Reader()
    reader.visit(tree)
    return [f"{what} (line {line})" for line, what in sorted(dict.fromkeys(reader.found))]


def flags(cells) -> list[str]:
    """One note per learner code cell that reaches into the grading machinery."""
    notes = []
    for cell in cells:
        if cell.cell_type == "code" and (found := reaches_into_machinery(cell.source)):
            what = "; ".join(found)
            notes.append(f"cell {cell.get('id', '?')} reaches into the grading machinery: {what}")
    return notes

"""The check machinery, verified around every check cell of a graded notebook.

A check cell is a `%%ipytest` cell, and its verdict is what pytest, run by ipytest in the
learner's own kernel, prints. Learner code runs in that kernel too: it could register its own
`%%ipytest`, patch pytest or ipytest, or switch the course's settings off, and print a pass.
`course.setup()` takes a snapshot of that machinery before any learner cell runs; the grader puts
a guard cell before and after each check cell (`course.grading.prepare`), which puts back
whatever was changed and fails, naming it.

This is a tripwire, not a sandbox: code in the same process could also fool the guard itself.
The grader also reads the learner's cells (`course.tampering`) and flags those that reach for
any of this, and the README says what is and is not defended.
"""

import sys
from dataclasses import dataclass, field

# Modules whose functions and classes make a check's verdict, and how its output gets out.
WATCHED_PACKAGES = ("pytest", "_pytest", "pluggy", "ipytest", "course")
WATCHED_MODULES = (
    "builtins",
    "IPython.core.interactiveshell",
    "IPython.core.magic",
    "ipykernel.iostream",
    "ipykernel.zmqshell",
)
# What the machinery itself changes as it runs: (module or class, attribute); "*" for any.
CHANGES_BY_DESIGN = {
    ("ipytest", "exit_code"),  # the last run's exit code
    ("builtins", "input"),  # ipykernel forwards input() to the front end while a cell runs
    ("course.guard", "_snapshot"),
    ("*", "_pytest_diamond_inheritance_warning_shown"),  # pytest warns once per class
    ("*", "__warningregistry__"),  # the warnings module's record of warnings shown
}


class MachineryChanged(Exception):
    """Learner code changed what decides a check's verdict (it has been put back)."""


def _watched(name: str) -> bool:
    return name in WATCHED_MODULES or any(
        name == package or name.startswith(package + ".") for package in WATCHED_PACKAGES
    )


def _classes(module) -> list[type]:
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type) and value.__module__ == module.__name__
    ]


@dataclass
class Snapshot:
    modules: dict = field(default_factory=dict)  # name -> module object
    globals: dict = field(default_factory=dict)  # name -> copy of the module's namespace
    classes: dict = field(default_factory=dict)  # class -> copy of its namespace
    magics: dict = field(default_factory=dict)  # "cell"/"line" -> copy of IPython's magics
    shell_methods: set = field(default_factory=set)  # methods shadowed on the shell instance
    hooks: dict = field(default_factory=dict)  # name -> object (sys.stdout, custom exc, ...)
    ipytest_config: dict = field(default_factory=dict)

    def add_module(self, name: str, module) -> None:
        self.modules[name] = module
        self.globals[name] = dict(vars(module))
        for cls in _classes(module):
            self.classes[cls] = dict(vars(cls))


_snapshot: Snapshot | None = None


PRE_RUN_EVENTS = ("pre_execute", "pre_run_cell")


def _transformer_lists(shell) -> tuple[list, ...]:
    manager = shell.input_transformer_manager
    return (
        shell.input_transformers_cleanup,
        shell.input_transformers_post,
        manager.cleanup_transforms,
        manager.line_transforms,
        manager.token_transformers,
    )


def _shell_hooks(shell) -> dict:
    """What, besides modules, decides what a cell runs and what it prints."""
    return {
        "sys.stdout": sys.stdout,
        "sys.stderr": sys.stderr,
        "sys.displayhook": sys.displayhook,
        "the custom exception handler": (shell.custom_exceptions, shell.CustomTB),
        "IPython's input transformers": tuple(map(tuple, _transformer_lists(shell))),
        "IPython's AST transformers": tuple(shell.ast_transformers),
        "IPython's pre-run events": tuple(
            tuple(shell.events.callbacks[event]) for event in PRE_RUN_EVENTS
        ),
    }


def watch(shell) -> None:
    """Take the snapshot: called by `course.setup()`, once per kernel, before learner code."""
    import ipytest._config

    global _snapshot
    if _snapshot is not None:
        return
    snapshot = Snapshot()
    for name, module in list(sys.modules.items()):
        if module is not None and _watched(name):
            snapshot.add_module(name, module)
    snapshot.magics = {kind: dict(shell.magics_manager.magics[kind]) for kind in ("cell", "line")}
    snapshot.shell_methods = _shadowed_methods(shell)
    snapshot.hooks = _shell_hooks(shell)
    snapshot.ipytest_config = dict(ipytest._config.current_config)
    _snapshot = snapshot


def _shadowed_methods(shell) -> set[str]:
    """Methods of the shell replaced on the instance (`shell.run_cell = ...`)."""
    return {name for name in vars(shell) if callable(getattr(type(shell), name, None))}


def _by_design(owner: str, name: str) -> bool:
    return (owner, name) in CHANGES_BY_DESIGN or ("*", name) in CHANGES_BY_DESIGN


def _module_changes(snapshot: Snapshot) -> list[str]:
    changes = []
    for name, module in snapshot.modules.items():
        if sys.modules.get(name) is not module:
            changes.append(f"sys.modules[{name!r}]")
            sys.modules[name] = module
        namespace, original = vars(module), snapshot.globals[name]
        for key, value in original.items():
            if not _by_design(name, key) and namespace.get(key, _MISSING) is not value:
                changes.append(f"{name}.{key}")
                namespace[key] = value
        for key in set(namespace) - set(original):  # a submodule imported since is no change
            if not isinstance(namespace[key], type(sys)) and not _by_design(name, key):
                changes.append(f"{name}.{key} (added)")
                del namespace[key]
    for cls, original in snapshot.classes.items():
        owner = f"{cls.__module__}.{cls.__qualname__}"
        for key, value in original.items():
            if not _by_design(owner, key) and vars(cls).get(key, _MISSING) is not value:
                changes.append(f"{owner}.{key}")
                setattr(cls, key, value)
        for key in set(vars(cls)) - set(original):
            if not _by_design(owner, key):
                changes.append(f"{owner}.{key} (added)")
                delattr(cls, key)
    for name, module in list(sys.modules.items()):  # imported since the snapshot: watch from now
        if module is not None and _watched(name) and name not in snapshot.modules:
            snapshot.add_module(name, module)
    return changes


_MISSING = object()


def _shell_changes(snapshot: Snapshot, shell) -> list[str]:
    import ipytest._config

    changes = []
    for kind, original in snapshot.magics.items():
        current = shell.magics_manager.magics[kind]
        for name in set(original) | set(current):
            if current.get(name, _MISSING) is not original.get(name, _MISSING):
                prefix = "%%" if kind == "cell" else "%"
                changes.append(f"the {prefix}{name} magic")
        current.clear()
        current.update(original)
    for name in _shadowed_methods(shell) - snapshot.shell_methods:
        changes.append(f"the shell's {name}()")
        delattr(shell, name)
    now = _shell_hooks(shell)
    if changed_hooks := [
        name for name, original in snapshot.hooks.items() if now[name] != original
    ]:
        changes += changed_hooks
        _restore_hooks(shell, snapshot.hooks, changed_hooks)
    if ipytest._config.current_config != snapshot.ipytest_config:
        changes.append("ipytest's settings")
        ipytest._config.current_config.clear()
        ipytest._config.current_config.update(snapshot.ipytest_config)
    return changes


def _restore_hooks(shell, hooks: dict, names: list[str]) -> None:
    for name in names:
        original = hooks[name]
        if name.startswith("sys."):
            setattr(sys, name.removeprefix("sys."), original)
        elif name == "the custom exception handler":
            shell.custom_exceptions, shell.CustomTB = original
        elif name == "IPython's input transformers":
            for current, kept in zip(_transformer_lists(shell), original, strict=True):
                current[:] = kept
        elif name == "IPython's AST transformers":
            shell.ast_transformers[:] = original
        elif name == "IPython's pre-run events":
            for event, kept in zip(PRE_RUN_EVENTS, original, strict=True):
                shell.events.callbacks[event][:] = kept


def verify(where: str) -> None:
    """Put the check machinery back as `course.setup()` left it; raise MachineryChanged,
    naming what learner code had changed, if anything was."""
    from IPython import get_ipython

    shell = get_ipython()
    if _snapshot is None:
        raise MachineryChanged(f"the course's set-up never ran in this kernel, found {where}")
    changes = _module_changes(_snapshot) + _shell_changes(_snapshot, shell)
    if changes:
        shown = ", ".join(dict.fromkeys(changes))
        raise MachineryChanged(f"learner code had changed {shown}, found {where} (put back)")

"""The package's layers, read from its imports: the design in docs/architecture.md, enforced.

Each package sits on one floor and imports only from floors below it (never sideways or up);
no import circle joins two files; other packages reach a package only through its curated
surface (its ``__init__``); only the command line and the demo write to an NB.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import sys
import types
import typing
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "dragonscope"

# Lowest floor first. A package may import its own modules and any package on a lower floor.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("config", "metrics", "tasks"),  # settings, the Secret type, Prometheus, task stopping
    ("nb", "graph"),  # the NB schema, parser and readers; the graph model and engine
    ("skydive", "topology"),  # the wire protocol; NB objects to graph elements
    ("gremlin", "trace", "ovs", "history"),  # queries, simulation, datapath, durable past
    ("collector", "analyzer"),  # the two services, composing the layers below
    ("demo",),  # the sample cloud, its writers and the all-in-one demo
    ("cli",),  # every command; the package's entry points
)
FLOOR = {name: level for level, names in enumerate(FLOORS) for name in names}
ENTRY_MODULES = {"dragonscope.__main__"}  # ``python -m dragonscope``: the command line
# Modules that are a surface of their own: root modules, and the NB's table-name vocabulary.
ROOT_MODULES = {
    "dragonscope",
    "dragonscope.config",
    "dragonscope.metrics",
    "dragonscope.tasks",
    "dragonscope.nb.tables",
}
NB_WRITERS = {"dragonscope.demo.writers"}
MAY_WRITE_NB = {"cli", "demo"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def package_of(module: str) -> str:
    """The top-level package (or root module) a module belongs to."""
    if module == "dragonscope":
        return "config"  # the root holds only the version
    parts = module.split(".")
    return "cli" if module in ENTRY_MODULES else parts[1]


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Every dragonscope module a file imports, at any depth (lazy imports count too)."""
    me = module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("dragonscope")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me.split(".")[: len(me.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("dragonscope"):
                continue
            bound = surface_names(known[target]) if target in known else set()
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known and alias.name not in bound else target)
    return {m for m in found if m in known and m != me}


def surface_names(path: Path) -> set[str]:
    """Names a package's ``__init__`` binds itself: ``from pkg import x`` then means that x."""
    if path.name != "__init__.py":
        return set()
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) for name, path in known.items()}


def test_every_package_has_a_floor() -> None:
    packages = {package_of(m) for m in modules()}
    assert packages <= set(FLOOR), f"packages without a floor: {packages - set(FLOOR)}"


def test_imports_follow_the_floors() -> None:
    wrong = []
    for module, targets in graph().items():
        mine = package_of(module)
        for target in targets:
            theirs = package_of(target)
            if theirs != mine and FLOOR[theirs] >= FLOOR[mine]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the floor order:\n" + "\n".join(sorted(wrong))


def test_no_import_circles() -> None:
    """Tarjan's strongly connected components over the file-level import graph."""
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_other_packages_use_the_surface() -> None:
    """From outside a package, import the package (or a sub-package), never one of its files."""
    known = modules()
    packages = {m for m, p in known.items() if p.name == "__init__.py"}
    wrong = []
    for module, targets in graph().items():
        for target in targets:
            if package_of(target) == package_of(module) or target in packages:
                continue
            if target in ROOT_MODULES:  # a root module is its own surface
                continue
            wrong.append(f"{module} -> {target}")
    assert not wrong, "imports past a package's surface:\n" + "\n".join(sorted(wrong))


def test_every_surface_declares_all() -> None:
    missing = []
    for module, path in modules().items():
        if path.name != "__init__.py" or module == "dragonscope":
            continue
        tree = ast.parse(path.read_text())
        names = {
            t.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        if "__all__" not in names or not ast.get_docstring(tree):
            missing.append(module)
    assert not missing, f"packages without a docstring and __all__: {missing}"


def test_only_the_command_line_and_the_demo_write_to_an_nb() -> None:
    writers = defaultdict(list)
    for module, targets in graph().items():
        for target in targets & NB_WRITERS:
            if package_of(module) not in MAY_WRITE_NB:
                writers[target].append(module)
    assert not writers, f"NB writers imported by services or core packages: {dict(writers)}"


def test_the_check_sees_the_real_imports() -> None:
    """Guards the reader itself: known arrows must be found."""
    edges = graph()
    assert "dragonscope.graph" in edges["dragonscope.topology.engine"] or any(
        t.startswith("dragonscope.graph") for t in edges["dragonscope.topology.engine"]
    )
    assert any(t.startswith("dragonscope.analyzer") for t in edges["dragonscope.cli.analyzer"])


# -- no Any at the seams -------------------------------------------------------------
# A surface's signatures say what crosses between packages. A JSON document may be typed
# ``dict[str, Any]``/``list[Any]`` or the JSON alias; a bare ``Any`` says nothing.


def surfaces() -> dict[str, ModuleType]:
    """Every package surface and root module, imported."""
    names = [m for m, p in modules().items() if p.name == "__init__.py"] + sorted(ROOT_MODULES)
    return {name: importlib.import_module(name) for name in sorted(set(names))}


def exported(module: ModuleType) -> dict[str, object]:
    """A surface's ``__all__``; for a root module without one, the public names it defines."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
        ]
    return {name: getattr(module, name) for name in names}


def is_bare_any(hint: object) -> bool:
    """``Any`` itself, or a union with ``Any`` as a member (``Any | None``)."""
    if hint is Any:
        return True
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(arg is Any for arg in typing.get_args(hint))
    return False


def hints(obj: object, names: dict[str, object]) -> dict[str, object]:
    """Resolved annotations; a name imported only for the type checker is looked up in
    ``names`` (every name the package's modules define), the module's own names first."""
    try:
        return typing.get_type_hints(obj)
    except NameError:
        own = vars(sys.modules[getattr(obj, "__module__", "")])
        return typing.get_type_hints(obj, localns={**names, **own})


def seams(name: str, obj: object, names: dict[str, object]) -> Iterator[tuple[str, object]]:
    """(where, type) for each parameter, return, public method and dataclass field of ``obj``."""
    if inspect.isclass(obj):
        if dataclasses.is_dataclass(obj):
            fields = hints(obj, names)
            for f in dataclasses.fields(obj):
                yield f"{name}.{f.name}", fields[f.name]
        for klass in obj.__mro__:
            if not klass.__module__.startswith("dragonscope"):
                continue
            for attr, member in vars(klass).items():
                if attr.startswith("_") and attr not in ("__init__", "__call__"):
                    continue
                if isinstance(member, staticmethod | classmethod):
                    member = member.__func__
                elif isinstance(member, property):
                    member = member.fget
                if inspect.isfunction(member):
                    yield from seams(f"{name}.{attr}", member, names)
    elif inspect.isfunction(obj):
        # An overloaded function's signatures are its overloads, not the implementation's.
        for signature in typing.get_overloads(obj) or [obj]:
            for param, hint in hints(signature, names).items():
                yield f"{name}({param})" if param != "return" else f"{name} -> return", hint


def test_no_bare_any_at_the_seams() -> None:
    found = {m: exported(module) for m, module in surfaces().items()}
    everything = {
        n: v
        for m, module in sorted(sys.modules.items())
        if m.startswith("dragonscope.")
        for n, v in vars(module).items()
        if not n.startswith("_")
    }
    wrong = sorted(
        {
            f"{module}.{where}"
            for module, names in found.items()
            for name, obj in names.items()
            for where, hint in seams(name, obj, everything)
            if is_bare_any(hint)
        }
    )
    assert not wrong, "bare Any in public signatures:\n" + "\n".join(wrong)


def test_the_seam_check_sees_the_signatures() -> None:
    """Guards the reader: methods, fields and overloads are seen, ``Any`` is told apart."""
    import dragonscope.gremlin
    import dragonscope.nb
    import dragonscope.skydive

    found = dict(seams("NbObject", dragonscope.nb.NbObject, {}))
    assert found["NbObject.get -> return"] is object
    assert "NbObject.table" in found
    runs = [
        h for w, h in seams("Q", dragonscope.gremlin.CompiledQuery, {}) if w == "Q.run -> return"
    ]
    assert len(runs) == 2  # one per overload
    assert "Message.obj" in dict(seams("Message", dragonscope.skydive.Message, {}))
    assert is_bare_any(Any) and is_bare_any(Any | None)
    assert not is_bare_any(dict[str, Any]) and not is_bare_any(list[Any])

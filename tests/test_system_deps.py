"""Every external program a test, benchmark or script starts is in the one program list.

The list (scripts/system_deps.py) is what `make test` installs from; a program started
somewhere but missing from it would work only on machines that happen to have it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from servers import PROGRAMS

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("tests", "bench", "scripts")
BASE_SYSTEM = {"apt-get"}  # the installer's own tool, on every Debian machine
_RUNNERS = {"run", "Popen", "check_output", "check_call", "call", "create_subprocess_exec"}


def _first_string(node: ast.AST) -> str | None:
    if isinstance(node, ast.List | ast.Tuple) and node.elts:
        first = node.elts[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def started_programs(tree: ast.AST) -> set[str]:
    """Program names in command lists given to subprocess, `command()` methods, which/require."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in _RUNNERS and node.args:
                program = _first_string(node.args[0])
                if program is None and isinstance(node.args[0], ast.Constant):
                    program = node.args[0].value if name == "create_subprocess_exec" else None
                if isinstance(program, str):
                    found.add(program)
            if name in {"which", "require"} and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
        elif isinstance(node, ast.FunctionDef) and node.name == "command":
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and ret.value is not None:
                    program = _first_string(ret.value)
                    if program:
                        found.add(program)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and str(Path(node.value).parent) in {"/usr/bin", "/usr/sbin"}
            and " " not in node.value
        ):
            found.add(node.value)
    return {Path(p).name for p in found}


def test_every_started_program_is_listed() -> None:
    unlisted: dict[str, list[str]] = {}
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for program in started_programs(ast.parse(path.read_text(), str(path))):
                if program not in PROGRAMS and program not in BASE_SYSTEM:
                    unlisted.setdefault(program, []).append(str(path.relative_to(ROOT)))
    assert not unlisted, f"programs started but missing from scripts/system_deps.py: {unlisted}"


def test_every_listed_program_is_started_somewhere() -> None:
    started: set[str] = set()
    for folder in SCANNED:
        for path in (ROOT / folder).rglob("*.py"):
            started |= started_programs(ast.parse(path.read_text(), str(path)))
    assert set(PROGRAMS) <= started, f"listed but never started: {set(PROGRAMS) - started}"


def test_the_scan_sees_the_known_programs() -> None:
    """Guards the scanner itself: the servers and helpers it must find."""
    started = started_programs(ast.parse((ROOT / "tests" / "servers.py").read_text()))
    assert {"etcd", "etcdctl", "redis-server", "openssl"} <= started

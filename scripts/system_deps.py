"""The external programs dragonscope's tests, benchmarks and demo drive, and their Debian packages.

This is the one list: `make system-deps` installs from it, `make test` checks it before running
pytest, and the test fixtures name the package from it when a program is missing.  Run with the
system Python (no venv needed): `python3 scripts/system_deps.py install|check|packages`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# program -> Debian package that ships it
PROGRAMS: dict[str, str] = {
    "etcd": "etcd-server",
    "etcdctl": "etcd-client",
    "redis-server": "redis-server",
    "chromium": "chromium",
    "openssl": "openssl",
    "initdb": "postgresql-15",
    "postgres": "postgresql-15",
    "npm": "nodejs",
    "ovsdb-tool": "openvswitch-common",
    "ovsdb-server": "openvswitch-common",
    "ovs-vswitchd": "openvswitch-switch",
    "ovs-vsctl": "openvswitch-switch",
    "ovs-ofctl": "openvswitch-common",
    "ovs-appctl": "openvswitch-common",
}
# Debian keeps some programs out of PATH: ovs-vswitchd (started by its init script)
# and PostgreSQL's server binaries.
EXTRA_DIRS = ("/usr/lib/openvswitch-switch", "/usr/lib/postgresql/15/bin")


def which(program: str) -> str | None:
    """The program's path, looking in PATH and then in EXTRA_DIRS."""
    path = os.pathsep.join([os.environ.get("PATH", os.defpath), *EXTRA_DIRS])
    return shutil.which(program, path=path)


def missing_programs() -> list[str]:
    return [program for program in PROGRAMS if which(program) is None]


def missing_packages() -> list[str]:
    return sorted({PROGRAMS[program] for program in missing_programs()})


def install() -> int:
    packages = missing_packages()
    if not packages:
        return 0
    print("installing:", " ".join(packages), flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)
    return check()


def check() -> int:
    missing = missing_programs()
    for program in missing:
        print(
            f"missing program {program!r}: install the Debian package {PROGRAMS[program]!r}",
            file=sys.stderr,
        )
    return 1 if missing else 0


def main(argv: list[str]) -> int:
    commands = {"install": install, "check": check}
    if len(argv) != 2 or argv[1] not in (*commands, "packages"):
        print("usage: system_deps.py install|check|packages", file=sys.stderr)
        return 2
    if argv[1] == "packages":
        print(" ".join(sorted(set(PROGRAMS.values()))))
        return 0
    return commands[argv[1]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv))

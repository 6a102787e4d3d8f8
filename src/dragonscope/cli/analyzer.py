"""``dragonscope analyzer``: run the analyzer, or manage its users file (``adduser``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import signal
import sys
from pathlib import Path

from dragonscope.analyzer import (
    DEFAULT_HISTORY_RETENTION,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_TOKEN_TTL,
    LIMITS,
    ROLES,
    AnalyzerSettings,
    UsersFileError,
    add_user,
)
from dragonscope.cli.common import CliError, Subparsers, operator_errors, stop_on_signals
from dragonscope.graph import duration_ms
from dragonscope.history import check_url

log = logging.getLogger("dragonscope.analyzer")
PASSWORD_ENV = "DRAGONSCOPE_PASSWORD"


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    host = host.strip("[]") or DEFAULT_HOST
    number = int(port)
    if number > 65535:
        raise argparse.ArgumentTypeError(f"port {number} is out of range")
    return host, number


def parse_duration(value: str) -> float:
    """``90`` (seconds), ``90s``, ``15m``, ``24h``, ``7d`` → seconds."""
    text = value.strip()
    ms = float(text) * 1000 if text.replace(".", "", 1).isdigit() else duration_ms(text)
    if ms is None or ms < 0 or text.startswith(("+", "-")):
        raise argparse.ArgumentTypeError(
            f"expected a duration like 90s, 15m, 24h or 7d, got {value!r}"
        )
    return ms / 1000


_SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
               "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # fmt: skip


def parse_size(value: str) -> int:
    """``5GiB``, ``500MB``, ``1048576`` → bytes."""
    text = value.strip().upper().replace(" ", "")
    digits = text.rstrip("KMGTIB")
    unit = text[len(digits) :]
    try:
        number = float(digits)
    except ValueError:
        number = -1
    if unit not in _SIZE_UNITS or number <= 0:
        raise argparse.ArgumentTypeError(f"expected a size like 500MB or 5GiB, got {value!r}")
    return int(number * _SIZE_UNITS[unit])


HISTORY_ENV = "DRAGONSCOPE_HISTORY"


def default_history() -> str:
    """The history file under the analyzer's data directory: /var/lib/dragonscope for
    root, the user's state directory otherwise."""
    if os.geteuid() == 0:
        base = Path("/var/lib/dragonscope")
    else:
        state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        base = Path(state) / "dragonscope"
    return f"sqlite://{base / 'history.db'}"


def parse_history(value: str) -> str:
    if value == "memory":
        return value
    try:
        return check_url(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "analyzer",
        help="run the Skydive-compatible analyzer",
        description="Run the analyzer: publishers connect to /ws/publisher, the UI and "
        "skydive-client to the same address. SIGHUP re-reads the users file.",
    )
    parser.add_argument(
        "--listen",
        type=parse_listen,
        default=(DEFAULT_HOST, DEFAULT_PORT),
        metavar="HOST:PORT",
        help=f"address to listen on (default {DEFAULT_HOST}:{DEFAULT_PORT})",
    )
    parser.add_argument("--users", type=Path, metavar="FILE", help="users file: turns auth on")
    parser.add_argument(
        "--token-ttl",
        type=parse_duration,
        default=DEFAULT_TOKEN_TTL,
        metavar="DURATION",
        help="lifetime of login tokens (default 12h)",
    )
    parser.add_argument("--tls-cert", type=Path, metavar="FILE", help="PEM certificate (HTTPS/WSS)")
    parser.add_argument("--tls-key", type=Path, metavar="FILE", help="PEM private key")
    parser.add_argument(
        "--history-retention",
        type=parse_duration,
        default=DEFAULT_HISTORY_RETENTION,
        metavar="DURATION",
        help="how long graph changes are kept (default 24h)",
    )
    parser.add_argument(
        "--history",
        type=parse_history,
        default=os.environ.get(HISTORY_ENV) or None,
        metavar="URL",
        help="where history is kept: sqlite:///path/history.db, postgresql://user@host/db "
        f"(shared by several analyzers), or memory (env {HISTORY_ENV}; default: a file "
        "under /var/lib/dragonscope, or ~/.local/state/dragonscope when not root)",
    )
    parser.add_argument(
        "--history-max-size",
        type=parse_size,
        default=None,
        metavar="SIZE",
        help="bound on the history's size on disk, e.g. 5GiB (default: by retention only)",
    )
    parser.add_argument(
        "--skydive-ui",
        type=Path,
        metavar="DIR",
        help="also serve Skydive's web UI v2 at /skydive/ from DIR, the directory of the "
        "npm package @skydive-project/skydive-ui (or its dist/)",
    )
    parser.add_argument(
        "--tenant-names",
        type=Path,
        metavar="FILE",
        help="project names shown instead of ids: 'project_id name' lines (re-read on change)",
    )
    parser.add_argument(
        "--keystone-cloud",
        metavar="CLOUD",
        help="read project names from Keystone (openstacksdk, this clouds.yaml entry; "
        "'' for the OS_* environment)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="allow listening on a non-loopback address without authentication",
    )
    limits = parser.add_argument_group(
        "limits", "bounds on what clients may send and cost (docs/analyzer.md, Limits)"
    )
    defaults = AnalyzerSettings()
    for name in LIMITS:
        default = getattr(defaults, name)
        limits.add_argument(
            "--" + name.replace("_", "-"),
            type=type(default),
            default=default,
            metavar="N",
            help=f"default {default}",
        )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a DNS name clients reach the analyzer by, besides localhost, this machine's "
        "names and IP addresses (repeatable; '*' turns the Host check off)",
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="URL",
        help="scheme://host[:port] of web pages, besides the analyzer's own, that may "
        "write with a user's cookie (repeatable), e.g. a UI served elsewhere",
    )
    parser.set_defaults(func=run)
    sub = parser.add_subparsers(dest="analyzer_command", metavar="SUBCOMMAND")
    adduser = sub.add_parser(
        "adduser",
        help="create or update a user in a users file",
        description=f"The password is read from ${PASSWORD_ENV}, else from stdin when it is "
        "not a terminal, else prompted for twice.",
    )
    adduser.add_argument("file", type=Path, metavar="FILE")
    adduser.add_argument("name", metavar="NAME")
    adduser.add_argument("--role", choices=ROLES, default="reader")
    adduser.set_defaults(func=run_adduser)


def _read_password() -> str:
    if PASSWORD_ENV in os.environ:
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise CliError("the passwords differ")
    return first


def run_adduser(args: argparse.Namespace) -> int:
    try:
        created = add_user(args.file, args.name, args.role, _read_password())
    except UsersFileError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {args.file}: {exc.strerror or exc}") from None
    print(f"{'added' if created else 'updated'} {args.name} ({args.role}) in {args.file}")
    return 0


def settings_from_args(args: argparse.Namespace) -> AnalyzerSettings:
    host, port = args.listen
    return AnalyzerSettings(
        host=host,
        port=port,
        users_file=args.users,
        token_ttl=args.token_ttl,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        history_retention=args.history_retention,
        history=None if args.history == "memory" else args.history or default_history(),
        history_max_size=args.history_max_size,
        insecure=args.insecure,
        skydive_ui=args.skydive_ui,
        gc_freeze=True,
        project_names_file=args.tenant_names,
        keystone_cloud=args.keystone_cloud,
        **{name: getattr(args, name) for name in LIMITS},
        allowed_hosts=tuple(args.allowed_host),
        allowed_origins=tuple(args.allowed_origin),
    )


async def serve(settings: AnalyzerSettings) -> None:
    from dragonscope.analyzer import Analyzer

    analyzer = Analyzer(settings)
    await analyzer.start()
    stop = asyncio.Event()
    stop_on_signals(stop.set)
    loop = asyncio.get_running_loop()

    def reload() -> None:
        try:
            analyzer.reload_users()
        except UsersFileError as exc:
            log.error("users file not reloaded, keeping the current users: %s", exc)

    with contextlib.suppress(NotImplementedError, AttributeError):
        loop.add_signal_handler(signal.SIGHUP, reload)
    print(f"dragonscope analyzer listening on {analyzer.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await analyzer.stop()


def run(args: argparse.Namespace) -> int:
    from dragonscope.analyzer import AnalyzerError

    with operator_errors(AnalyzerError, UsersFileError):
        asyncio.run(serve(settings_from_args(args)))
    return 0

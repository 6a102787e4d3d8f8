"""The users file: one ``name:role:argon2-hash`` line per user, ``#`` comments.

Only hashes are stored; ``add_user`` is how an operator creates or changes an
entry (the CLI's ``analyzer adduser``). ``PasswordVerifier`` checks passwords
off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ROLES = ("admin", "publisher", "reader")
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_hasher = PasswordHasher()
WORKER_NICENESS = 10


class UsersFileError(ValueError):
    """The users file cannot be used; the text names the file and line."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    password_hash: str

    def __repr__(self) -> str:  # never print the hash
        return f"User(name={self.name!r}, role={self.role!r})"

    @property
    def generation(self) -> str:
        """Changes with every password change (each hash has a fresh salt): what a token
        is bound to, so that a new password revokes the tokens of the old one."""
        return self.password_hash.rsplit("$", 1)[-1]


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise UsersFileError(
            f"invalid user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'"
        )


def check_role(role: str) -> None:
    if role not in ROLES:
        raise UsersFileError(f"invalid role {role!r}: one of {', '.join(ROLES)}")


def load_users(path: Path) -> dict[str, User]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsersFileError(f"cannot read users file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsersFileError(f"users file {path} is not UTF-8 text") from None
    users: dict[str, User] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":", 2)
        where = f"{path}:{number}"
        if len(parts) != 3:
            raise UsersFileError(f"{where}: expected name:role:hash")
        name, role, password_hash = parts
        try:
            check_name(name)
            check_role(role)
        except UsersFileError as exc:
            raise UsersFileError(f"{where}: {exc}") from None
        if not password_hash.startswith("$argon2"):
            raise UsersFileError(f"{where}: the password must be an argon2 hash (see adduser)")
        if name in users:
            raise UsersFileError(f"{where}: user {name!r} appears twice")
        users[name] = User(name, role, password_hash)
    return users


def verify_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class LoginsBusy(Exception):
    """Too many password checks are queued: the caller answers 429 at once."""


class PasswordVerifier:
    """Argon2 checks in a small thread pool, so that a burst of logins never stalls
    the event loop (argon2 releases the GIL). A name that matches no user is checked
    against a dummy hash made with a real user's parameters, so that the time to
    answer does not tell which users exist. At most ``max_pending`` checks wait, and
    the workers run at a lower CPU priority, so that the event loop (and ``/healthz``)
    keeps answering while they hash."""

    def __init__(self, workers: int | None = None, max_pending: int = 16) -> None:
        self.workers = workers or max(1, (os.cpu_count() or 2) // 2)
        self.max_pending = max_pending
        self.pending = 0
        self._pool = ThreadPoolExecutor(
            self.workers, thread_name_prefix="password-check", initializer=_yield_to_the_loop
        )
        self._dummy: Future[str] | None = None

    def reference(self, users: dict[str, User]) -> None:
        """Make the dummy hash (in the pool, now) with the parameters of the users' hashes."""
        sample = next((u.password_hash for u in users.values()), None)
        self._dummy = self._pool.submit(_dummy_hash, sample)

    async def verify(self, user: User | None, password: str) -> bool:
        if self.pending >= self.max_pending:
            raise LoginsBusy
        self.pending += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, self._verify, user, password)
        finally:
            self.pending -= 1

    def _verify(self, user: User | None, password: str) -> bool:
        if user is not None:
            return verify_password(user, password)
        if self._dummy is None:
            self._dummy = Future()
            self._dummy.set_result(_dummy_hash(None))
        verify_password(User("", "", self._dummy.result()), password)
        return False

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _yield_to_the_loop() -> None:
    """Lower this worker's priority (on Linux a thread's own, inherited by the threads
    argon2 starts for its lanes); where that is not possible, run as is."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)


def _dummy_hash(sample: str | None) -> str:
    hasher = _hasher
    if sample is not None:
        with contextlib.suppress(InvalidHashError):
            hasher = PasswordHasher.from_parameters(extract_parameters(sample))
    return hasher.hash(secrets.token_urlsafe(16))


def add_user(path: Path, name: str, role: str, password: str) -> bool:
    """Create or replace ``name``'s entry; returns True when the user is new."""
    check_name(name)
    check_role(role)
    if not password:
        raise UsersFileError("the password cannot be empty")
    lines: list[str] = []
    if path.exists():
        load_users(path)  # refuse to rewrite a file we cannot parse
        lines = path.read_text(encoding="utf-8").splitlines()
    entry = f"{name}:{role}:{_hasher.hash(password)}"
    is_new = True
    for index, line in enumerate(lines):
        if line.strip().split(":", 1)[0] == name:
            lines[index] = entry
            is_new = False
    if is_new:
        lines.append(entry)
    fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return is_new

"""Roles, password hashes and sign-in for teachers and admins. Students have no password.

Accounts live in `.streamlit/secrets.toml` as `[auth.users.NAME]` tables (role, password_hash)
or in NONESTORY_TEACHER_PASSWORD_HASH / NONESTORY_ADMIN_PASSWORD_HASH. Only salted PBKDF2
hashes are ever stored; passwords and hashes are never logged or printed, except the one hash
that `python -m core auth hash` prints for the user to paste.

This module never imports streamlit, so the command line and tests can use it directly.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import getpass
import hashlib
import hmac
import json
import os
import re
import sys
from dataclasses import dataclass
from enum import Enum

from core import settings
from core.i18n import N_, _

ALGORITHM = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 240_000
SALT_BYTES = 16
ENV_HASHES = {"teacher": "NONESTORY_TEACHER_PASSWORD_HASH", "admin": "NONESTORY_ADMIN_PASSWORD_HASH"}
WRONG = N_("Wrong name or password.")  # translated where shown


class AuthError(Exception):
    """A problem the user can fix; one sentence for stderr, exit status 2."""


class Role(str, Enum):
    STUDENT = "student"
    TEACHER = "teacher"
    ADMIN = "admin"


_RANK = {Role.STUDENT: 0, Role.TEACHER: 1, Role.ADMIN: 2}


def role_allows(role: Role, needed: Role) -> bool:
    """True when `role` may use what `needed` may: admin ⊇ teacher ⊇ student."""
    return _RANK[Role(role)] >= _RANK[Role(needed)]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = DEFAULT_ITERATIONS) -> str:
    """`pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>` with a fresh 16-byte salt."""
    if iterations < 1:
        raise ValueError("iterations must be positive")
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{ALGORITHM}${iterations}${_b64(salt)}${_b64(digest)}"


def _parse(encoded: str) -> tuple[int, bytes, bytes] | None:
    """(iterations, salt, digest), or None for anything not in hash_password's format."""
    parts = encoded.strip().split("$") if isinstance(encoded, str) else []
    if len(parts) != 4 or parts[0] != ALGORITHM or not parts[1].isdigit():
        return None
    try:
        salt = base64.b64decode(parts[2], validate=True)
        digest = base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        return None
    iterations = int(parts[1])
    # A 0-iteration or empty-digest "hash" would match too easily; treat it as malformed.
    if iterations < 1 or not salt or len(digest) != hashlib.sha256().digest_size:
        return None
    return iterations, salt, digest


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches `encoded`; False (never an exception) when malformed."""
    parsed = _parse(encoded)
    if parsed is None or not isinstance(password, str):
        return False
    iterations, salt, expected = parsed
    actual = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    password_hash: str

    def __repr__(self) -> str:  # keep the hash out of logs and tracebacks
        return f"Account(name={self.name!r}, role={self.role.value!r})"


def _file_accounts() -> dict[str, Account]:
    auth = settings.read_secrets().get("auth")
    users = auth.get("users") if isinstance(auth, dict) else None
    found: dict[str, Account] = {}
    for name, entry in users.items() if isinstance(users, dict) else ():
        if not isinstance(entry, dict):
            continue
        role, password_hash = entry.get("role"), entry.get("password_hash")
        # Students never sign in, so only teacher/admin entries make accounts.
        if role in (Role.TEACHER.value, Role.ADMIN.value) and isinstance(password_hash, str) and password_hash.strip():
            found[name] = Account(name, Role(role), password_hash.strip())
    return found


def accounts() -> dict[str, Account]:
    """Configured teacher/admin accounts by name; environment variables win over the file."""
    found = _file_accounts()
    for name, var in ENV_HASHES.items():
        value = os.environ.get(var, "").strip()
        if value:
            found[name] = Account(name, Role(name), value)
    return found


def _dummy_hash(known: dict[str, Account]) -> str:
    """A hash no password matches, costing as many iterations as a real account's, so an
    unknown name takes as long to reject as a wrong password does."""
    counts = [p[0] for p in (_parse(a.password_hash) for a in known.values()) if p]
    iterations = max(counts, default=DEFAULT_ITERATIONS)
    return f"{ALGORITHM}${iterations}${_b64(bytes(SALT_BYTES))}${_b64(bytes(32))}"


def authenticate(name: str, password: str) -> Account | None:
    """The account when name and password match, else None (same cost either way)."""
    known = accounts()
    account = known.get((name or "").strip())
    encoded = account.password_hash if account else _dummy_hash(known)
    ok = verify_password(password or "", encoded)
    return account if ok and account is not None else None


# --- command line -------------------------------------------------------------------------

def _read_password(confirm: bool) -> str:
    """Typed twice (hidden) at a terminal; one line from stdin otherwise, so scripts can pipe it."""
    stdin = sys.stdin
    if stdin is not None and stdin.isatty():
        try:
            first = getpass.getpass(_("Password: "))
            if confirm and getpass.getpass(_("Again: ")) != first:
                raise AuthError(_("The two passwords differ; nothing was printed."))
        except EOFError:
            first = ""
        return first
    line = stdin.readline() if stdin is not None else ""
    return line.rstrip("\r\n")  # only the line ending: spaces may be part of the password


def cmd_hash(args: argparse.Namespace) -> int:
    password = _read_password(confirm=True)
    if not password:
        raise AuthError(_("The password is empty; type one, or pipe it on stdin."))
    encoded = hash_password(password)
    print(encoded)
    print(_paste_hint(args.name, args.role, encoded), file=sys.stderr)
    return 0


def _paste_hint(name: str, role: str, encoded: str) -> str:
    """Where the hash goes; on stderr so stdout stays exactly the hash for scripts."""
    key = name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)  # TOML bare key or quoted
    hint = (_("Paste into .streamlit/secrets.toml:") + f'\n[auth.users.{key}]\nrole = "{role}"\n'
            f'password_hash = "{encoded}"')
    var = ENV_HASHES.get(name)
    if var and role == name:
        # The hash contains '$', so a shell would expand it inside double quotes.
        hint += "\n" + _("or set the environment variable {variable}='<the hash>' (single quotes).").format(
            variable=var)
    return hint


def cmd_check(args: argparse.Namespace) -> int:
    account = authenticate(args.name, _read_password(confirm=False))
    if account is None:
        raise AuthError(_(WRONG))
    print(_("ok ({role})").format(role=account.role.value))
    return 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Adds `auth hash` and `auth check NAME` to a `python -m core` style parser."""
    auth = subparsers.add_parser("auth", help=_("teacher/admin passwords"))
    sub = auth.add_subparsers(dest="auth_command", required=True)
    h = sub.add_parser("hash", help=_("print a password hash to paste into secrets.toml"))
    h.add_argument("--name", default="teacher", help=_("account name for the paste hint"))
    h.add_argument("--role", choices=[Role.TEACHER.value, Role.ADMIN.value], default="teacher",
                   help=_("role for the paste hint"))
    h.set_defaults(func=cmd_hash)
    c = sub.add_parser("check", help=_("check a name and password against the configured accounts"))
    c.add_argument("name")
    c.set_defaults(func=cmd_check)

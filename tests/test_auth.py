"""Password hashes, accounts from secrets.toml and the environment, the `auth` command line,
and the sidebar sign-in guarding a teacher page (AppTest). No mocks: real files, real
subprocesses, real Streamlit script runs."""
from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.auth import (Account, AuthError, Role, accounts, authenticate, hash_password,
                       role_allows, verify_password)

ROOT = Path(__file__).resolve().parent.parent
FAST = 1000  # iterations for test hashes; verify reads the count from the string


def write_secrets(users: dict[str, tuple[str, str]]) -> Path:
    """users: name -> (role, password); written where conftest points NONESTORY_SECRETS."""
    path = Path(os.environ["NONESTORY_SECRETS"])
    blocks = [f'[auth.users.{name}]\nrole = "{role}"\npassword_hash = "{hash_password(pw, iterations=FAST)}"\n'
              for name, (role, pw) in users.items()]
    path.write_text('title = "x"\n\n' + "\n".join(blocks), encoding="utf-8")
    return path


# --- hashes -------------------------------------------------------------------------------

def test_hash_round_trip_and_wrong_password():
    encoded = hash_password("秘密 pass", iterations=FAST)
    assert encoded.startswith(f"pbkdf2_sha256${FAST}$")
    assert verify_password("秘密 pass", encoded)
    assert not verify_password("秘密 pass ", encoded)
    assert not verify_password("", encoded)


def test_default_iterations_are_in_the_string():
    assert hash_password("x", salt=b"0" * 16).split("$")[1] == "240000"


def test_same_password_hashes_differ_by_salt():
    a, b = hash_password("same", iterations=FAST), hash_password("same", iterations=FAST)
    assert a != b and a.split("$")[2] != b.split("$")[2]
    assert verify_password("same", a) and verify_password("same", b)


@pytest.mark.parametrize("bad", [
    "", "plain-text-password", "pbkdf2_sha256$1000$abc", "md5$1000$c2FsdA==$aGFzaA==",
    "pbkdf2_sha256$x$c2FsdA==$aGFzaA==", "pbkdf2_sha256$0$c2FsdA==$" + "A" * 44,
    "pbkdf2_sha256$1000$not base64!$aGFzaA==", "pbkdf2_sha256$1000$c2FsdA==$aGFzaA==",  # short digest
    "pbkdf2_sha256$1000$$" + "A" * 44, "pbkdf2_sha256$-5$c2FsdA==$" + "A" * 44,
])
def test_malformed_hashes_are_false_not_errors(bad):
    assert verify_password("anything", bad) is False


def test_verify_tolerates_non_string_hash():
    assert verify_password("x", None) is False  # type: ignore[arg-type]


def test_roles_admin_includes_teacher():
    assert role_allows(Role.ADMIN, Role.TEACHER) and role_allows(Role.ADMIN, Role.ADMIN)
    assert role_allows(Role.TEACHER, Role.TEACHER) and not role_allows(Role.TEACHER, Role.ADMIN)
    assert role_allows(Role.STUDENT, Role.STUDENT) and not role_allows(Role.STUDENT, Role.TEACHER)
    assert Role("teacher") is Role.TEACHER and Role.TEACHER == "teacher"


# --- accounts -----------------------------------------------------------------------------

def test_no_secrets_file_means_no_accounts():
    assert accounts() == {}


def test_accounts_from_secrets_file_skip_bad_entries():
    path = write_secrets({"sato": ("teacher", "pw1"), "boss": ("admin", "pw2"), "kid": ("student", "pw3"),
                          "odd": ("janitor", "pw4")})
    with path.open("a", encoding="utf-8") as f:
        f.write('\n[auth.users.nohash]\nrole = "teacher"\n\n[auth.users.blank]\nrole = "teacher"\npassword_hash = ""\n')
    found = accounts()
    assert set(found) == {"sato", "boss"}
    assert found["sato"].role is Role.TEACHER and found["boss"].role is Role.ADMIN
    assert verify_password("pw1", found["sato"].password_hash)
    assert "pbkdf2" not in repr(found["sato"])  # the hash stays out of logs and tracebacks


def test_unparseable_secrets_file_means_no_accounts():
    Path(os.environ["NONESTORY_SECRETS"]).write_text("[auth.users.x\nrole = ", encoding="utf-8")
    assert accounts() == {}


def test_environment_accounts_win_over_file(monkeypatch):
    write_secrets({"teacher": ("teacher", "from-file"), "sato": ("teacher", "pw1")})
    monkeypatch.setenv("NONESTORY_TEACHER_PASSWORD_HASH", hash_password("from-env", iterations=FAST))
    monkeypatch.setenv("NONESTORY_ADMIN_PASSWORD_HASH", hash_password("root", iterations=FAST))
    found = accounts()
    assert set(found) == {"teacher", "admin", "sato"}
    assert found["admin"].role is Role.ADMIN
    assert authenticate("teacher", "from-env") == found["teacher"]
    assert authenticate("teacher", "from-file") is None
    assert authenticate("admin", "root").role is Role.ADMIN


def test_authenticate_known_unknown_wrong():
    write_secrets({"sato": ("teacher", "pw1")})
    account = authenticate("sato", "pw1")
    assert account == Account("sato", Role.TEACHER, accounts()["sato"].password_hash)
    assert authenticate(" sato ", "pw1") == account  # stray spaces from a phone keyboard
    assert authenticate("sato", "PW1") is None
    assert authenticate("nobody", "pw1") is None
    assert authenticate("", "") is None


# --- command line (real subprocess) ---------------------------------------------------------

CLI = """
import argparse, sys
import core.auth as a
p = argparse.ArgumentParser()
s = p.add_subparsers(dest="cmd", required=True)
a.add_cli(s)
args = p.parse_args()
try:
    raise SystemExit(args.func(args))
except a.AuthError as exc:  # what core/__main__.py does with user errors
    print(f"error: {exc}", file=sys.stderr)
    raise SystemExit(2)
"""


def run_cli(tmp_path: Path, *argv: str, stdin: str) -> subprocess.CompletedProcess:
    script = tmp_path / "cli.py"
    script.write_text(CLI, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(script), *argv], input=stdin, capture_output=True,
                          text=True, env=env, timeout=60, cwd=tmp_path)


def test_cli_hash_prints_a_verifiable_hash(tmp_path):
    done = run_cli(tmp_path, "auth", "hash", stdin="s3cret pw\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and verify_password("s3cret pw", lines[0])
    assert not verify_password("s3cret pw\n", lines[0])
    assert "[auth.users.teacher]" in done.stderr and "secrets.toml" in done.stderr
    assert "s3cret" not in done.stdout + done.stderr  # the password itself is never echoed


def test_cli_hash_admin_hint(tmp_path):
    done = run_cli(tmp_path, "auth", "hash", "--name", "boss", "--role", "admin", stdin="pw\n")
    assert done.returncode == 0 and '[auth.users.boss]\nrole = "admin"' in done.stderr


@pytest.mark.parametrize("stdin", ["", "\n"])
def test_cli_hash_refuses_empty_password(tmp_path, stdin):
    done = run_cli(tmp_path, "auth", "hash", stdin=stdin)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and "empty" in done.stderr


def test_cli_check(tmp_path):
    write_secrets({"sato": ("teacher", "pw1")})
    ok = run_cli(tmp_path, "auth", "check", "sato", stdin="pw1\n")
    assert ok.returncode == 0 and ok.stdout.strip() == "ok (teacher)"
    for name, pw in (("sato", "nope"), ("nobody", "pw1")):
        bad = run_cli(tmp_path, "auth", "check", name, stdin=pw + "\n")
        assert bad.returncode == 2 and bad.stdout == ""
        assert bad.stderr.strip() == "error: Wrong name or password."


def _read_until(fd: int, marker: bytes, seen: bytearray) -> None:
    deadline = time.monotonic() + 30
    while marker not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 1)[0]:
            seen += os.read(fd, 4096)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("second,code", [("pw", 0), ("px", 2)])
def test_cli_hash_at_a_terminal_asks_twice(tmp_path, second, code):
    import pty

    script = tmp_path / "cli.py"
    script.write_text(CLI, encoding="utf-8")
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI with a real terminal as stdin, as a teacher would run it
        try:
            os.execve(sys.executable, [sys.executable, str(script), "auth", "hash"],
                      {**os.environ, "PYTHONPATH": str(ROOT)})
        finally:
            os._exit(127)  # never fall back into the forked pytest
    seen = bytearray()
    # getpass flushes typed-ahead input, so answer each prompt only once it is shown.
    for prompt, answer in ((b"Password:", "pw"), (b"Again:", second)):
        _read_until(fd, prompt, seen)
        os.write(fd, answer.encode() + b"\n")
    try:
        while chunk := os.read(fd, 4096):
            seen += chunk
    except OSError:  # the child closed the terminal
        pass
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == code
    out = seen.decode()
    assert "pw\r\n" not in out.split("Password:", 1)[1]  # not echoed
    if code == 0:
        assert any(verify_password("pw", line.strip()) for line in out.splitlines())
    else:
        assert "error: The two passwords differ" in out and "pbkdf2" not in out


def test_auth_error_is_an_exception():
    assert issubclass(AuthError, Exception)


# --- sidebar and page guard (AppTest) -------------------------------------------------------

PAGE = """
import streamlit as st
from views.sidebar import sidebar, require_role
from core.auth import Role
with st.sidebar:
    role = sidebar()
st.write(f"role={role.value}")
require_role(Role.{needed})
st.write("secret {needed} data")
"""


def page(needed: str = "TEACHER") -> AppTest:
    at = AppTest.from_string(PAGE.replace("{needed}", needed), default_timeout=30)
    at.run()
    assert not at.exception
    return at


def texts(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="signin_name").input(name)
    at.text_input(key="signin_password").input(password)
    at.button(key="signin_go").click().run()
    assert not at.exception
    return at


@pytest.fixture
def staff():
    write_secrets({"sato": ("teacher", "pw1"), "boss": ("admin", "pw2")})


def test_student_sees_warning_not_data(staff):
    at = page()
    assert [w.value for w in at.warning] == ["This page is for teachers. Sign in from the sidebar."]
    assert "secret" not in texts(at) and "role=student" in texts(at)
    assert at.text_input(key="profile_name").label == "Profile name"


def test_teacher_signs_in_sees_data_and_signs_out(staff):
    at = sign_in(page(), "sato", "pw1")
    assert "secret TEACHER data" in texts(at) and not at.warning
    assert at.session_state["role"] == "teacher" and at.session_state["user"] == "sato"
    assert at.session_state["signin_password"] == ""  # cleared, not kept in the session
    assert any(c.value == "Signed in as sato (teacher)" for c in at.sidebar.caption)
    at.run()  # still signed in on the next interaction
    assert "secret TEACHER data" in texts(at)
    at.button(key="signout").click().run()
    assert "secret" not in texts(at) and len(at.warning) == 1
    assert "role" not in at.session_state and "user" not in at.session_state


@pytest.mark.parametrize("name,password", [("sato", "wrong"), ("nobody", "pw1")])
def test_wrong_password_or_unknown_name_same_error(staff, name, password):
    at = sign_in(page(), name, password)
    assert [e.value for e in at.error] == ["Wrong name or password."]
    assert "secret" not in texts(at) and "role" not in at.session_state
    at.run()  # the error is shown once, not on every later rerun
    assert not at.error


def test_admin_sees_teacher_and_admin_pages_teacher_not_admin(staff):
    at = sign_in(page("TEACHER"), "boss", "pw2")
    assert "secret TEACHER data" in texts(at)
    at = sign_in(page("ADMIN"), "boss", "pw2")
    assert "secret ADMIN data" in texts(at)
    at = sign_in(page("ADMIN"), "sato", "pw1")
    assert "secret" not in texts(at)
    assert [w.value for w in at.warning] == ["This page is for admins. Sign in from the sidebar."]


def test_forged_or_stale_session_role_is_ignored(staff):
    at = AppTest.from_string(PAGE.replace("{needed}", "TEACHER"), default_timeout=30)
    at.session_state["role"] = "admin"
    at.session_state["user"] = "sato"  # sato is a teacher, not an admin
    at.run()
    assert "secret" not in texts(at)
    write_secrets({"boss": ("admin", "pw2")})  # an account removed from the settings
    at.session_state["role"] = "teacher"
    at.run()
    assert "secret" not in texts(at)


def test_no_accounts_configured_explains_setup():
    at = page()
    assert any("python -m core auth hash" in c.value and "secrets.toml" in c.value for c in at.sidebar.caption)
    assert "signin_password" not in [t.key for t in at.text_input]

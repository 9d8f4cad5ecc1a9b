"""Student profiles: a name, an optional passphrase (salted PBKDF2 hash, set on first use), and
the tokens that keep a profile open (or a teacher signed in) across a reload of the same
browser session.

A profile without a passphrase opens for anyone who types its name; one with a passphrase only
for the passphrase. A teacher or admin can clear a forgotten passphrase (`reset_passphrase`),
which also closes every browser where the profile was open. Tokens are random, stored only as
their SHA-256, and expire after `TOKEN_HOURS`.
"""
from __future__ import annotations

import hashlib
import secrets

from core.auth import hash_password, verify_password
from core.i18n import LANGUAGES, N_, _
from core.store.db import Database, StoreError

MAX_NAME = 40
MIN_PASSPHRASE = 4
TOKEN_HOURS = 12
WRONG_PASSPHRASE = N_("That profile has a passphrase, and this is not it.")


def check_profile_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise StoreError(_("Type a profile name."))
    if len(name) > MAX_NAME:
        raise StoreError(_("A profile name can be at most {count} characters.").format(count=MAX_NAME))
    if any(ord(c) < 32 for c in name):
        raise StoreError(_("A profile name cannot contain control characters."))
    return name


def _check_passphrase(passphrase: str) -> str:
    if len(passphrase) < MIN_PASSPHRASE:
        raise StoreError(_("A passphrase needs at least {count} characters.").format(count=MIN_PASSPHRASE))
    return passphrase


def has_passphrase(db: Database, name: str) -> bool:
    return bool(db.scalar("SELECT passphrase_hash FROM profiles WHERE name = ?", [name.strip()]))


def open_profile(db: Database, name: str, passphrase: str = "") -> bool:
    """Checks `passphrase` against the profile's; a profile without one opens as it is, and
    takes `passphrase` as its own when one is given (set on first use). Returns whether the
    profile now has a passphrase. Raises StoreError with one sentence otherwise."""
    name = check_profile_name(name)
    stored = db.scalar("SELECT passphrase_hash FROM profiles WHERE name = ?", [name])
    if stored:
        if not verify_password(passphrase, stored):
            raise StoreError(_(WRONG_PASSPHRASE))
        return True
    if passphrase:
        _store_hash(db, name, hash_password(_check_passphrase(passphrase)))
        return True
    db.execute("INSERT INTO profiles (name) VALUES (?) ON CONFLICT DO NOTHING", [name])
    return False


def change_passphrase(db: Database, name: str, current: str, new: str) -> None:
    """Sets a new passphrase after checking the current one (if the profile has one)."""
    open_profile(db, name, current if has_passphrase(db, name) else "")
    _store_hash(db, check_profile_name(name), hash_password(_check_passphrase(new)))


def reset_passphrase(db: Database, name: str) -> None:
    """For teachers and admins (the caller checks the role): the profile opens without a
    passphrase until its student sets a new one; browsers where it was open are closed."""
    name = check_profile_name(name)
    if not db.scalar("SELECT count(*) FROM profiles WHERE name = ? AND passphrase_hash <> ''", [name]):
        raise StoreError(_('The profile "{name}" has no passphrase to reset.').format(name=name))
    with db.transaction() as con:
        con.execute("UPDATE profiles SET passphrase_hash = '' WHERE name = ?", [name])
        con.execute("DELETE FROM profile_tokens WHERE profile = ?", [name])


def _store_hash(db: Database, name: str, encoded: str) -> None:
    db.execute("INSERT INTO profiles (name, passphrase_hash) VALUES (?, ?) "
               "ON CONFLICT (name) DO UPDATE SET passphrase_hash = excluded.passphrase_hash", [name, encoded])


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(db: Database, name: str = "", account: str = "") -> str:
    """A random token that reopens the profile `name`, or keeps the teacher/admin `account`
    signed in (see `profile_for_token`, `account_for_token`); only its hash is stored."""
    token = secrets.token_urlsafe(32)
    db.execute("INSERT INTO profile_tokens (token_hash, profile, account) VALUES (?, ?, ?)",
               [_digest(token), name, account])
    return token


def _live(db: Database, token: str, column: str) -> str:
    if not token or len(token) > 100:
        return ""
    found = db.scalar(f"SELECT {column} FROM profile_tokens WHERE token_hash = ? "
                      f"AND created > current_timestamp - INTERVAL {TOKEN_HOURS} HOUR", [_digest(token)])
    return found or ""


def profile_for_token(db: Database, token: str) -> str:
    """The profile a live token opens, or '' (unknown, expired or revoked)."""
    return _live(db, token, "profile")


def account_for_token(db: Database, token: str) -> str:
    """The teacher/admin account a live token keeps signed in, or ''. The caller checks that
    the account still exists with its role."""
    return _live(db, token, "account")


def drop_token(db: Database, token: str) -> None:
    if token:
        db.execute("DELETE FROM profile_tokens WHERE token_hash = ?", [_digest(token)])


def learners(db: Database) -> list[str]:
    """Every profile with something to show a teacher: a story, or a word marked or reviewed."""
    return [r[0] for r in db.execute(
        "SELECT profile FROM stories WHERE profile <> '' AND deleted_at IS NULL "
        "UNION SELECT profile FROM word_state_log UNION SELECT profile FROM review_log ORDER BY 1")]


def language_of(db: Database, name: str) -> str:
    """The interface language `name` chose ('' = none: the browser's is used)."""
    return db.scalar("SELECT language FROM profiles WHERE name = ?", [name]) or ""


def set_language(db: Database, name: str, code: str) -> None:
    """Keep `code` (a key of core.i18n.LANGUAGES, or '' for the browser's) as `name`'s language."""
    if code and code not in LANGUAGES:
        raise StoreError(_("Unknown language {code!r}; use one of {codes}.").format(code=code, codes=", ".join(LANGUAGES)))
    db.execute("INSERT INTO profiles (name, language) VALUES (?, ?) "
               "ON CONFLICT (name) DO UPDATE SET language = excluded.language", [name, code])

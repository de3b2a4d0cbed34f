"""The console's operators: accounts, login sessions, API tokens and failed logins, in the hub's store.

Nothing that would let someone who reads the database act as an operator is kept there: passwords as
scrypt hashes (salted, so equal passwords look different), session ids and API tokens as SHA-256
hashes (they are long random values, so a plain hash cannot be reversed). The session id and the
token are known only to the browser or script that holds them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

from sqlalchemy import Column, DateTime, Integer, String, Table, delete, func, or_, select, update

from hub.envelope import utcnow
from hub.store.db import Database, metadata

Role = Literal["viewer", "operator"]
ROLES: tuple[Role, ...] = ("viewer", "operator")
MIN_PASSWORD = 12
NAME_CHARS = 64
SCRYPT_N, SCRYPT_R, SCRYPT_P, SALT_BYTES, KEY_BYTES = 2**14, 8, 1, 16, 32
SESSION_LIFETIME = dt.timedelta(hours=12)  # absolute: a session ends this long after its login, however busy
THROTTLE_FAILURES = 5  # failed logins for a name, or from an address, within THROTTLE_WINDOW ...
THROTTLE_WINDOW = dt.timedelta(minutes=15)  # ... refuse the next ones until they are this old

operators = Table(
    "operators",
    metadata,
    Column("name", String(NAME_CHARS), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("operator", String(NAME_CHARS), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("operator", String(NAME_CHARS), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("name", String(NAME_CHARS), nullable=False, index=True),
    Column("address", String(64), nullable=False, index=True),
)


class AccountError(ValueError):
    """An account cannot be made or changed as asked; the message says why."""


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    created_at: dt.datetime
    disabled: bool


def hash_password(password: str) -> str:
    """scrypt with a fresh salt, its parameters kept with it so they can be raised later."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=KEY_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def password_matches(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from; compared in constant time."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(key)
        given = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return hmac.compare_digest(given, expected)


# Checked when a name is unknown, so a wrong name takes as long as a wrong password and does not say
# which names exist.
_NOBODY = hash_password(secrets.token_urlsafe(16))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def check_name(name: str) -> str:
    if not name or len(name) > NAME_CHARS or not all(c.isalnum() or c in "._-@" for c in name):
        raise AccountError(f"a name is 1 to {NAME_CHARS} letters, digits and . _ - @, not {name!r}")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
    return password


class OperatorStore:
    """Accounts, sessions, API tokens and login throttling; `clock` is the time (tests move it)."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        db.create(operators, console_sessions, api_tokens, login_failures)
        self.engine = db.engine
        self.clock = clock

    # -- accounts ------------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str) -> Account:
        check_name(name)
        if role not in ROLES:
            raise AccountError(f"a role is one of {', '.join(ROLES)}, not {role!r}")
        check_password(password)
        now = self.clock()
        with self.engine.begin() as conn:
            if conn.execute(select(operators.c.name).where(operators.c.name == name)).first():
                raise AccountError(f"there is an operator {name} already: remove it first to make it again")
            conn.execute(
                operators.insert().values(name=name, role=role, password_hash=hash_password(password), created_at=now)
            )
        return Account(name, cast(Role, role), now, False)

    def remove(self, name: str) -> bool:
        """The account gone with its sessions and tokens (audit entries keep its name); False if none."""
        with self.engine.begin() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.operator == name))
            conn.execute(delete(api_tokens).where(api_tokens.c.operator == name))
            return conn.execute(delete(operators).where(operators.c.name == name)).rowcount > 0

    def accounts(self) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(operators).order_by(operators.c.name)).all()
        return [Account(r.name, r.role, _aware(r.created_at), r.disabled_at is not None) for r in rows]

    def account(self, name: str) -> Account | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(operators).where(operators.c.name == name)).first()
        return None if r is None else Account(r.name, r.role, _aware(r.created_at), r.disabled_at is not None)

    def _active(self, name: str) -> Account | None:
        account = self.account(name)
        return account if account is not None and not account.disabled else None

    # -- logging in ----------------------------------------------------------------------------

    def throttled(self, name: str, address: str) -> bool:
        """Whether THROTTLE_FAILURES logins for this name, or from this address, failed in the window."""
        since = self.clock() - THROTTLE_WINDOW
        with self.engine.connect() as conn:
            for column, value in ((login_failures.c.name, name), (login_failures.c.address, address)):
                count = conn.execute(
                    select(func.count()).where(column == value, login_failures.c.at > since)
                ).scalar_one()
                if count >= THROTTLE_FAILURES:
                    return True
        return False

    def authenticate(self, name: str, password: str, address: str) -> Account | None:
        """The account when the name and password are right and no throttle holds; a failure is counted.
        Throttled, the password is not even checked: guesses then learn nothing."""
        name = name[:NAME_CHARS]
        if self.throttled(name, address):
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(operators).where(operators.c.name == name)).first()
        stored = row.password_hash if row is not None and row.disabled_at is None else _NOBODY
        if password_matches(password, stored) and row is not None and row.disabled_at is None:
            with self.engine.begin() as conn:
                conn.execute(delete(login_failures).where(login_failures.c.name == name))
            return Account(row.name, row.role, _aware(row.created_at), False)
        with self.engine.begin() as conn:
            conn.execute(login_failures.insert().values(at=self.clock(), name=name, address=address[:64]))
        return None

    # -- sessions ------------------------------------------------------------------------------

    def open_session(self, name: str) -> str:
        """A new session for `name`: its id, to go into the cookie; only its hash is kept."""
        session = secrets.token_urlsafe(32)
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(
                console_sessions.insert().values(
                    id_hash=_digest(session), operator=name, created_at=now, last_seen_at=now
                )
            )
        return session

    def session(self, session: str, idle: dt.timedelta) -> Account | None:
        """The account of a live session, which is seen now; an expired one is ended."""
        key = _digest(session)
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(select(console_sessions).where(console_sessions.c.id_hash == key)).first()
            if row is None:
                return None
            if now - _aware(row.last_seen_at) > idle or now - _aware(row.created_at) > SESSION_LIFETIME:
                conn.execute(delete(console_sessions).where(console_sessions.c.id_hash == key))
                return None
            conn.execute(update(console_sessions).where(console_sessions.c.id_hash == key).values(last_seen_at=now))
        return self._active(row.operator)

    def close_session(self, session: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.id_hash == _digest(session)))

    def tidy(self, idle: dt.timedelta) -> None:
        """Drop the sessions that ended without a logout and the failures too old to throttle: done at each
        login, so neither table grows with time."""
        now = self.clock()
        with self.engine.begin() as conn:
            ended = or_(
                console_sessions.c.last_seen_at < now - idle, console_sessions.c.created_at < now - SESSION_LIFETIME
            )
            conn.execute(delete(console_sessions).where(ended))
            conn.execute(delete(login_failures).where(login_failures.c.at <= now - THROTTLE_WINDOW))

    # -- API tokens ----------------------------------------------------------------------------

    def new_token(self, name: str) -> str:
        """A new API token for `name`, to be shown once: only its hash is kept."""
        if self.account(name) is None:
            raise AccountError(f"no operator {name}: `hub operators add` makes one")
        token = "hub_" + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(api_tokens.insert().values(token_hash=_digest(token), operator=name, created_at=self.clock()))
        return token

    def token_account(self, token: str) -> Account | None:
        """The account an API token belongs to, if it is enabled; its use is noted."""
        key = _digest(token)
        with self.engine.begin() as conn:
            name = conn.execute(select(api_tokens.c.operator).where(api_tokens.c.token_hash == key)).scalar()
            if name is None:
                return None
            conn.execute(update(api_tokens).where(api_tokens.c.token_hash == key).values(last_used_at=self.clock()))
        return self._active(name)

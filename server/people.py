"""People of the units (the phone page's users), their sign-in and sessions (docs/field.md).

* A person belongs to one unit (an assignee code) and may be its lead. ``user-add`` prints a one-time code
  (valid 72 h); the first sign-in takes it with a new password, later ones the password.
* Passwords and codes are stored with scrypt (n=2^14, r=8, p=1, a 16-byte salt each): slow to guess.
* Five wrong attempts in a row lock the account for 15 minutes; the sixth is refused even when right.
* Sessions are 256-bit random cookies stored as SHA-256, with a CSRF token; they last 12 hours and end at
  sign-out, reset and revoke.

No HTTP here: server/field.py is the API over this.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from fengqiao.models.clock import from_db, to_db
from fengqiao.models.errors import FengqiaoError, ValidationError
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.names import check_name
from fengqiao.models.reference import Reference
from fengqiao.models.routing import describe_assignee

from .schema import SrvAccess, SrvSession, SrvUser

CODE_TTL = timedelta(hours=72)
SESSION_TTL = timedelta(hours=12)
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 8
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class SignInError(FengqiaoError):
    """Sign-in refused. ``status``: 401 wrong, 423 locked (``until``), 400 bad input."""

    def __init__(self, message: str, status: int = 401, until: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.until, self.field = status, until, field


@dataclass(frozen=True)
class Person:
    id: str
    login: str
    name: str
    unit: str
    lead: bool
    phone: str | None = None

    def public(self, ref: Reference) -> dict[str, Any]:
        return {
            "id": self.id,
            "login": self.login,
            "name": self.name,
            "unit": self.unit,
            "unit_name": describe_assignee(ref, self.unit, get_lang()),
            "lead": self.lead,
        }


@dataclass(frozen=True)
class Session:
    person: Person
    csrf: str
    expires_at: str


def _scrypt(secret: str, salt: bytes) -> str:
    return hashlib.scrypt(secret.encode(), salt=salt, **SCRYPT).hex()


def hash_secret(secret: str) -> str:
    """``scrypt$<salt hex>$<hash hex>``."""
    salt = secrets.token_bytes(16)
    return f"scrypt${salt.hex()}${_scrypt(secret, salt)}"


def check_secret(secret: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, want = stored.split("$", 2)
    return hmac.compare_digest(_scrypt(secret, bytes.fromhex(salt)), want)


def new_code() -> str:
    """A one-time sign-in code people can read out: 12 digits in three groups."""
    digits = "".join(secrets.choice("0123456789") for _ in range(12))
    return f"{digits[:4]}-{digits[4:8]}-{digits[8:]}"


def _norm_code(code: str) -> str:
    return "".join(c for c in code if c.isdigit())


def _person(row: Any) -> Person:
    return Person(row.id, row.login, row.name, row.unit, bool(row.lead), row.phone)


def unit_code(ref: Reference, unit: str) -> str:
    """The assignee code of a unit as typed (``scjg`` → ``SCJG``), or a ValidationError."""
    code = unit.strip().upper()
    ok = ref.assignee_known(code)  # a department, station, ZZ-<town>, or a grassroots TJ-/WG-/SO- unit
    if not ok or code in ("ZZ", "GA"):
        raise ValidationError(t("mobile.unknown_unit", unit=unit), field="unit")
    return code


class People:
    """Users and sessions in the server database (tables in server/schema.py)."""

    def __init__(self, store: Any) -> None:
        self.store = store  # server.store.ServerStore

    # ---- administration (the CLI) ------------------------------------------------------------------
    def add(
        self, name: str, unit: str, *, lead: bool = False, phone: str | None = None, login: str | None = None
    ) -> tuple[Person, str]:
        name = check_name(name, what="operator")
        login = check_name((login or name).strip(), what="operator")
        code = unit_code(self.store.ref, unit)
        if phone is not None:
            from fengqiao.models.phone import normalize_phone

            phone = normalize_phone(phone)
        one_time = new_code()
        now = self.store.clock()
        with self.store.write() as conn:
            if conn.execute(select(SrvUser.id).where(SrvUser.login == login)).first() is not None:
                raise ValidationError(t("mobile.login_taken", login=login), field="login")
            pid = uuid.uuid4().hex[:12]
            conn.execute(
                SrvUser.__table__.insert().values(
                    id=pid,
                    login=login,
                    name=name,
                    unit=code,
                    lead=lead,
                    phone=phone,
                    pw_hash=None,
                    code_hash=hash_secret(_norm_code(one_time)),
                    code_expires=to_db(now + CODE_TTL),
                    failures=0,
                    locked_until=None,
                    created_at=to_db(now),
                    revoked_at=None,
                )
            )
        return Person(pid, login, name, code, lead, phone), one_time

    def all(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute(select(SrvUser).order_by(SrvUser.unit, SrvUser.login)).all()
        return [
            {
                "id": r.id,
                "login": r.login,
                "name": r.name,
                "unit": r.unit,
                "lead": bool(r.lead),
                "phone": r.phone,
                "signed_up": r.pw_hash is not None,
                "locked_until": r.locked_until,
                "created_at": r.created_at,
                "revoked_at": r.revoked_at,
            }
            for r in rows
        ]

    def _find(self, conn: Connection, who: str) -> Any:
        row = conn.execute(select(SrvUser).where((SrvUser.login == who) | (SrvUser.id == who))).first()
        if row is None:
            raise ValidationError(t("mobile.no_user", login=who), field="login")
        return row

    def reset(self, who: str) -> str:
        """A new one-time code; the password and every session are dropped."""
        one_time = new_code()
        now = self.store.clock()
        with self.store.write() as conn:
            row = self._find(conn, who)
            conn.execute(
                update(SrvUser.__table__)
                .where(SrvUser.id == row.id)
                .values(
                    pw_hash=None,
                    code_hash=hash_secret(_norm_code(one_time)),
                    code_expires=to_db(now + CODE_TTL),
                    failures=0,
                    locked_until=None,
                    revoked_at=None,
                )
            )
            self._end_sessions(conn, row.id, now)
        return one_time

    def revoke(self, who: str) -> None:
        now = self.store.clock()
        with self.store.write() as conn:
            row = self._find(conn, who)
            conn.execute(update(SrvUser.__table__).where(SrvUser.id == row.id).values(revoked_at=to_db(now)))
            self._end_sessions(conn, row.id, now)

    @staticmethod
    def _end_sessions(conn: Connection, pid: str, now: datetime) -> None:
        conn.execute(
            update(SrvSession.__table__)
            .where(SrvSession.user_id == pid, SrvSession.revoked_at.is_(None))
            .values(revoked_at=to_db(now))
        )

    def members(self, unit: str) -> list[Person]:
        with self.store.read() as conn:
            rows = conn.execute(
                select(SrvUser).where(SrvUser.unit == unit, SrvUser.revoked_at.is_(None)).order_by(SrvUser.name)
            ).all()
        return [_person(r) for r in rows]

    def get(self, pid: str) -> Person | None:
        with self.store.read() as conn:
            row = conn.execute(select(SrvUser).where(SrvUser.id == pid, SrvUser.revoked_at.is_(None))).first()
        return None if row is None else _person(row)

    # ---- sign-in -----------------------------------------------------------------------------------
    def sign_in(
        self,
        login: str,
        *,
        password: str | None = None,
        code: str | None = None,
        new_password: str | None = None,
        client: str = "",
    ) -> tuple[str, Session]:
        """Check the credentials; return (session token for the cookie, the session). Raises SignInError.

        A refusal is raised after the transaction commits, so the failure count and the access log line stay."""
        now = self.store.clock()
        login = (login or "").strip()
        if not login or len(login) > 100:
            raise SignInError(t("mobile.signin_missing"), 400, field="login")
        if password is None and code is None:
            raise SignInError(t("mobile.signin_missing"), 400, field="password")
        error: SignInError | None = None
        with self.store.write() as conn:
            row = conn.execute(select(SrvUser).where(SrvUser.login == login)).first()
            if row is None or row.revoked_at is not None:
                _access(conn, now, login, "signin_failed", "", client)
                error = SignInError(t("mobile.signin_wrong"))
            elif row.locked_until is not None and from_db(row.locked_until) > now:
                _access(conn, now, login, "signin_locked", "", client)
                error = SignInError(t("mobile.locked", until=_local(row.locked_until)), 423, until=row.locked_until)
            else:
                new_hash = None
                if code is not None and row.pw_hash is None:
                    fresh = row.code_expires is not None and from_db(row.code_expires) > now
                    ok = fresh and check_secret(_norm_code(code), row.code_hash)
                    if ok:
                        if not new_password or not MIN_PASSWORD <= len(new_password) <= 200:
                            raise SignInError(t("mobile.password_short", n=MIN_PASSWORD), 400, field="new_password")
                        new_hash = hash_secret(new_password)
                else:
                    ok = password is not None and check_secret(password, row.pw_hash)
                if not ok:
                    failures = int(row.failures) + 1
                    locked = to_db(now + LOCK_FOR) if failures >= MAX_FAILURES else None
                    conn.execute(
                        update(SrvUser.__table__)
                        .where(SrvUser.id == row.id)
                        .values(failures=failures, locked_until=locked)
                    )
                    _access(conn, now, login, "signin_failed", f"failures={failures}", client)
                    error = (
                        SignInError(t("mobile.locked", until=_local(locked)), 423, until=locked)
                        if locked
                        else SignInError(t("mobile.signin_wrong"))
                    )
                else:
                    values: dict[str, Any] = {"failures": 0, "locked_until": None}
                    if new_hash is not None:
                        values.update(pw_hash=new_hash, code_hash=None, code_expires=None)
                    conn.execute(update(SrvUser.__table__).where(SrvUser.id == row.id).values(**values))
                    token = secrets.token_urlsafe(32)
                    session = Session(_person(row), secrets.token_urlsafe(24), to_db(now + SESSION_TTL))
                    conn.execute(
                        SrvSession.__table__.insert().values(
                            id_hash=hashlib.sha256(token.encode()).hexdigest(),
                            user_id=row.id,
                            csrf=session.csrf,
                            created_at=to_db(now),
                            expires_at=session.expires_at,
                            revoked_at=None,
                        )
                    )
                    _access(conn, now, login, "signin", "", client)
        if error is not None:
            raise error
        return token, session

    def session(self, token: str | None) -> Session | None:
        if not token or len(token) > 100:
            return None
        now = to_db(self.store.clock())
        with self.store.read() as conn:
            row = conn.execute(
                select(
                    SrvSession.csrf,
                    SrvSession.expires_at,
                    SrvUser.id,
                    SrvUser.login,
                    SrvUser.name,
                    SrvUser.unit,
                    SrvUser.lead,
                    SrvUser.phone,
                )
                .join(SrvUser, SrvUser.id == SrvSession.user_id)
                .where(
                    SrvSession.id_hash == hashlib.sha256(token.encode()).hexdigest(),
                    SrvSession.revoked_at.is_(None),
                    SrvSession.expires_at > now,
                    SrvUser.revoked_at.is_(None),
                )
            ).first()
        if row is None:
            return None
        return Session(_person(row), row.csrf, row.expires_at)

    def sign_out(self, token: str) -> None:
        with self.store.write() as conn:
            conn.execute(
                update(SrvSession.__table__)
                .where(SrvSession.id_hash == hashlib.sha256(token.encode()).hexdigest())
                .values(revoked_at=to_db(self.store.clock()))
            )

    def log(self, who: str, action: str, target: str = "", client: str = "") -> None:
        with self.store.write() as conn:
            _access(conn, self.store.clock(), who, action, target, client)

    def access_log(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return [dict(r._mapping) for r in conn.execute(select(SrvAccess).order_by(SrvAccess.id))]


def _local(when: str) -> str:
    from fengqiao.models.clock import fmt_local

    return fmt_local(from_db(when))


def _access(conn: Connection, now: datetime, who: str, action: str, target: str, client: str) -> None:
    """One line of the server's access log: sign-ins, failures, views of orders (never caller data)."""
    conn.execute(
        SrvAccess.__table__.insert().values(
            at=to_db(now), who=who[:100], action=action, target=target[:200], client=client[:64]
        )
    )

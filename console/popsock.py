"""Screen-pop into the running console: ``fengqiao pop PHONE`` hands the number to the console on this desk.

What a telephony system runs on each call. The console listens on a Unix domain socket in the desk's state
directory (``$XDG_STATE_HOME/fengqiao`` or the platform's equivalent; a short private folder under the temp dir
when that path is too long for a socket), one per store: ``pop-<16 hex of the store's path>.sock``, mode 0600 in
a 0700 folder. A pop is one line ``POP <number>``; the console answers ``OK`` once the number is on its intake
screen (or waiting there as the next caller: a pop never overwrites a call being taken), ``ERR <why>`` when
the text is no phone number. With no console listening, ``fengqiao pop`` starts one with the number.

This module is imported by the command's fast path (:mod:`fengqiao.console.entry`) before anything else, so its
sender uses a few standard modules and platformdirs only (asyncio is imported by the listener alone):
``fengqiao pop`` returns in tens of milliseconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import stat
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # asyncio is imported by the console's listener only: `fengqiao pop` never pays for it
    import asyncio

MAX_LINE = 200  # bytes of one pop line
MAX_PHONE = 40  # characters of the number in it
SUN_PATH_MAX = 100  # a Unix socket's path must fit in sockaddr_un (108 bytes on Linux, 104 on macOS)
REPLY_TIMEOUT = 2.0  # seconds `fengqiao pop` waits for the console's answer
_PHONEISH = re.compile(r"^\+?[\d\s\-()]{3,}$")


def store_path(db: str | os.PathLike[str] | None) -> Path:
    """The store's file as the console opens it (``--db``, else ``$FENGQIAO_DB``, else the user data dir)."""
    if db is not None:
        return Path(db).expanduser()
    env = os.environ.get("FENGQIAO_DB")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("fengqiao", appauthor=False)) / "fengqiao.db"


def socket_path(db: str | os.PathLike[str] | None) -> Path:
    """The pop socket of the store ``db`` (one per store, whatever the working directory)."""
    import platformdirs

    key = hashlib.sha256(str(store_path(db).absolute()).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    name = f"pop-{key}.sock"
    folder = Path(platformdirs.user_state_dir("fengqiao", appauthor=False))
    if len(str(folder / name).encode()) > SUN_PATH_MAX:
        import tempfile

        folder = Path(tempfile.gettempdir()) / f"fengqiao-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    return folder / name


def clean_phone(text: str) -> str | None:
    """The number in a pop (full-width digits read as ASCII), or None when it is no phone number."""
    phone = unicodedata.normalize("NFKC", text).strip()
    if not phone or len(phone) > MAX_PHONE or not _PHONEISH.match(phone):
        return None
    return phone


# ---- the sender: `fengqiao pop` ------------------------------------------------------------------------------


def send_pop(path: Path, phone: str, *, timeout: float = REPLY_TIMEOUT) -> str | None:
    """Hand ``phone`` to the console listening on ``path``: its answer (``OK`` or ``ERR …``), or None when no
    console listens there."""
    if not hasattr(socket, "AF_UNIX"):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(path))
        except OSError:  # no socket, a stale one, or not ours to use
            return None
        sock.sendall(("POP " + phone.replace("\n", " ").replace("\r", " ") + "\n").encode("utf-8", "replace"))
        reply = b""
        while not reply.endswith(b"\n") and len(reply) < MAX_LINE:
            chunk = sock.recv(MAX_LINE)
            if not chunk:
                break
            reply += chunk
        return reply.decode("utf-8", "replace").strip() or None
    except OSError:
        return None
    finally:
        sock.close()


# ---- the listener: in the console ------------------------------------------------------------------------------


async def alive(path: Path, timeout: float = 0.5) -> bool:
    """Whether a console answers on ``path`` (a ping: an empty pop), without blocking the event loop."""
    import asyncio

    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), timeout)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(b"POP\n")
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), timeout)).strip() == b"OK"
    except (OSError, TimeoutError, ValueError):
        return False
    finally:
        with contextlib.suppress(OSError):
            writer.close()


class PopListener:
    """The console's end: accepts pops on the store's socket and hands each number to ``deliver``."""

    def __init__(self, path: Path, deliver: Callable[[str], None]) -> None:
        self.path = path
        self.deliver = deliver
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> bool:
        """Listen; False when another console on this store already does (pops go to that one) or sockets
        cannot be made here."""
        import asyncio

        if not hasattr(socket, "AF_UNIX"):
            return False
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            if folder.stat().st_uid == os.getuid():
                os.chmod(folder, stat.S_IRWXU)
            if self.path.exists() or self.path.is_symlink():
                if await alive(self.path):
                    return False  # a live console answered
                self.path.unlink()  # left by a console that died
            old = os.umask(0o177)
            try:
                self.server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_LINE * 2)
            finally:
                os.umask(old)
            os.chmod(self.path, stat.S_IRUSR | stat.S_IWUSR)
        except OSError:
            return False
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import asyncio

        try:
            line = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT)
            text = line.decode("utf-8", "replace").strip()
            if not text.startswith("POP"):
                writer.write(b"ERR unknown request\n")
            elif not text[3:].strip():
                writer.write(b"OK\n")  # a ping: is a console listening?
            elif (phone := clean_phone(text[3:])) is None:
                writer.write(b"ERR not a phone number\n")
            else:
                self.deliver(phone)
                writer.write(b"OK\n")
            await writer.drain()
        except (OSError, TimeoutError, ValueError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
            with contextlib.suppress(OSError):
                self.path.unlink()

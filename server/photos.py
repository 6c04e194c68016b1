"""Photos as evidence: recognised by content, location metadata removed, stored by SHA-256 (docs/field.md).

Only JPEG, PNG and WebP, recognised by their structure (not by name or by what the phone says the type is).
Removing metadata walks the file's own segments and drops the ones that can carry a location — JPEG's APP1
(Exif, XMP), PNG's ``eXIf``, WebP's ``EXIF`` and ``XMP `` chunks — and copies everything else byte for byte,
so the picture itself is never re-encoded. Hand-written because it is small and must not change the image;
an image library would decode and re-encode it.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

MAX_BYTES = 8 * 1024 * 1024
PNG_SIG = b"\x89PNG\r\n\x1a\n"


class NotAnImage(ValueError):
    """The bytes are not a JPEG, PNG or WebP we can read."""


@dataclass(frozen=True)
class Photo:
    data: bytes
    mime: str
    sha256: str
    stripped: bool  # whether location-bearing metadata was removed

    @property
    def size(self) -> int:
        return len(self.data)


def sniff(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == PNG_SIG:
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _jpeg(data: bytes, strip: bool) -> tuple[bytes, bool]:
    out = bytearray(data[:2])
    i, removed = 2, False
    while True:
        if i + 4 > len(data) or data[i] != 0xFF:
            raise NotAnImage("jpeg segment")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):
            out += data[i : i + 2]
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        end = i + 2 + length
        if length < 2 or end > len(data):
            raise NotAnImage("jpeg length")
        if marker == 0xDA:  # start of scan: the rest is image data
            out += data[i:]
            return bytes(out), removed
        if strip and marker == 0xE1:  # APP1: Exif or XMP, where GPS lives
            removed = True
        else:
            out += data[i:end]
        i = end


def _png(data: bytes, strip: bool) -> tuple[bytes, bool]:
    out = bytearray(PNG_SIG)
    i, removed, seen_end = 8, False, False
    while i < len(data):
        if i + 12 > len(data):
            raise NotAnImage("png chunk")
        (length,) = struct.unpack(">I", data[i : i + 4])
        kind = data[i + 4 : i + 8]
        end = i + 12 + length
        if end > len(data):
            raise NotAnImage("png length")
        if strip and kind == b"eXIf":
            removed = True
        else:
            out += data[i:end]
        i = end
        if kind == b"IEND":
            seen_end = True
            break
    if not seen_end:
        raise NotAnImage("png end")
    return bytes(out), removed


def _webp(data: bytes, strip: bool) -> tuple[bytes, bool]:
    body = bytearray()
    i, removed = 12, False
    vp8x_at: int | None = None
    while i < len(data):
        if i + 8 > len(data):
            raise NotAnImage("webp chunk")
        kind = data[i : i + 4]
        (length,) = struct.unpack("<I", data[i + 4 : i + 8])
        end = i + 8 + length + (length & 1)
        if end > len(data) + (length & 1):
            raise NotAnImage("webp length")
        if strip and kind in (b"EXIF", b"XMP "):
            removed = True
        else:
            if kind == b"VP8X":
                vp8x_at = len(body) + 8
            body += data[i:end]
        i = end
    if removed and vp8x_at is not None and vp8x_at < len(body):
        body[vp8x_at] &= ~0x0C & 0xFF  # clear the EXIF and XMP flags
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + bytes(body), removed


def prepare(data: bytes, *, keep_location: bool = False) -> Photo:
    """Check ``data`` is an image we take and remove its location metadata (unless ``keep_location``)."""
    if not data:
        raise NotAnImage("empty")
    if len(data) > MAX_BYTES:
        raise NotAnImage("too large")
    mime = sniff(data)
    if mime is None:
        raise NotAnImage("not an image")
    strip = not keep_location
    try:
        if mime == "image/jpeg":
            clean, removed = _jpeg(data, strip)
        elif mime == "image/png":
            clean, removed = _png(data, strip)
        else:
            clean, removed = _webp(data, strip)
    except (struct.error, IndexError) as exc:
        raise NotAnImage(str(exc)) from None
    return Photo(clean, mime, hashlib.sha256(clean).hexdigest(), removed)

"""The sync server's signatures over the events it stores (Ed25519, through ``cryptography``).

A desk's own chain is anchored by its ``desk_heads`` row; the copies of other desks' chains that sync brings
were anchored to nothing: whoever can write the file could rewrite such an event and recompute its hash and
the links after it. So the server signs events, binding the authoring desk, the number in its chain, the event
id and its hash. A signature over an event's hash is a signed head of its desk's chain up to that event: every
earlier event linked to it by hashes is vouched for as well. The desk stores each signature beside the event
(``event_state.sig``) and ``fengqiao check`` verifies, for every run of consecutive events of a desk that it
holds, the newest one's signature against the server key the desk learned at its first sync. The server signs
exactly those: the newest event a push took (its answer), and in a pull each event that ends a run of its desk's
chain in the page (server/store.py).

A desk compares the key at every sync: a key replaced in the file (to re-sign rewritten events) no longer
matches the server's, and sync stops with both fingerprints.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fengqiao.models.events import chain_digest

CONTEXT = "fengqiao-event-sig-v1"


def new_private_key() -> str:
    """A fresh server key, as 64 hex digits (the raw Ed25519 seed)."""
    from cryptography.hazmat.primitives import serialization

    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return raw.hex()


def public_key(private_hex: str) -> str:
    """The public key (64 hex digits) of a private key as :func:`new_private_key` writes it."""
    from cryptography.hazmat.primitives import serialization

    pub = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(private_hex)).public_key()
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def fingerprint(public_hex: str) -> str:
    """A short form of a public key for people to compare: 16 hex digits in groups of four."""
    digest = hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:16]
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))


def statement(desk: str, desk_seq: int, event_id: str, event_hash: str) -> bytes:
    """What is signed: the event's place in its desk's chain and its hash (length-prefixed, unambiguous)."""
    return chain_digest((CONTEXT, desk, str(desk_seq), event_id, event_hash)).encode()


class Signer:
    """The server side: signs events with its private key."""

    def __init__(self, private_hex: str) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(private_hex))
        self.public = public_key(private_hex)

    def sign(self, desk: str, desk_seq: int, event_id: str, event_hash: str) -> str:
        return self._key.sign(statement(desk, desk_seq, event_id, event_hash)).hex()


class Verifier:
    """The desk side: checks signatures against the server key it trusts."""

    def __init__(self, public_hex: str) -> None:
        self._key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))

    def valid(self, sig: str, desk: str, desk_seq: int, event_id: str, event_hash: str) -> bool:
        try:
            self._key.verify(bytes.fromhex(sig), statement(desk, desk_seq, event_id, event_hash))
        except (InvalidSignature, ValueError):
            return False
        return True


def is_key(text: str) -> bool:
    """Whether ``text`` looks like a public key (64 hex digits)."""
    try:
        return len(text) == 64 and len(bytes.fromhex(text)) == 32
    except ValueError:
        return False

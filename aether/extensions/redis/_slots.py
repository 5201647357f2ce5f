"""Redis Cluster hash slots: which slot a key lands in, and a sibling key for the same slot.

A Lua script (or a ``MULTI``) on a cluster may only touch keys of one slot. A key's slot
is CRC16 (XMODEM, which `binascii.crc_hqx` computes) of the key, modulo 16384, or of its
hash tag: the text between the first ``{`` and the next ``}``, when that text is not
empty. `same_slot_key` builds a second key that lands where an existing one does, so a
feature can keep keys it does not name itself (a session's) next to keys of its own.
"""

from __future__ import annotations

import binascii
from functools import lru_cache

__all__ = ["hash_slot", "hash_tag", "same_slot_key"]

SLOTS = 16384


def hash_tag(key: str | bytes) -> bytes:
    """The part of ``key`` that Redis Cluster hashes: its hash tag, or the whole key."""
    data = key.encode() if isinstance(key, str) else key
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            return data[start + 1 : end]
    return data


def hash_slot(key: str | bytes) -> int:
    """The cluster slot (0 to 16383) that ``key`` is stored in."""
    return binascii.crc_hqx(hash_tag(key), 0) % SLOTS


@lru_cache(maxsize=1024)
def _tag_for_slot(slot: int) -> str:
    number = 0
    while binascii.crc_hqx(str(number).encode(), 0) % SLOTS != slot:
        number += 1
    return str(number)


def same_slot_key(key: str, suffix: str) -> str:
    """A key ending in ``suffix`` that lands in the same cluster slot as ``key``.

    It is ``{<what key hashes>}<suffix>``: ``same_slot_key("app:session:alice",
    ":turns")`` is ``"{app:session:alice}:turns"``. When the hashed part contains a ``}``
    (which cannot sit inside a tag), the tag is instead the smallest number whose slot is
    the same.
    """
    tag = hash_tag(key).decode(errors="surrogateescape")
    if "}" in tag:
        tag = _tag_for_slot(hash_slot(key))
    return f"{{{tag}}}{suffix}"

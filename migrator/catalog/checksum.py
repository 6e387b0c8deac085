"""Content checksums, versioned so that a new algorithm never invalidates stored ones.

A checksum looks like ``v1:<sha256 hex>``. ``v1`` hashes each part's role and its content
with a UTF-8 BOM removed and CRLF/CR line endings turned into LF, so that a checkout on
another OS, or an editor that adds a BOM, does not count as a change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from functools import lru_cache

Part = tuple[str, bytes]

CURRENT = "v1"


def normalize(content: bytes) -> bytes:
    """Remove a UTF-8 BOM and make every line ending LF."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    return content.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def _v1(parts: Iterable[Part]) -> str:
    digest = hashlib.sha256()
    for role, content in parts:
        body = normalize(content)
        digest.update(f"{role}\0{len(body)}\0".encode())
        digest.update(body)
    return digest.hexdigest()


ALGORITHMS: dict[str, Callable[[Iterable[Part]], str]] = {"v1": _v1}


def compute(parts: Iterable[Part], algorithm: str = CURRENT) -> str:
    """Checksum of the given ``(role, content)`` parts with the named algorithm."""
    return _compute(algorithm, tuple(parts))


@lru_cache(maxsize=8192)
def _compute(algorithm: str, parts: tuple[Part, ...]) -> str:
    # The same file's checksum is asked for by sync, plan and every run: hashed once.
    return f"{algorithm}:{ALGORITHMS[algorithm](parts)}"


def matches(stored: str, parts: Iterable[Part]) -> bool:
    """Whether ``stored`` was made from these parts, using the algorithm it names."""
    algorithm, _, _ = stored.partition(":")
    if algorithm not in ALGORITHMS:
        return False
    return compute(parts, algorithm) == stored

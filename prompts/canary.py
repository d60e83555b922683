"""Stable canary assignment: the same subject always lands in the same bucket.

A subject (user id, API key id) is hashed with the prompt name, so one user does
not flip between versions from request to request or across processes, and a
user in the canary for one prompt is not automatically in it for every prompt.
"""

from __future__ import annotations

import hashlib

# 2**64 possible buckets: the share is resolved far finer than any share we set.
_SCALE = float(2**64)


def bucket(subject: str, name: str) -> float:
    """Map (subject, name) to a uniform value in [0, 1).

    sha256(subject + US + name); the unit separator (0x1f) keeps ("ab", "c") and
    ("a", "bc") apart. The first 8 bytes, big-endian, divided by 2**64.
    """
    digest = hashlib.sha256(f"{subject}\x1f{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def in_canary(subject: str | None, name: str, share: float) -> bool:
    """Whether ``subject`` gets the candidate version; anonymous traffic never does.

    Without a subject there is nothing to keep stable, so such requests stay on
    production rather than flip-flopping between versions.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"canary share must be within [0, 1], got {share}")
    if subject is None or share == 0.0:
        return False
    return bucket(subject, name) < share

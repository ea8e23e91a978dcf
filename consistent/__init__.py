"""consistent: consistent hashing, placement algorithms and a sans-IO backoff pool.

Every placement algorithm implements :class:`Placement`; keys are hashed once, by
:mod:`consistent`'s key-hashing step (:func:`hash_key`, :func:`hash_keys`).
"""

from consistent._errors import (
    ConsistentError,
    DuplicateNodeError,
    EmptyRingError,
    NoHealthyEndpointError,
    PoolFullError,
    UnknownNodeError,
    UnsupportedOperationError,
)
from consistent._hashing import (
    Key,
    KeyedHasher,
    KeyHasher,
    Keys,
    MD5Hasher,
    XXH3Hasher,
    get_hasher,
    hash_key,
    hash_keys,
)
from consistent._protocol import Placement, movement

# -- ring (HashRing) --
# -- algorithms (jump, memento, rendezvous) --
# -- algorithms (maglev, multiprobe, bounded) --
# -- backoff and pool --

__version__ = "0.1.0"

__all__ = [
    # errors
    "ConsistentError",
    "DuplicateNodeError",
    "EmptyRingError",
    "NoHealthyEndpointError",
    "PoolFullError",
    "UnknownNodeError",
    "UnsupportedOperationError",
    # hashing
    "Key",
    "Keys",
    "KeyHasher",
    "KeyedHasher",
    "MD5Hasher",
    "XXH3Hasher",
    "get_hasher",
    "hash_key",
    "hash_keys",
    # protocol
    "Placement",
    "movement",
    # -- __all__ ring --
    # -- __all__ algorithms A --
    # -- __all__ algorithms B --
    # -- __all__ pool --
]

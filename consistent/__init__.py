"""consistent: consistent hashing, placement algorithms and a sans-IO backoff pool.

Every placement algorithm implements :class:`Placement`; keys are hashed once, by
:mod:`consistent`'s key-hashing step (:func:`hash_key`, :func:`hash_keys`).
"""

from consistent._anchor import AnchorHash
from consistent._backoff import CheckSchedule, ExponentialBackoff, Jitter
from consistent._binomial import BinomialHash
from consistent._bounded import BoundedLoadRing
from consistent._detectors import FailurePercentage, OutlierDetection, SuccessRateOutliers
from consistent._dxhash import DxHash
from consistent._errors import (
    ConsistentError,
    DuplicateNodeError,
    EmptyRingError,
    InvalidArgumentError,
    InvalidTypeError,
    LimitExceededError,
    NoHealthyEndpointError,
    PoolFullError,
    UnknownKeyError,
    UnknownNodeError,
    UnsupportedOperationError,
)
from consistent._fliphash import FlipHash, flip_hash, flip_hash_many
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
from consistent._jump import JumpHash, jump_hash, jump_hash_many
from consistent._jumpback import JumpBackHash, jump_back_hash, jump_back_hash_many
from consistent._jumpbackanchor import JumpBackAnchor, JumpBackAnchorBuckets
from consistent._maglev import Maglev
from consistent._membership import (
    MEMBERSHIP_TRANSITIONS,
    Membership,
    MembershipEvent,
    membership_diagram,
)
from consistent._memento import MementoHash
from consistent._multiprobe import MultiProbe
from consistent._pool import (
    DEFAULT_HEALTH_CHECK_BACKOFF,
    STRATEGIES,
    TRANSITIONS,
    EndpointStats,
    Outcome,
    Pool,
    PoolEvent,
    SuccessRateEjection,
    transition_diagram,
)
from consistent._powerch import PowerCH
from consistent._presets import PRESETS
from consistent._protocol import Placement, movement
from consistent._registry import ALGORITHMS
from consistent._rendezvous import Rendezvous
from consistent._retry import DEFAULT_RETRY_BACKOFF, RetryBudget, RetryPolicy
from consistent._ring import HashRing

__version__ = "0.1.0"

__all__ = [
    # errors
    "ConsistentError",
    "DuplicateNodeError",
    "EmptyRingError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "LimitExceededError",
    "NoHealthyEndpointError",
    "PoolFullError",
    "UnknownKeyError",
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
    "HashRing",
    # jump family and rendezvous
    "JumpHash",
    "jump_hash",
    "jump_hash_many",
    "MementoHash",
    "FlipHash",
    "flip_hash",
    "flip_hash_many",
    "JumpBackHash",
    "jump_back_hash",
    "jump_back_hash_many",
    "JumpBackAnchor",
    "JumpBackAnchorBuckets",
    "AnchorHash",
    "DxHash",
    "PowerCH",
    "BinomialHash",
    "Rendezvous",
    "Maglev",
    "MultiProbe",
    "BoundedLoadRing",
    "ALGORITHMS",
    # backoff and pool
    "ExponentialBackoff",
    "Jitter",
    "Pool",
    "Outcome",
    "PoolEvent",
    "EndpointStats",
    "SuccessRateEjection",
    "SuccessRateOutliers",
    "FailurePercentage",
    "OutlierDetection",
    "CheckSchedule",
    "PRESETS",
    "RetryPolicy",
    "RetryBudget",
    "STRATEGIES",
    "TRANSITIONS",
    "DEFAULT_HEALTH_CHECK_BACKOFF",
    "DEFAULT_RETRY_BACKOFF",
    "transition_diagram",
    # membership
    "Membership",
    "MembershipEvent",
    "MEMBERSHIP_TRANSITIONS",
    "membership_diagram",
]

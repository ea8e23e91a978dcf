"""Key hashing: every key becomes a stable unsigned 64-bit integer, the same way everywhere.

Theory of operation
-------------------
Every placement algorithm starts from the same step, defined once here. A key is a
``str``, ``bytes`` or ``int`` (numpy integer scalars are accepted as ints):

* ``str`` is hashed as its UTF-8 encoding, so ``"a"`` and ``b"a"`` are the same key; a
  str with no UTF-8 encoding (one holding a lone surrogate such as ``"\\ud800"``) raises
  :class:`ValueError` naming the key;
* ``bytes`` (and ``bytearray``/``memoryview``) are hashed as they are;
* ``int`` must lie in ``[-2**63, 2**64)`` and is encoded as the 8 little-endian bytes of its
  value modulo ``2**64`` (two's complement for negatives). So ``-1`` and ``2**64 - 1`` are
  the same key, exactly as an ``int64`` and a ``uint64`` numpy array holding the same bits
  are; integers outside that range raise :class:`ValueError`.
* anything else (``float``, ``None``, ``bool``, ``list`` ...) raises :class:`TypeError`
  naming the type. ``bool`` is refused although it is an ``int`` subclass: ``True`` as a key
  is almost always a bug.

A :class:`KeyHasher` turns those bytes into 64 bits. Three families ship:

* :class:`XXH3Hasher` -- the default: xxh3-64 (optionally seeded), fast and well
  distributed. Its batch form hashes integer keys entirely in numpy (the 8-byte case of
  XXH3 is a handful of multiplies and shifts, reproduced bit for bit), with no per-key Python.
* :class:`MD5Hasher` -- the first 8 digest bytes, little-endian; the low 32 bits of it are
  the key hash libketama uses.
* :class:`KeyedHasher` -- keyed BLAKE2b (a pseudo-random function): for users who must
  resist adversaries choosing keys to overload one node. A secret seed for xxh3 is not
  enough for that: it is not a PRF.

The scalar and batch forms agree for every key type: ``hash_key(k) == hash_keys([k])[0]``.

.. warning:: **Binary keys in numpy ``S`` arrays lose their trailing NUL bytes.**
   A fixed-width bytes array (dtype ``S``, e.g. ``np.array([b"a\\x00"])``) cannot
   represent trailing ``b"\\x00"`` bytes: numpy strips them when it hands the items back,
   so ``b"a\\x00"`` in such an array is hashed as ``b"a"`` and ``lookup_many`` disagrees
   with ``node_for(b"a\\x00")``. This is numpy's representation, not something the
   library can undo. For binary keys that may end in NUL bytes, pass a ``list`` of
   ``bytes`` or an ``object`` array (``np.array(keys, dtype=object)``), which keep every
   byte. ``U`` (str) arrays drop trailing ``"\\x00"`` characters the same way.

Nothing here uses the built-in ``hash()``, which is salted per process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any, Final, Union

import numpy as np
import numpy.typing as npt
import xxhash

from consistent._errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "KeyHasher",
    "KeyedHasher",
    "MD5Hasher",
    "XXH3Hasher",
    "Key",
    "Keys",
    "get_hasher",
    "hash_key",
    "hash_keys",
]

Key = Union[str, bytes, int]
"""A key: ``str`` (hashed as UTF-8), ``bytes`` or ``int`` in ``[-2**63, 2**64)``."""

Keys = Union[Iterable[Any], npt.NDArray[Any]]
"""A batch of keys: any iterable of :data:`Key`, or a numpy array of integers, ``bytes_``
(``S``), ``str_`` (``U``) or ``object`` holding keys."""

_MASK64: Final = (1 << 64) - 1
_INT_MIN: Final = -(1 << 63)
_INT_END: Final = 1 << 64

# The two secret words XXH3's 4-to-8-byte path reads (bytes 8..24 of its default secret).
_XXH3_SECRET_8: Final = 0x1CAD21F72C81017C
_XXH3_SECRET_16: Final = 0xDB979083E96DD4DE
_XXH3_PRIME_MX2: Final = np.uint64(0x9FB21C651E98DF25)


def _int_to_bytes(key: int) -> bytes:
    """Encode an integer key as 8 little-endian bytes (mod 2**64), checking its range."""
    if not _INT_MIN <= key < _INT_END:
        raise InvalidArgumentError(
            f"integer key must be in [-2**63, 2**64) (it is encoded as 8 bytes), got {key}"
        )
    return (key & _MASK64).to_bytes(8, "little")


def unencodable_key(key: str) -> InvalidArgumentError:
    """The error for a str key with no UTF-8 encoding (a lone surrogate such as ``"\\ud800"``).

    Lookups catch :class:`UnicodeEncodeError` around ``key.encode()`` (free when nothing is
    raised) and raise this instead, naming the key.
    """
    try:
        key.encode()
    except UnicodeEncodeError as error:
        detail = f"{error.reason} at index {error.start}"
    else:  # pragma: no cover - only called for keys that failed to encode
        detail = "unencodable"
    return InvalidArgumentError(
        f"str key {key!r} cannot be hashed: str keys are hashed as their UTF-8 encoding, "
        f"and this one has none ({detail}); pass bytes to hash other encodings"
    )


def _key_to_bytes(key: object) -> bytes:
    """The bytes a key is hashed as (see the module's theory of operation)."""
    kind = type(key)
    if kind is str:
        try:
            return key.encode()  # type: ignore[attr-defined, no-any-return]
        except UnicodeEncodeError:
            raise unencodable_key(key) from None  # type: ignore[arg-type]
    if kind is bytes:
        return key  # type: ignore[return-value]
    if kind is int:
        return _int_to_bytes(key)  # type: ignore[arg-type]
    if isinstance(key, (bytearray, memoryview)):
        return bytes(key)
    if isinstance(key, np.integer):
        return _int_to_bytes(int(key))
    if isinstance(key, str):  # subclasses
        try:
            return key.encode()
        except UnicodeEncodeError:
            raise unencodable_key(key) from None
    if isinstance(key, bytes):
        return bytes(key)
    if isinstance(key, int) and not isinstance(key, bool):
        return _int_to_bytes(int(key))
    raise InvalidTypeError(f"key must be str, bytes or int, got {type(key).__name__}: {key!r}")


def check_batch(keys: object) -> None:
    """Refuse a single str or bytes key where a batch of keys is expected.

    A str is an iterable of one-character strs and bytes one of ints, so without this
    check ``lookup_many("user:42")`` would answer once per character.

    >>> check_batch("user:42")
    Traceback (most recent call last):
    ...
    consistent._errors.InvalidTypeError: keys must be a batch of keys (a list, tuple, \
iterable or array), got a single str 'user:42'; pass ['user:42'] for one key
    """
    if isinstance(keys, (str, bytes, bytearray, memoryview)):
        shown = f"{keys!r:.60}"
        raise InvalidTypeError(
            f"keys must be a batch of keys (a list, tuple, iterable or array), got a single "
            f"{type(keys).__name__} {shown}; pass [{shown}] for one key"
        )


class KeyHasher:
    """A stable 64-bit hash of keys; subclasses define :meth:`hash_bytes`.

    Instances are immutable and compare equal when they hash identically.
    """

    #: Short family name used in ``repr`` and in :func:`get_hasher`.
    family: str = "abstract"

    def hash_bytes(self, data: bytes) -> int:
        """Hash raw bytes to an unsigned 64-bit integer."""
        raise NotImplementedError

    def hash_key(self, key: Key) -> int:
        """Hash one key to an unsigned 64-bit integer.

        Runtime complexity: O(len(key)).

        Raises:
            TypeError: the key is not str, bytes or int.
            ValueError: an int key outside ``[-2**63, 2**64)``, or a str key with no UTF-8
                encoding (a lone surrogate).
        """
        return self.hash_bytes(_key_to_bytes(key))

    def hash_uint64(self, values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        """Hash integer keys given as a uint64 array (their value modulo 2**64).

        The default runs the scalar hash per key; :class:`XXH3Hasher` vectorises it.
        """
        hb = self.hash_bytes
        return np.fromiter(
            (hb(v.to_bytes(8, "little")) for v in values.tolist()),
            dtype=np.uint64,
            count=values.size,
        )

    def node_points(
        self, names: list[str], starts: list[int], stops: list[int]
    ) -> npt.NDArray[np.uint64]:
        """Ring positions of points ``starts[j]..stops[j]-1`` of each node ``names[j]``.

        A node's points are a fixed, prefix-stable sequence: point ``i`` of ``name`` is the
        hash of the key ``f"{name}-{i}"`` (xxh3 derives it faster, see
        :meth:`XXH3Hasher.node_points`). Concatenated in the order given.

        Runtime complexity: O(total points).
        """
        spans = zip(names, starts, stops, strict=True)
        labels = [f"{name}-{i}" for name, a, b in spans for i in range(a, b)]
        return self.hash_keys(labels)

    def hash_keys(self, keys: Keys) -> npt.NDArray[np.uint64]:
        """Hash a batch of keys; the result is aligned with the input.

        Runtime complexity: O(total key length). Integer arrays are hashed without per-key
        Python work by :class:`XXH3Hasher`; strings and bytes cost one C call per key.

        Warning: a numpy fixed-width bytes array (dtype ``S``) has already lost its items'
        trailing NUL bytes (numpy's representation: ``np.array([b"a\\x00"])[0] == b"a"``),
        so those keys hash as if the NULs were absent and disagree with :meth:`hash_key`
        on the original bytes. Pass binary keys as a ``list`` of ``bytes`` or an
        ``object`` array to keep every byte. (``U`` arrays drop trailing ``"\\x00"`` too.)

        >>> h = XXH3Hasher()
        >>> bool(h.hash_keys(["a", b"a", 7])[2] == h.hash_key(7))
        True

        Raises:
            TypeError: an element is not a key, the array's dtype cannot hold keys, or
                ``keys`` is a single str or bytes key rather than a batch.
            ValueError: an int key outside ``[-2**63, 2**64)``, or a str key with no UTF-8
                encoding (a lone surrogate).
        """
        if isinstance(keys, np.ndarray):
            return self._hash_array(keys)
        if not isinstance(keys, (list, tuple)):
            check_batch(keys)
            keys = list(keys)
        if not keys:
            return np.empty(0, dtype=np.uint64)
        kinds = set(map(type, keys))
        if kinds == {int}:
            return self.hash_uint64(_ints_to_uint64(keys))
        hb = self.hash_bytes
        if kinds == {str}:
            try:
                return np.fromiter(map(hb, map(str.encode, keys)), dtype=np.uint64, count=len(keys))
            except UnicodeEncodeError:
                for key in keys:
                    _key_to_bytes(key)  # raises the scalar path's error for the first bad key
                raise
        if kinds == {bytes}:
            return np.fromiter(map(hb, keys), dtype=np.uint64, count=len(keys))
        return np.fromiter(map(hb, map(_key_to_bytes, keys)), dtype=np.uint64, count=len(keys))

    def _hash_array(self, keys: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
        if keys.ndim != 1:
            raise InvalidArgumentError(
                f"keys array must be one-dimensional, got shape {keys.shape}"
            )
        kind = keys.dtype.kind
        if kind in "iu":
            return self.hash_uint64(keys.astype(np.uint64, copy=False))
        if kind in "USO":
            # numpy's S dtype has already dropped trailing NUL bytes; that is numpy's
            # representation, documented in the module docstring and in hash_keys.
            return self.hash_keys(keys.tolist())
        raise InvalidTypeError(
            f"keys array must have an integer, bytes (S), str (U) or object dtype, "
            f"got dtype {keys.dtype}"
        )

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self.__dict__.items()))))


def _ints_to_uint64(keys: list[int] | tuple[int, ...]) -> npt.NDArray[np.uint64]:
    """Python ints -> their uint64 encoding, range-checked like the scalar path."""
    try:
        return np.array(keys, dtype=np.int64).astype(np.uint64)
    except OverflowError:
        pass
    for k in keys:
        if not _INT_MIN <= k < _INT_END:
            _int_to_bytes(k)  # raises the scalar path's error
    return np.array([k & _MASK64 for k in keys], dtype=np.uint64)


class XXH3Hasher(KeyHasher):
    """xxh3-64, the default hash family; ``seed`` selects an independent hash function.

    >>> XXH3Hasher().hash_key("user:42") == XXH3Hasher().hash_key(b"user:42")
    True
    >>> XXH3Hasher()
    XXH3Hasher(seed=0)
    """

    family = "xxh3"

    def __init__(self, seed: int = 0) -> None:
        if type(seed) is not int or not 0 <= seed <= _MASK64:
            raise InvalidArgumentError(f"seed must be an int in [0, 2**64), got {seed!r}")
        self.seed = seed

    def hash_bytes(self, data: bytes) -> int:
        return xxhash.xxh3_64_intdigest(data, self.seed)

    def hash_uint64(self, values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        """XXH3-64 of each value's 8 little-endian bytes, computed in numpy (no per-key Python)."""
        return _xxh3_uint64(values, np.uint64(self.seed))

    def node_points(
        self, names: list[str], starts: list[int], stops: list[int]
    ) -> npt.NDArray[np.uint64]:
        """Ring positions of the nodes' points, derived in one vectorised pass.

        Point ``i`` of ``name`` is xxh3-64 of ``i`` (8 bytes, little-endian) seeded with
        this hasher's hash of ``name``.

        Equivalent to ``XXH3Hasher(seed=self.hash_key(name)).hash_key(i)``, computed for all
        points of all nodes in one vectorised pass, so building a 1,000-node ring costs
        milliseconds.
        """
        counts = np.asarray(stops, dtype=np.int64) - np.asarray(starts, dtype=np.int64)
        seeds = np.fromiter(
            (self.hash_bytes(name.encode()) for name in names), dtype=np.uint64, count=len(names)
        )
        total = int(counts.sum())
        offsets = np.cumsum(counts) - counts
        index = np.arange(total, dtype=np.int64) - np.repeat(
            offsets - np.asarray(starts, dtype=np.int64), counts
        )
        return _xxh3_uint64(index.astype(np.uint64), np.repeat(seeds, counts))

    def __repr__(self) -> str:
        return f"XXH3Hasher(seed={self.seed})"


# -- XXH3's 8-byte path, and the seeded 64-bit mixer built on it -----------------------
#
# One implementation of XXH3-64 on 8-byte inputs: the batch integer-key hash above, ring
# points (seeded per node), MementoHash's rehash (seeded with a bucket) and Rendezvous's
# draws (a key hash seeded with a node's seed) all use it. The scalar form is one C call
# to the xxhash library; the batch form reproduces XXH3's 4-to-8-byte path in wrapping
# numpy arithmetic, bit for bit (tested against the library).

mix_scalar: Final[Callable[[bytes, int], int]] = xxhash.xxh3_64_intdigest
"""``mix_scalar(h.to_bytes(8, "little"), seed)``: XXH3-64 of a 64-bit value under ``seed``."""


def mix_bitflip(seed: int) -> int:
    """The per-seed constant XXH3 xors into an 8-byte input (precompute it once per seed).

    >>> mix_bitflip(0) == _XXH3_SECRET_8 ^ _XXH3_SECRET_16
    True
    """
    seed ^= (int.from_bytes((seed & 0xFFFFFFFF).to_bytes(4, "little"), "big") << 32) & _MASK64
    return ((_XXH3_SECRET_8 ^ _XXH3_SECRET_16) - seed) & _MASK64


def mix_bitflips(seeds: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """:func:`mix_bitflip` of every element of a uint64 array (or a 0-d array)."""
    s = np.asarray(seeds, dtype=np.uint64)
    low = s & np.uint64(0xFFFFFFFF)
    swapped = (
        ((low & np.uint64(0xFF)) << np.uint64(24))
        | ((low & np.uint64(0xFF00)) << np.uint64(8))
        | ((low >> np.uint64(8)) & np.uint64(0xFF00))
        | (low >> np.uint64(24))
    )
    with np.errstate(over="ignore"):
        result: npt.NDArray[np.uint64] = np.uint64(_XXH3_SECRET_8 ^ _XXH3_SECRET_16) - (
            s ^ (swapped << np.uint64(32))
        )
    return result


def mix_many(
    values: npt.NDArray[np.uint64], bitflips: npt.NDArray[np.uint64] | np.uint64
) -> npt.NDArray[np.uint64]:
    """XXH3-64 of 8-byte little-endian ``values`` under seeds given by their ``bitflips``.

    ``bitflips`` are :func:`mix_bitflips` of the seeds, broadcast against ``values``: one
    seed for all, one per value, or a row of node seeds against a column of key hashes
    (every (key, node) pair). This is XXH3's 4-to-8-byte path: the two 32-bit halves
    swapped, xored with the bitflip, then the ``rrmxmx`` finaliser.

    Runtime complexity: O(size of the broadcast result), no per-value Python.

    >>> h = np.array([7], dtype=np.uint64)
    >>> int(mix_many(h, mix_bitflips(np.uint64(3)))[0]) == mix_scalar((7).to_bytes(8, "little"), 3)
    True
    """
    v = np.asarray(values, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (v >> np.uint64(32)) | (v << np.uint64(32))
        if np.shape(bitflips) == () or np.shape(bitflips) == x.shape:
            x ^= bitflips  # in place: no temporary of the batch's size
        else:
            x = x ^ bitflips  # a row of seeds against a column of values: a new shape
        x ^= ((x << np.uint64(49)) | (x >> np.uint64(15))) ^ (
            (x << np.uint64(24)) | (x >> np.uint64(40))
        )
        x *= _XXH3_PRIME_MX2
        x ^= (x >> np.uint64(35)) + np.uint64(8)
        x *= _XXH3_PRIME_MX2
        x ^= x >> np.uint64(28)
    result: npt.NDArray[np.uint64] = x
    return result


def _xxh3_uint64(
    values: npt.NDArray[np.uint64], seed: np.uint64 | npt.NDArray[np.uint64]
) -> npt.NDArray[np.uint64]:
    """XXH3-64 of 8-byte little-endian inputs with a scalar or per-value seed, in numpy."""
    return mix_many(values, mix_bitflips(np.asarray(seed, dtype=np.uint64)))


class MD5Hasher(KeyHasher):
    """MD5, the first 8 digest bytes read little-endian.

    ``hash_key(k) & 0xFFFFFFFF`` is libketama's key hash (digest bytes 0..3, little-endian).
    Slower than xxh3; use it for compatibility, not speed.

    >>> MD5Hasher().hash_key("foo") & 0xFFFFFFFF
    3675831724
    """

    family = "md5"

    def hash_bytes(self, data: bytes) -> int:
        return int.from_bytes(hashlib.md5(data).digest()[:8], "little")

    def __repr__(self) -> str:
        return "MD5Hasher()"


class KeyedHasher(KeyHasher):
    """Keyed BLAKE2b-64: a pseudo-random function of the key under a secret.

    Without the secret an adversary cannot predict which keys land together, so they cannot
    craft keys that overload one node. ``repr`` does not reveal the secret.

    >>> KeyedHasher(b"secret").hash_key("a") != KeyedHasher(b"other").hash_key("a")
    True
    """

    family = "keyed"

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or not 1 <= len(key) <= 64:
            raise InvalidArgumentError(f"key must be 1 to 64 bytes, got {key!r:.20}")
        self.key = key

    def hash_bytes(self, data: bytes) -> int:
        return int.from_bytes(hashlib.blake2b(data, digest_size=8, key=self.key).digest(), "little")

    def __repr__(self) -> str:
        # The secret must not leak into logs; this repr is valid Python but needs a key.
        return "KeyedHasher(key=...)"


_DEFAULT: Final = XXH3Hasher()
_FAMILIES: Final[dict[str, type[KeyHasher]]] = {"xxh3": XXH3Hasher, "md5": MD5Hasher}


def get_hasher(spec: str | KeyHasher | None = None) -> KeyHasher:
    """Resolve a hash family name (``"xxh3"``, ``"md5"``) or pass a hasher through.

    >>> get_hasher("md5")
    MD5Hasher()

    Raises:
        ValueError: an unknown family name.
        TypeError: neither a name nor a :class:`KeyHasher`.
    """
    if spec is None:
        return _DEFAULT
    if isinstance(spec, KeyHasher):
        return spec
    if isinstance(spec, str):
        try:
            return _FAMILIES[spec]()
        except KeyError:
            raise InvalidArgumentError(
                f"hash must be one of {sorted(_FAMILIES)} or a KeyHasher, got {spec!r}"
            ) from None
    raise InvalidTypeError(f"hash must be a family name or a KeyHasher, got {type(spec).__name__}")


def hash_key(key: Key, hasher: KeyHasher = _DEFAULT) -> int:
    """Hash one key to a stable unsigned 64-bit integer (xxh3-64 by default).

    Runtime complexity: O(len(key)).

    >>> hash_key("a") == hash_key(b"a")
    True
    >>> hash_key(-1) == hash_key(2**64 - 1)
    True
    >>> hash_key(1.5)
    Traceback (most recent call last):
    ...
    consistent._errors.InvalidTypeError: key must be str, bytes or int, got float: 1.5
    """
    return hasher.hash_key(key)


def hash_keys(keys: Keys, hasher: KeyHasher = _DEFAULT) -> npt.NDArray[np.uint64]:
    """Hash a batch of keys into a numpy uint64 array aligned with the input.

    ``hash_keys([k])[0] == hash_key(k)`` for every key. See :meth:`KeyHasher.hash_keys`.

    Warning: numpy fixed-width bytes arrays (dtype ``S``) cannot hold trailing NUL bytes:
    ``np.array([b"a\\x00"])`` holds ``b"a"``, so its hash differs from
    ``hash_key(b"a\\x00")``. Pass binary keys as a ``list`` or an ``object`` array.

    Runtime complexity: O(total key length); integer arrays are fully vectorised.

    >>> keys = [b"a\\x00"]
    >>> bool(hash_keys(keys)[0] == hash_key(b"a\\x00"))
    True
    >>> bool(hash_keys(np.array(keys))[0] == hash_key(b"a"))  # dtype S dropped the NUL
    True
    """
    return hasher.hash_keys(keys)

"""Key hashing: stable, scalar == batch, every key type, every family."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

import consistent
from consistent import (
    KeyedHasher,
    KeyHasher,
    MD5Hasher,
    XXH3Hasher,
    get_hasher,
    hash_key,
    hash_keys,
)
from consistent._hashing import mix_bitflip, mix_bitflips, mix_many, mix_scalar

MASK64 = (1 << 64) - 1
keys_strategy = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
)
hashers = [XXH3Hasher(), XXH3Hasher(seed=12345), MD5Hasher(), KeyedHasher(b"k" * 16)]


def reference(hasher: object, key: str | bytes | int) -> int:
    """The documented definition, computed with the hash libraries directly."""
    if isinstance(key, str):
        data = key.encode()
    elif isinstance(key, bytes):
        data = key
    else:
        data = (key & MASK64).to_bytes(8, "little")
    if isinstance(hasher, XXH3Hasher):
        return xxhash.xxh3_64_intdigest(data, seed=hasher.seed)
    if isinstance(hasher, MD5Hasher):
        return int.from_bytes(hashlib.md5(data).digest()[:8], "little")
    assert isinstance(hasher, KeyedHasher)
    return int.from_bytes(hashlib.blake2b(data, digest_size=8, key=hasher.key).digest(), "little")


@pytest.mark.parametrize("hasher", hashers, ids=repr)
@given(keys=st.lists(keys_strategy, max_size=30))
@settings(max_examples=60, deadline=None)
def test_scalar_equals_batch_equals_definition(hasher, keys):
    batch = hasher.hash_keys(keys)
    assert batch.dtype == np.uint64
    assert batch.shape == (len(keys),)
    for key, h in zip(keys, batch.tolist(), strict=True):
        assert hasher.hash_key(key) == h == reference(hasher, key)


@given(
    values=st.lists(st.integers(min_value=0, max_value=MASK64), min_size=1, max_size=50),
    seed=st.integers(min_value=0, max_value=MASK64),
)
@settings(max_examples=100, deadline=None)
def test_vectorised_xxh3_matches_library_for_every_seed(values, seed):
    ours = XXH3Hasher(seed).hash_keys(np.array(values, dtype=np.uint64))
    expected = [xxhash.xxh3_64_intdigest(v.to_bytes(8, "little"), seed=seed) for v in values]
    assert ours.tolist() == expected


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
)
def test_every_numpy_integer_dtype_hashes_like_python_ints(dtype):
    info = np.iinfo(dtype)
    values = np.array([info.min, info.max, 0, 1, info.max // 3], dtype=dtype)
    assert hash_keys(values).tolist() == [hash_key(int(v)) for v in values]


def test_numpy_str_bytes_and_object_arrays():
    words = ["alpha", "béta", "", "z" * 50]
    assert hash_keys(np.array(words)).tolist() == [hash_key(w) for w in words]
    assert hash_keys(np.array([w.encode() for w in words[:2]])).tolist() == [
        hash_key(w.encode()) for w in words[:2]
    ]
    mixed = np.array(["a", b"b", 3], dtype=object)
    assert hash_keys(mixed).tolist() == [hash_key("a"), hash_key(b"b"), hash_key(3)]


def test_integer_encoding_is_documented_modulo_2_64():
    assert hash_key(-1) == hash_key(2**64 - 1)
    assert hash_key(np.int64(-5)) == hash_key(-5) == hash_key(np.uint64(2**64 - 5))
    assert hash_key("a") == hash_key(b"a") == hash_key(bytearray(b"a"))
    assert hash_key(5) != hash_key("5")


@pytest.mark.parametrize("key", [2**64, -(2**63) - 1])
def test_out_of_range_int_names_the_value(key):
    with pytest.raises(ValueError, match=str(key)):
        hash_key(key)
    with pytest.raises(ValueError, match=str(key)):
        hash_keys([1, key])


@pytest.mark.parametrize("key", [1.5, None, True, [1], (1,), {"a": 1}])
def test_unsupported_key_types_name_the_type(key):
    with pytest.raises(TypeError, match=type(key).__name__):
        hash_key(key)
    with pytest.raises(TypeError, match=type(key).__name__):
        hash_keys(["ok", key])


def test_bad_arrays_are_refused():
    with pytest.raises(TypeError, match="float64"):
        hash_keys(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="bool"):
        hash_keys(np.array([True]))
    with pytest.raises(ValueError, match="one-dimensional"):
        hash_keys(np.zeros((2, 2), dtype=np.uint64))


def test_empty_batch():
    assert hash_keys([]).shape == (0,)
    assert hash_keys(iter([])).dtype == np.uint64


def test_stable_across_processes_and_hash_seeds():
    keys = ["", "a", "user:42", "ключ", 0, -1, 2**63, 12345678901234]
    program = (
        "import json, sys; from consistent import hash_key, hash_keys, MD5Hasher;"
        "keys = json.loads(sys.argv[1]);"
        "print(json.dumps([[hash_key(k) for k in keys], hash_keys(keys).tolist(),"
        " [MD5Hasher().hash_key(k) for k in keys]]))"
    )
    here = [
        [hash_key(k) for k in keys],
        hash_keys(keys).tolist(),
        [MD5Hasher().hash_key(k) for k in keys],
    ]
    for seed in ("0", "1", "random"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run(
            [sys.executable, "-c", program, json.dumps(keys)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(out.stdout) == here


def test_golden_values_from_the_hash_libraries():
    # Reviewed by hand: xxh3-64 of b"a" and md5("foo")[:4] little-endian (libketama's hashi).
    assert hash_key("a") == xxhash.xxh3_64_intdigest(b"a") == 0xE6C632B61E964E1F
    assert MD5Hasher().hash_key("foo") & 0xFFFFFFFF == 0xDB18BDAC


def test_node_points_definition():
    h = XXH3Hasher(seed=7)
    got = h.node_points(["n1", "n2"], [0, 3], [2, 5]).tolist()
    seeds = [xxhash.xxh3_64_intdigest(b"n1", seed=7), xxhash.xxh3_64_intdigest(b"n2", seed=7)]
    expected = [
        xxhash.xxh3_64_intdigest(i.to_bytes(8, "little"), seed=s)
        for s, idx in zip(seeds, [range(0, 2), range(3, 5)], strict=True)
        for i in idx
    ]
    assert got == expected
    md5 = MD5Hasher()
    assert md5.node_points(["n"], [1], [3]).tolist() == [md5.hash_key("n-1"), md5.hash_key("n-2")]


def test_hasher_construction_and_resolution():
    assert get_hasher(None) == XXH3Hasher()
    assert get_hasher("md5") == MD5Hasher()
    assert get_hasher(XXH3Hasher(3)) == XXH3Hasher(3)
    assert eval(repr(XXH3Hasher(3))) == XXH3Hasher(3)
    assert "secret" not in repr(KeyedHasher(b"secret"))
    with pytest.raises(ValueError, match="'sha1'"):
        get_hasher("sha1")
    with pytest.raises(TypeError, match="int"):
        get_hasher(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="-1"):
        XXH3Hasher(-1)
    with pytest.raises(ValueError, match="1 to 64 bytes"):
        KeyedHasher(b"")
    assert KeyedHasher(b"x").hash_key("a") != KeyedHasher(b"y").hash_key("a")


@pytest.mark.parametrize("hasher", [XXH3Hasher(), MD5Hasher()])
def test_a_str_key_without_utf8_encoding_raises_value_error_naming_it(hasher: KeyHasher) -> None:
    message = r"str key '\\ud800' cannot be hashed: str keys are hashed as their UTF-8"
    with pytest.raises(ValueError, match=message):
        hasher.hash_key("\ud800")
    with pytest.raises(ValueError, match=message):
        hasher.hash_keys(["ok", "\ud800"])
    with pytest.raises(ValueError, match=message):
        hasher.hash_keys(np.array(["ok", "\ud800", 3], dtype=object))

    class Name(str):
        pass

    with pytest.raises(ValueError, match=message):
        hasher.hash_key(Name("\ud800"))


def test_numpy_bytes_arrays_drop_trailing_nuls_but_lists_and_object_arrays_keep_them() -> None:
    # Documented, not refused: numpy's S dtype cannot represent trailing NUL bytes.
    key = b"a\x00"
    assert hash_keys([key])[0] == hash_key(key)
    assert hash_keys(np.array([key], dtype=object))[0] == hash_key(key)
    assert hash_keys(np.array([key]))[0] == hash_key(b"a")


# -- the seeded mixer (XXH3's 8-byte path) shared by MementoHash and Rendezvous -------


UINT64 = st.integers(min_value=0, max_value=2**64 - 1)


@settings(max_examples=50)
@given(UINT64, UINT64)
def test_mixer_is_xxh3_of_the_hash_bytes(h: int, seed: int) -> None:
    expected = xxhash.xxh3_64_intdigest(h.to_bytes(8, "little"), seed)
    bitflips = mix_bitflips(np.array([seed], dtype=np.uint64))
    assert int(bitflips[0]) == mix_bitflip(seed)
    assert int(mix_many(np.array([h], dtype=np.uint64), bitflips)[0]) == expected
    assert mix_scalar(h.to_bytes(8, "little"), seed) == expected
    assert int(XXH3Hasher(seed).hash_uint64(np.array([h], dtype=np.uint64))[0]) == expected


# -- errors are ConsistentErrors and the built-ins callers catch -------------------------


@pytest.mark.parametrize(
    ("call", "error", "builtin", "message"),
    [
        (lambda: hash_key(1.5), consistent.InvalidTypeError, TypeError, "got float: 1.5"),
        (lambda: hash_key(2**64), consistent.InvalidArgumentError, ValueError, "2\\*\\*64"),
        (lambda: hash_key("x\ud800"), consistent.InvalidArgumentError, ValueError, "UTF-8"),
        (lambda: hash_keys([1, 1.5]), consistent.InvalidTypeError, TypeError, "float"),
        (lambda: hash_keys(np.zeros((2, 2))), consistent.InvalidArgumentError, ValueError,
         "one-dimensional"),
        (lambda: hash_keys(np.zeros(2)), consistent.InvalidTypeError, TypeError, "float64"),
        (lambda: get_hasher("sha1"), consistent.InvalidArgumentError, ValueError, "'sha1'"),
        (lambda: get_hasher(3), consistent.InvalidTypeError, TypeError, "int"),
        (lambda: XXH3Hasher(seed=-1), consistent.InvalidArgumentError, ValueError, "-1"),
        (lambda: KeyedHasher(b""), consistent.InvalidArgumentError, ValueError, "1 to 64"),
    ],
)
def test_refusals_are_consistent_errors(call, error, builtin, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message) as caught:
        call()
    assert isinstance(caught.value, builtin)
    assert isinstance(caught.value, consistent.ConsistentError)


@pytest.mark.parametrize("batch", ["user:42", b"user:42", bytearray(b"k"), memoryview(b"k")])
def test_a_single_str_or_bytes_key_is_not_a_batch(batch: object) -> None:
    with pytest.raises(consistent.InvalidTypeError, match="got a single") as caught:
        hash_keys(batch)  # type: ignore[arg-type]
    assert isinstance(caught.value, TypeError)
    assert hash_keys(["user:42"]).tolist() == [hash_key("user:42")]

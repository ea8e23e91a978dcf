"""Naive, obviously-right reference rings used as models by the ring tests.

They share nothing with ``consistent._ring`` but the documented definitions: a list of
(position, node) pairs sorted by (position, node name), linear scans for lookups.
"""

from __future__ import annotations

import hashlib
import math
import struct

import xxhash

from consistent import KeyHasher, XXH3Hasher


def _to_bytes(key: str | bytes | int) -> bytes:
    if isinstance(key, str):
        return key.encode()
    if isinstance(key, bytes):
        return key
    return (key % 2**64).to_bytes(8, "little")


class ReferenceRing:
    """The documented ring, computed the slow way."""

    def __init__(self, vnodes: int = 160, hasher: KeyHasher | None = None) -> None:
        self.vnodes = vnodes
        self.hasher = hasher or XXH3Hasher()
        self.weights: dict[str, float] = {}

    def count(self, weight: float) -> int:
        return max(1, round(self.vnodes * weight))

    def point_positions(self, name: str) -> list[int]:
        n = self.count(self.weights[name])
        if type(self.hasher) is XXH3Hasher:
            seed = xxhash.xxh3_64_intdigest(name.encode(), seed=self.hasher.seed)
            return [xxhash.xxh3_64_intdigest(i.to_bytes(8, "little"), seed=seed) for i in range(n)]
        return [self.hasher.hash_bytes(f"{name}-{i}".encode()) for i in range(n)]

    def points(self) -> list[tuple[int, str]]:
        return sorted((p, name) for name in self.weights for p in self.point_positions(name))

    def position(self, key: str | bytes | int) -> int:
        return self.hasher.hash_bytes(_to_bytes(key))

    def preference(self, key: str | bytes | int) -> list[str]:
        pts = self.points()
        h = self.position(key)
        start = next((i for i, (p, _) in enumerate(pts) if p >= h), 0)
        order: list[str] = []
        for j in range(len(pts)):
            name = pts[(start + j) % len(pts)][1]
            if name not in order:
                order.append(name)
        return order

    def node_for(self, key: str | bytes | int) -> str:
        return self.preference(key)[0]

    def owned(self, space: int = 2**64) -> dict[str, int]:
        pts = self.points()
        owned = dict.fromkeys(self.weights, 0)
        for i, (p, name) in enumerate(pts):
            prev = pts[i - 1][0] if i else pts[-1][0] - space
            owned[name] += p - prev
        return owned


def f32(x: float) -> float:
    """Round to IEEE single precision, as a C float store does."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


class ReferenceKetama:
    """libketama's continuum, transcribed from its C source's description."""

    def __init__(self, weights: dict[str, int]) -> None:
        total = sum(weights.values())
        n = len(weights)
        points = []
        for name, memory in weights.items():
            pct = f32(f32(memory) / f32(total))  # float pct = (float)memory / (float)total
            ks = math.floor(f32(pct * 40.0 * f32(n)))  # floorf(pct * 40.0 * (float)n)
            for k in range(ks):
                digest = hashlib.md5(f"{name}-{k}".encode()).digest()
                for h in range(4):
                    value = (
                        (digest[3 + h * 4] << 24)
                        | (digest[2 + h * 4] << 16)
                        | (digest[1 + h * 4] << 8)
                        | digest[h * 4]
                    )
                    points.append((value, name))
        self.points = sorted(points)
        self.counts = {name: sum(1 for _, o in points if o == name) for name in weights}

    def node_for(self, key: str) -> str:
        digest = hashlib.md5(key.encode()).digest()
        h = (digest[3] << 24) | (digest[2] << 16) | (digest[1] << 8) | digest[0]
        for p, name in self.points:
            if p >= h:
                return name
        return self.points[0][1]

"""The discrete-event engine: an event heap, the simulated clock and named random streams.

Theory of operation
-------------------
An event is a tuple ``(time, seq, callback, argument)`` in a binary heap (:mod:`heapq`).
``seq`` is a counter, so events at equal times run first-in first-out and the callbacks
themselves are never compared. Running an event sets :attr:`Engine.now` and calls
``callback(argument)``; callbacks schedule further events. No event objects are allocated:
the tuple is the event, and callbacks are bound methods, so the hot loop is a ``heappop``,
a store and a call.

Randomness comes from *named streams*: each component asks for its own stream by name, and
the stream's seed is derived from the run seed and the name alone (through
:func:`consistent.hash_key`, which is stable across processes). Adding a component therefore
never changes the draws another component sees.

*Control events* (:meth:`Engine.control_at`) are events that may invalidate a decision
taken in advance: a component that wants to decide now what will happen at a later time
(the request path deciding a hop before the request gets there) may do so only when no
control event is pending before that time, which :attr:`Engine.control_times` tells.

This module knows nothing of servers, clients or metrics.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from typing import Any

import numpy as np

from consistent import hash_key

__all__ = ["Engine", "stream_seed"]

Callback = Callable[[Any], object]


def stream_seed(seed: int, name: str) -> int:
    """The 64-bit seed of the random stream ``name`` in a run seeded with ``seed``.

    Stable across processes, platforms and Python versions.

    >>> stream_seed(1, "workload") == stream_seed(1, "workload")
    True
    >>> stream_seed(1, "workload") != stream_seed(2, "workload")
    True
    """
    return hash_key(f"{seed}/{name}")


class Engine:
    """An event heap keyed by ``(time, seq)``, a clock and named seeded random streams.

    Runtime complexity: O(log n) per scheduled event for n pending events.

    >>> engine = Engine(seed=7)
    >>> seen = []
    >>> engine.at(2.0, seen.append, "b")
    >>> engine.at(1.0, seen.append, "a")
    >>> engine.at(2.0, seen.append, "c")
    >>> engine.run(until=10.0)
    >>> seen, engine.now
    (['a', 'b', 'c'], 10.0)

    Args:
        seed: the run seed every random stream derives from.
    """

    __slots__ = ("_counter", "_np_streams", "_streams", "control_times", "events", "heap",
                 "next_seq", "now", "seed")

    def __init__(self, seed: int = 0) -> None:
        if type(seed) is not int or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.seed = seed
        self.now = 0.0
        #: The event heap itself; hot paths in the model push onto it directly.
        self.heap: list[tuple[float, int, Callback, Any]] = []
        self._counter = itertools.count()
        #: The sequence counter's ``__next__``, for hot paths that push onto :attr:`heap`.
        self.next_seq: Callable[[], int] = self._counter.__next__
        #: Number of events run so far.
        self.events = 0
        self._streams: dict[str, random.Random] = {}
        self._np_streams: dict[str, np.random.Generator] = {}
        #: Times of pending control events, a heap: ``control_times[0]`` is the earliest.
        self.control_times: list[float] = []

    def __repr__(self) -> str:
        return f"Engine(seed={self.seed})"

    def at(self, time: float, callback: Callback, argument: Any = None) -> None:
        """Schedule ``callback(argument)`` at simulated ``time`` (not before :attr:`now`).

        Raises:
            ValueError: ``time`` is in the past.
        """
        if time < self.now:
            raise ValueError(f"cannot schedule an event in the past: {time} < now {self.now}")
        heapq.heappush(self.heap, (time, next(self._counter), callback, argument))

    def after(self, delay: float, callback: Callback, argument: Any = None) -> None:
        """Schedule ``callback(argument)`` ``delay`` seconds from now.

        Raises:
            ValueError: ``delay`` is negative.
        """
        if delay < 0:
            raise ValueError(f"delay must be non-negative, got {delay}")
        heapq.heappush(self.heap, (self.now + delay, next(self._counter), callback, argument))

    def control_at(self, time: float, callback: Callback, argument: Any = None) -> None:
        """Schedule a *control* event: one that may invalidate decisions taken in advance.

        >>> engine = Engine(0)
        >>> engine.control_at(2.0, print, "control"); engine.control_times
        [2.0]
        >>> engine.run(until=3.0)
        control
        >>> engine.control_times
        []
        """
        heapq.heappush(self.control_times, time)
        self.at(time, self._control, (callback, argument))

    def _control(self, item: tuple[Callback, Any]) -> None:
        heapq.heappop(self.control_times)
        callback, argument = item
        callback(argument)

    def run(self, until: float, *, on_progress: Callable[[float], object] | None = None,
            progress_interval: float = 0.0) -> None:
        """Run events in ``(time, seq)`` order until the next one is later than ``until``.

        The clock is left at ``until``. ``on_progress(now)`` is called about every
        ``progress_interval`` simulated seconds when given.
        """
        if until < self.now:
            raise ValueError(f"until must not be before now: {until} < {self.now}")
        heap = self.heap
        pop = heapq.heappop
        events = 0
        step = progress_interval if on_progress is not None and progress_interval > 0 else until
        mark = min(self.now + step, until)
        push = heapq.heappush
        while True:
            # The inner loop is the whole cost of the simulator: locals only, and popping
            # before testing the time (an event beyond the mark is pushed back once per mark)
            # saves a heap[0] lookup per event.
            while heap:
                time, seq, callback, argument = pop(heap)
                if time > mark:
                    push(heap, (time, seq, callback, argument))
                    break
                self.now = time
                callback(argument)
                events += 1
            if mark >= until:
                break
            self.now = mark
            if on_progress is not None:
                on_progress(mark)
            mark = min(mark + step, until)
        self.events += events
        self.now = until

    def stream(self, name: str) -> random.Random:
        """The :class:`random.Random` stream called ``name`` (created on first use).

        >>> Engine(1).stream("x").random() == Engine(1).stream("x").random()
        True
        """
        rng = self._streams.get(name)
        if rng is None:
            rng = self._streams[name] = random.Random(stream_seed(self.seed, name))
        return rng

    def np_stream(self, name: str) -> np.random.Generator:
        """The numpy :class:`~numpy.random.Generator` stream called ``name``.

        Separate from :meth:`stream` of the same name (a different derived seed).

        >>> float(Engine(1).np_stream("x").random()) == float(Engine(1).np_stream("x").random())
        True
        """
        gen = self._np_streams.get(name)
        if gen is None:
            ss = np.random.SeedSequence(stream_seed(self.seed, "numpy/" + name))
            gen = self._np_streams[name] = np.random.Generator(np.random.PCG64(ss))
        return gen

    @property
    def pending(self) -> int:
        """Number of scheduled events not yet run."""
        return len(self.heap)

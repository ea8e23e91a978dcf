"""Executors: where a sweep's runs execute — this process, local processes or a Dask cluster.

An executor maps a function over tasks and yields each result as it finishes, in whatever
order the tasks finish; it knows nothing of scenarios or runs. :func:`sim.sweep` gives it a
module-level function (picklable by reference) that never raises for a run's own failure.

Theory of operation
-------------------
*Three executors.* ``serial`` runs in this process; ``processes`` (the sweep's default) on a
:class:`concurrent.futures.ProcessPoolExecutor`, one worker per core (:func:`default_workers`);
``dask`` on a Dask distributed cluster (``scheduler="tcp://host:8786"``, a
``dask.distributed.Client``, or a local cluster started for the sweep and closed with it).
Results come back in completion order; the caller places them (a sweep by configuration and
replication), so what it computes from them does not depend on the executor or the number
of workers.

*Lost tasks.* A task whose result never comes back — its worker process died
(``BrokenProcessPool``), Dask gave up on it (``KilledWorker``), a value would not pickle —
is not an exception out of :meth:`~Executor.map`: the caller's ``lost(task, exc)`` turns it
into a result like any other, and the other tasks go on.

*Ctrl-C.* Workers ignore SIGINT (a terminal's Ctrl-C reaches the whole process group): the
caller handles the one KeyboardInterrupt and calls ``close(cancel=True)``, which cancels
what is pending, terminates local workers and closes a cluster it started.

*Start methods.* Local workers start by forkserver (spawn where there is none), never fork:
the parent may hold threads (a Dask client, a notebook kernel's) whose locks a forked child
would inherit held. The forkserver imports the simulator once, before it forks workers.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol, TypeVar

__all__ = ["EXECUTORS", "Executor", "default_workers", "open_executor"]

EXECUTORS = ("serial", "processes", "dask")
"""Where a sweep's runs execute."""

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs a function over tasks somewhere; yields results as they finish."""

    def map(self, fn: Callable[[T], R], tasks: Sequence[T],
            lost: Callable[[T, Exception], R]) -> Iterator[R]:
        """``fn(task)`` for each task, in completion order; ``lost(task, exc)`` for a task
        whose result never came back (a worker died, ...)."""
        ...

    def close(self, cancel: bool) -> None:
        """Release the workers; with ``cancel``, first cancel what is still pending."""
        ...


def default_workers() -> int:
    """Cores this process may run on (one worker per core)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _result_of(future: Any, task: T, lost: Callable[[T, Exception], R]) -> R:
    """A finished future's result; its exception (a worker died, ...) through ``lost``."""
    try:
        result: R = future.result()
    except Exception as exc:  # BrokenProcessPool, a Dask KilledWorker, an unpicklable value
        return lost(task, exc)
    return result


class _Serial:
    """Runs tasks one after another in this process."""

    def map(self, fn: Callable[[T], R], tasks: Sequence[T],
            lost: Callable[[T, Exception], R]) -> Iterator[R]:
        for task in tasks:
            yield fn(task)

    def close(self, cancel: bool) -> None:
        pass


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it cancels and terminates)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _process_context() -> Any:
    import multiprocessing

    # forkserver, not fork: the parent may hold threads (a Dask client, a notebook kernel's)
    # whose locks a forked child would inherit held.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # Workers fork from a server that imported the simulator once, not each on its own.
        context.set_forkserver_preload(["sim"])
        return context
    return multiprocessing.get_context("spawn")  # pragma: no cover - Windows


class _Processes:
    """A pool of local worker processes (:class:`concurrent.futures.ProcessPoolExecutor`)."""

    def __init__(self, workers: int) -> None:
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=_process_context(),
                                         initializer=_ignore_sigint)
        self._futures: list[Future[Any]] = []

    def map(self, fn: Callable[[T], R], tasks: Sequence[T],
            lost: Callable[[T, Exception], R]) -> Iterator[R]:
        futures = {self._pool.submit(fn, task): task for task in tasks}
        self._futures = list(futures)
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield _result_of(future, futures[future], lost)

    def close(self, cancel: bool) -> None:
        if cancel:
            for future in self._futures:
                future.cancel()
            terminate = getattr(self._pool, "terminate_workers", None)  # Python 3.14
            if terminate is not None:
                terminate()
            else:
                for process in list(getattr(self._pool, "_processes", {}).values()):
                    process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=cancel)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Processes started inside inherit SIGINT ignored: Ctrl-C is the sweep's to handle.

    A terminal's Ctrl-C reaches the whole process group; a local Dask cluster's workers would
    each die with a traceback, where the sweep itself cancels them and closes the cluster.
    (Python keeps an inherited SIG_IGN instead of installing its KeyboardInterrupt handler.)
    """
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals are not ours to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Dask:
    """Runs tasks on a Dask distributed cluster: given, at an address, or local."""

    def __init__(self, workers: int, scheduler: Any) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise RuntimeError("the dask executor needs dask.distributed: "
                               "pip install 'consistent-ring[dask]'") from None
        self._cluster: Any = None
        self._owns_client = True
        if scheduler is None:
            import logging

            with _sigint_ignored():
                self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                             processes=True, host="127.0.0.1",
                                             dashboard_address=None,
                                             silence_logs=logging.ERROR)
            self._client = Client(self._cluster, set_as_default=False)
        elif isinstance(scheduler, str):
            try:
                self._client = Client(scheduler, set_as_default=False, timeout=30)
            except OSError as exc:
                raise RuntimeError(f"cannot reach the Dask scheduler at {scheduler!r}: "
                                   f"{exc}") from None
        else:
            self._client = scheduler
            self._owns_client = False
        self._futures: list[Any] = []

    def map(self, fn: Callable[[T], R], tasks: Sequence[T],
            lost: Callable[[T, Exception], R]) -> Iterator[R]:
        from dask.distributed import as_completed

        futures = {self._client.submit(fn, task, pure=False): task for task in tasks}
        self._futures = list(futures)
        # The client is not the default one (set_as_default=False): name its event loop.
        for future in as_completed(list(futures), loop=self._client.loop):
            yield _result_of(future, futures[future], lost)

    def close(self, cancel: bool) -> None:
        try:
            if cancel and self._futures:
                self._client.cancel(self._futures)
        finally:
            if self._owns_client:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()


def open_executor(executor: str, workers: int | None, scheduler: Any, tasks: int) -> Executor:
    """The executor named ``executor``, sized for ``tasks`` tasks (at most one worker each).

    Args:
        executor: one of :data:`EXECUTORS` (checked by the caller).
        workers: worker processes (default: :func:`default_workers`); for ``dask``, of the
            local cluster started when ``scheduler`` is None.
        scheduler: for ``dask``: an address (``"tcp://host:8786"``), a
            ``dask.distributed.Client`` (left open on close), or None for a local cluster.
        tasks: how many tasks the first map will run.

    Raises:
        RuntimeError: the dask executor without dask installed, or no scheduler there.
    """
    if executor == "serial":
        return _Serial()
    if executor == "processes":
        return _Processes(max(1, min(workers or default_workers(), tasks)))
    return _Dask(max(1, min(workers or default_workers(), tasks)), scheduler)

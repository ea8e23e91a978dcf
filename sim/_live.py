"""The live twin of a run: the same scenario on real processes on 127.0.0.1.

:func:`run_live` (``consistent-sim run SCENARIO --live``) starts one OS process per server
(:mod:`sim._live_server`: uvicorn, ``consistent.http.ForwardToHome``, heartbeats driving
``consistent.Membership``) and a few client processes (:mod:`sim._live_client`: open-loop
Poisson arrivals through ``consistent.http.AsyncPoolTransport`` and ``consistent.Pool``),
carries out the scenario's faults with real signals at their times, merges every process's
event log (:mod:`sim._live_logs`) and returns a :class:`sim.RunResult` whose summary, table
and time series have the shape of a simulated run's.

Faults, for real:

=================  ===================================================================
kind               what the runner does
=================  ===================================================================
crash              ``refuse``: SIGKILL (the port is closed: connections are refused);
                   ``blackhole``: SIGSTOP until the end of the run (the kernel still
                   accepts connections on the open socket, nothing answers: senders
                   learn at their timeouts, as from a hung host)
restart            graceful: SIGTERM (the server announces ``left``, uvicorn closes its
                   socket and drains up to ``drain``), then a new process ``downtime``
                   after the old one exited, on the same port; ``graceful = false``:
                   SIGKILL (``refuse``) or SIGSTOP then SIGKILL at the restart
                   (``blackhole``), and a new process ``downtime`` later
rolling-restart    the same for servers 0, 1, ... one every ``pace``
hang               SIGSTOP, SIGCONT ``duration`` later (the work it held is intact)
join               new server processes, which announce themselves to every peer
decommission       SIGTERM (a graceful leave) and no return
network-delay      not supported live (the scenario is refused)
=================  ===================================================================

Safety: every child is in its own session and has ``PR_SET_PDEATHSIG`` = SIGKILL, so a
killed runner leaves none behind; a normal end, an exception and Ctrl-C all kill every child
in ``finally``; the run is bounded in time (duration plus fixed start and end allowances);
the temporary directory (specs and logs) is removed unless ``keep`` names one.

Limits (:data:`LIMITS`): the largest cluster and request rate this machine sustains without
the generator falling behind; a scenario beyond them is refused with one line. A run whose
generator started requests later than :data:`MAX_LAG` (p99 of the lag) is marked invalid
(``summary["live"]["valid"]``), not reported as a result.

Calibration data: ``summary["live"]["decomposition"]`` (:func:`latency_decomposition`) splits
the latency of the requests finished before the first fault into the serving server's wait,
its service as it took, and the overhead the simulator models as hops; :mod:`sim._validate`
fits the model's network and service settings to it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from sim._config import (
    Crash,
    Decommission,
    Hang,
    Join,
    NetworkDelay,
    Restart,
    RollingRestart,
    Scenario,
    node_index,
    server_names,
)
from sim._live_logs import latency_decomposition, merge_logs
from sim._run import RunResult, scenario_dict
from sim._scenario import ScenarioError, load_scenario, normalise_overrides

__all__ = ["LIMITS", "MAX_LAG", "LiveLimits", "latency_decomposition", "run_live"]


@dataclasses.dataclass(frozen=True)
class LiveLimits:
    """What a live run may ask of this machine (2 cores, shared)."""

    servers: int = 6
    rate: float = 150.0
    clients: int = 10
    duration: float = 120.0


LIMITS = LiveLimits()
"""Measured on the 2-core development machine (README, "The live cluster")."""

MAX_LAG = 0.05
"""The p99 of the generator's lag (seconds a request started after its intended time)
beyond which a live run is marked invalid."""

_START_TIMEOUT = 20.0
"""Seconds a process may take to report READY."""


class _Child:
    """One child process and its READY line."""

    def __init__(self, argv: list[str], *, fds: tuple[int, ...], stdin: bool,
                 stderr: IO[bytes], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, pass_fds=fds, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=stderr, start_new_session=True, env=env)
        self.stopped = False

    def wait_ready(self, deadline: float) -> bool:
        out = self.proc.stdout
        assert out is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([out], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return False
            line = out.readline()
            if not line:
                return False
            if line.startswith(b"READY"):
                return True
        return False

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5.0)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _remove_stale_workdirs() -> None:
    """Remove the temporary directories of live runners that were killed (their pid is gone);
    a runner removes its own when it ends."""
    for path in Path(tempfile.gettempdir()).glob("consistent-live-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists() and sys.platform == "linux":
            shutil.rmtree(path, ignore_errors=True)


def _wait(child: _Child, deadline: float) -> bool:
    """Wait for ``child`` to exit until ``deadline``; whether it did."""
    try:
        child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return True


def _check_limits(config: Scenario, limits: LiveLimits) -> None:
    problems = []
    if config.max_servers > limits.servers:
        problems.append(f"{config.max_servers} servers (limit {limits.servers})")
    if config.workload.rate > limits.rate:
        problems.append(f"workload.rate {config.workload.rate:g}/s (limit {limits.rate:g})")
    if config.clients.count > limits.clients:
        problems.append(f"{config.clients.count} clients (limit {limits.clients})")
    if config.duration > limits.duration:
        problems.append(f"duration {config.duration:g} s (limit {limits.duration:g})")
    if any(isinstance(f, NetworkDelay) for f in config.faults):
        problems.append("a network-delay fault (not supported live)")
    if problems:
        raise ScenarioError(f"scenario {config.name!r} is beyond what a live run on this "
                            f"machine can do: {'; '.join(problems)}")


@dataclasses.dataclass
class _Timeline:
    """The runner's own record of what it did to each server, on ``time.monotonic()``."""

    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def add(self, event: str, node: str, /, **fields: Any) -> None:
        self.events.append({"t": time.monotonic(), "ev": event, "node": node, **fields})


class _Cluster:
    """The server processes of one live run, their ports and what happened to them."""

    def __init__(self, config: Scenario, workdir: Path, env: dict[str, str],
                 stderr: IO[bytes]) -> None:
        self.config = config
        self.workdir = workdir
        self.env = env
        self.stderr = stderr
        self.names = server_names(config.max_servers)
        self.sockets: dict[str, socket.socket] = {}
        for name in self.names:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            self.sockets[name] = sock
        self.ports = {name: s.getsockname()[1] for name, s in self.sockets.items()}
        self.children: dict[str, _Child] = {}
        self.retired: list[_Child] = []
        self.incarnations: dict[str, int] = {}
        self.timeline = _Timeline()
        self.spec_path = workdir / "spec.json"
        self.errors: list[str] = []

    def spawn(self, name: str, mode: str, drain: float, wait: bool = True) -> _Child | None:
        sock = self.sockets.pop(name, None)
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", self.ports[name]))
            except OSError as exc:
                sock.close()
                self.errors.append(f"{name} could not bind port {self.ports[name]} again: {exc}")
                return None
        n = self.incarnations.get(name, 0)
        self.incarnations[name] = n + 1
        log = self.workdir / f"server-{name}-{n}.jsonl"
        argv = [sys.executable, "-m", "sim._live_server", str(self.spec_path), name,
                str(sock.fileno()), mode, str(log), str(os.getpid()), repr(drain)]
        child = _Child(argv, fds=(sock.fileno(),), stdin=False, stderr=self.stderr,
                       env=self.env)
        sock.close()
        self.children[name] = child
        self.timeline.add("spawn", name, mode=mode)
        if wait and not child.wait_ready(time.monotonic() + _START_TIMEOUT):
            self.errors.append(f"server {name} did not start within {_START_TIMEOUT:g} s")
        return child

    def retire(self, name: str) -> _Child | None:
        child = self.children.pop(name, None)
        if child is not None:
            self.retired.append(child)
        return child

    def kill_all(self) -> None:
        for child in [*self.children.values(), *self.retired]:
            child.kill()
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()


def _views_converged(ports: Mapping[str, int], names: Sequence[str]) -> bool:
    want = sorted(names)
    for name in names:
        url = f"http://127.0.0.1:{ports[name]}/_consistent/membership"
        try:
            with urllib.request.urlopen(url, timeout=0.5) as reply:
                if sorted(json.loads(reply.read())["members"]) != want:
                    return False
        except (OSError, ValueError, KeyError):
            return False
    return True


def run_live(
    scenario: str | Path | Mapping[str, Any] | Scenario,
    *,
    seed: int | None = None,
    overrides: str | Sequence[str] = (),
    progress: Callable[[float, float], object] | None = None,
    client_processes: int | None = None,
    limits: LiveLimits = LIMITS,
    max_lag: float = MAX_LAG,
    keep: str | Path | None = None,
) -> RunResult:
    """Run ``scenario`` on real processes on 127.0.0.1; return a :class:`RunResult`.

    The summary has the simulated run's shape plus a ``live`` block (generator lag, validity,
    what could not be measured); figures a live run cannot measure are ``None``.

    Args:
        scenario, seed, overrides: as for :func:`sim.run`.
        progress: called as ``progress(seconds_into_the_run, duration)``.
        client_processes: client processes (default: 1, or 2 above 300 requests/s).
        limits: what this machine may be asked (default :data:`LIMITS`).
        max_lag: the generator lag (p99, seconds) beyond which the run is invalid.
        keep: a directory to copy the processes' logs to (default: none is kept).

    Raises:
        ScenarioError: the scenario is invalid or beyond ``limits``.
        RuntimeError: a process could not be started.
    """
    config = load_scenario(scenario, normalise_overrides(overrides))
    if seed is not None:
        if type(seed) is not int or seed < 0:
            raise ScenarioError(f"seed must be a non-negative integer, got {seed!r}")
        config = dataclasses.replace(config, seed=seed)
    _check_limits(config, limits)
    processes = client_processes or (1 if config.workload.rate <= 300 else 2)
    processes = max(1, min(processes, config.clients.count))
    _remove_stale_workdirs()
    workdir = Path(tempfile.mkdtemp(prefix=f"consistent-live-{os.getpid()}-"))
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    stderr = open(workdir / "stderr.log", "wb")  # noqa: SIM115 - closed in finally
    cluster = _Cluster(config, workdir, env, stderr)
    clients: list[_Child] = []
    started_wall = time.perf_counter()
    try:
        initial = cluster.names[: config.cluster.servers]
        spec = {"scenario": scenario_dict(config), "seed": config.seed, "ports": cluster.ports,
                "initial": initial, "seeds": cluster.names, "client_processes": processes}
        cluster.spec_path.write_text(json.dumps(spec), encoding="utf-8")
        for name in initial:
            cluster.spawn(name, "initial", 0.0, wait=False)
        deadline = time.monotonic() + _START_TIMEOUT
        for name in initial:
            if not cluster.children[name].wait_ready(deadline):
                raise RuntimeError(f"live server {name} did not start within "
                                   f"{_START_TIMEOUT:g} s (see its stderr)")
        deadline = time.monotonic() + 10.0
        while not _views_converged(cluster.ports, initial):
            if time.monotonic() > deadline:
                raise RuntimeError("the live servers' views did not converge within 10 s")
            time.sleep(0.1)
        for index in range(processes):
            log = workdir / f"client-{index}.jsonl"
            argv = [sys.executable, "-m", "sim._live_client", str(cluster.spec_path),
                    str(index), str(log), str(os.getpid())]
            clients.append(_Child(argv, fds=(), stdin=True, stderr=stderr, env=env))
        deadline = time.monotonic() + _START_TIMEOUT
        for child in clients:
            if not child.wait_ready(deadline):
                raise RuntimeError(f"a live client did not start within {_START_TIMEOUT:g} s")
        t0 = time.monotonic() + 0.1
        for child in clients:
            assert child.proc.stdin is not None
            child.proc.stdin.write(f"GO {t0!r}\n".encode())
            child.proc.stdin.flush()
        cluster.timeline.events.append({"t": t0, "ev": "t0", "node": ""})
        _execute_faults(config, cluster, t0, progress)
        grace = config.clients.max_attempts * (config.clients.timeout
                                                + config.clients.retry_backoff_cap) + 10.0
        finish_by = t0 + config.duration + grace
        for child in clients:
            if not _wait(child, finish_by):
                cluster.errors.append("a client process did not finish in time")
        for child in [*cluster.children.values(), *cluster.retired]:
            child.signal(signal.SIGCONT)
        wall = time.perf_counter() - started_wall
        if keep is not None:
            shutil.copytree(workdir, Path(keep), dirs_exist_ok=True)
        return merge_logs(config, cluster.names, cluster.timeline.events, cluster.errors,
                          workdir, t0, processes, max_lag, wall)
    finally:
        for child in clients:
            child.kill()
        cluster.kill_all()
        stderr.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _execute_faults(config: Scenario, cluster: _Cluster, t0: float,
                    progress: Callable[[float, float], object] | None) -> None:
    """Carry out the scenario's faults at their times until ``duration`` has passed."""
    heap: list[tuple[float, int, Callable[[], None]]] = []
    seq = [0]
    names = cluster.names

    def at(when: float, action: Callable[[], None]) -> None:
        seq[0] += 1
        heapq.heappush(heap, (when, seq[0], action))

    def down(name: str, kind: str) -> None:
        cluster.timeline.add("down", name, kind=kind)

    def respawn(name: str, kind: str) -> None:
        cluster.spawn(name, "join", 0.0, wait=False)
        cluster.timeline.add("up", name, kind=kind)

    def graceful(name: str, kind: str, drain: float, downtime: float | None) -> None:
        child = cluster.children.get(name)
        if child is None:
            return
        cluster.timeline.add("leaving", name, kind=kind)
        child.signal(signal.SIGTERM)
        limit = time.monotonic() + drain + 3.0

        def poll() -> None:
            if child.proc.poll() is None and time.monotonic() < limit:
                at(time.monotonic() + 0.02, poll)
                return
            if child.proc.poll() is None:
                child.signal(signal.SIGKILL)
            cluster.retire(name)
            down(name, kind)
            if downtime is not None:
                at(time.monotonic() + downtime, lambda: respawn(name, kind))

        at(time.monotonic() + 0.02, poll)

    def crash(name: str, kind: str, mode: str, downtime: float | None) -> None:
        child = cluster.children.get(name)
        if child is None:
            return
        if mode == "refuse":
            child.signal(signal.SIGKILL)
            cluster.retire(name)
            down(name, kind)
            if downtime is not None:
                at(time.monotonic() + downtime, lambda: respawn(name, kind))
            return
        child.signal(signal.SIGSTOP)
        down(name, kind)
        if downtime is not None:
            def restart() -> None:
                child.signal(signal.SIGKILL)
                cluster.retire(name)
                respawn(name, kind)
            at(time.monotonic() + downtime, restart)

    def restart(node: int, when: float, fault: Restart | RollingRestart) -> None:
        name = names[node]
        if fault.graceful:
            at(t0 + when, lambda: graceful(name, "restart", fault.drain, fault.downtime))
        else:
            at(t0 + when, lambda: crash(name, "restart", fault.mode, fault.downtime))

    def hang(name: str, duration: float) -> None:
        child = cluster.children.get(name)
        if child is None:
            return
        child.signal(signal.SIGSTOP)
        down(name, "hang")

        def resume() -> None:
            child.signal(signal.SIGCONT)
            cluster.timeline.add("up", name, kind="hang")
        at(time.monotonic() + duration, resume)

    def join(name: str) -> None:
        cluster.spawn(name, "join", 0.0, wait=False)
        cluster.timeline.add("up", name, kind="join")

    next_new = config.cluster.servers
    for fault in config.faults:
        if isinstance(fault, Crash):
            name = names[node_index(fault.node)]
            at(t0 + fault.at, _bind(crash, name, "crash", fault.mode, None))
        elif isinstance(fault, Restart):
            restart(node_index(fault.node), fault.at, fault)
        elif isinstance(fault, RollingRestart):
            for k in range(fault.nodes or config.cluster.servers):
                restart(k, fault.at + k * fault.pace, fault)
        elif isinstance(fault, Hang):
            name = names[node_index(fault.node)]
            at(t0 + fault.at, _bind(hang, name, fault.duration))
        elif isinstance(fault, Join):
            for _ in range(fault.count):
                at(t0 + fault.at, _bind(join, names[next_new]))
                next_new += 1
        elif isinstance(fault, Decommission):
            name = names[node_index(fault.node)]
            at(t0 + fault.at, _bind(graceful, name, "decommission", fault.drain, None))
    end = t0 + config.duration
    last_progress = 0.0
    for _ in range(1_000_000):
        now = time.monotonic()
        if now >= end:
            break
        if progress is not None and now - last_progress >= 0.5:
            progress(now - t0, config.duration)
            last_progress = now
        if heap and heap[0][0] <= now:
            _, _, action = heapq.heappop(heap)
            action()
            continue
        wake = min(end, heap[0][0] if heap else end, now + 0.5)
        time.sleep(max(0.0, wake - time.monotonic()))
    if progress is not None:
        progress(config.duration, config.duration)


def _bind(function: Callable[..., None], *args: Any) -> Callable[[], None]:
    """``function`` with ``args`` bound now (a lambda in a loop would see the last ones)."""
    return lambda: function(*args)

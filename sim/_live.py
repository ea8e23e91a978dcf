"""The live twin of a run: the same scenario on real processes on 127.0.0.1.

:func:`run_live` (``consistent-sim run SCENARIO --live``) starts one OS process per server
(:mod:`sim._live_server`: uvicorn, ``consistent.http.ForwardToHome``, heartbeats driving
``consistent.Membership``) and a few client processes (:mod:`sim._live_client`: open-loop
Poisson arrivals through ``consistent.http.AsyncPoolTransport`` and ``consistent.Pool``),
carries out the scenario's faults with real signals at their times, merges every process's
event log and returns a :class:`sim.RunResult` whose summary, table and time series have the
shape of a simulated run's.

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
import math
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

import numpy as np

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
from sim._counters import Counters
from sim._metrics import Recorder, skew
from sim._placement import ALGORITHMS, build_placement, key_movement
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
        return _merge(config, cluster, workdir, t0, processes, max_lag, wall)
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


# -- merging the logs -------------------------------------------------------------------------


def _read(path: Path) -> list[dict[str, Any]]:
    events = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.endswith("\n"):  # a line cut by SIGKILL is left out
                with contextlib.suppress(ValueError):
                    events.append(json.loads(line))
    return events


def _merge(config: Scenario, cluster: _Cluster, workdir: Path, t0: float, processes: int,
           max_lag: float, wall: float) -> RunResult:
    """Build the summary and time series of a simulated run from the processes' logs."""
    names = cluster.names
    index = {name: i for i, name in enumerate(names)}
    duration = config.duration
    server_events: list[dict[str, Any]] = []
    for path in sorted(workdir.glob("server-*.jsonl")):
        node = path.stem.split("-")[1]
        for event in _read(path):
            event["node"] = node
            event["t"] -= t0
            server_events.append(event)
    client_events: list[dict[str, Any]] = []
    for path in sorted(workdir.glob("client-*.jsonl")):
        for event in _read(path):
            event["t"] -= t0
            client_events.append(event)
    timeline = [{**e, "t": e["t"] - t0} for e in cluster.timeline.events if e["ev"] != "t0"]
    server_events.sort(key=lambda e: e["t"])
    client_events.sort(key=lambda e: e["t"])
    requests = [e for e in client_events if e["ev"] == "req"]
    ends = [e for e in client_events if e["ev"] == "end"]
    pools = [e for e in client_events if e["ev"] in ("pool", "disc")]
    for r in requests:
        r["i"] -= t0
        r["s"] -= t0
        for a in r["a"]:
            a[2] -= t0
            a[3] -= t0
    # -- ground truth: when each server was out of service (down, leaving or hung) ---------
    outages = _outages(timeline, duration)
    # -- requests --------------------------------------------------------------------------
    issued = sum(int(e["sent"]) for e in ends) if ends else len(requests)
    counters = Counters(len(names))
    counters.issued = issued
    latencies: list[tuple[float, float, float]] = []  # (end, intended, latency)
    lags = np.array([r["s"] - r["i"] for r in requests]) if requests else np.zeros(0)
    for r in requests:
        attempts = r["a"]
        counters.attempts += len(attempts)
        counters.retried += max(0, len(attempts) - 1)
        for a in attempts:
            if a[1] != "ok":
                counters.attempt_failures[a[1]] = counters.attempt_failures.get(a[1], 0) + 1
                if a[1] == "timeout":
                    counters.attempt_timeouts += 1
                if a[1] == "overload":
                    counters.attempt_rejections += 1
        if r["t"] > duration:
            continue
        if r["cause"] == "ok":
            counters.succeeded += 1
            latencies.append((r["t"], r["i"], r["t"] - r["i"]))
        else:
            cause = "unavailable" if r["cause"] == "upstream" else r["cause"]
            counters.failed[cause] = counters.failed.get(cause, 0) + 1
            counters.failed_total += 1
    counters.in_flight = issued - counters.succeeded - counters.failed_total
    forwards = [e for e in server_events if e["ev"] == "fwd"]
    counters.forwarded = sum(1 for e in forwards if e["kind"] in ("forwarded", "failed"))
    counters.forward_failures = sum(1 for e in forwards if e["kind"] == "failed")
    counters.fill_ins = sum(1 for e in forwards if e["kind"] in ("forwarded", "local")
                            and e.get("to") != e.get("home"))
    served_events = [e for e in server_events if e["ev"] == "served" and 0 <= e["t"] <= duration]
    warmup = config.metrics.warmup
    served = np.zeros(len(names))
    for e in served_events:
        if e["t"] >= warmup:
            served[index[e["node"]]] += 1
    steady = np.array([lat for end, intended, lat in latencies if intended >= warmup])
    # -- ejections ------------------------------------------------------------------------
    ejections = [e for e in pools if e["ev"] == "pool" and e["to"] == "ejected"
                 and 0 <= e["t"] <= duration]
    of_down = sum(1 for e in ejections if _out_at(outages, e["ep"], e["t"]))
    # -- recovery --------------------------------------------------------------------------
    records = _recovery(config, names, timeline, outages, server_events, requests, pools,
                        served_events, duration)
    initial = names[: config.cluster.servers]
    start_ptm, start_cv = skew(list(build_placement(config.placement, initial)
                                    .ownership().values()))
    served_initial = served[: config.cluster.servers]
    served_ptm, served_cv = skew(served_initial) if served_initial.sum() else \
        (math.nan, math.nan)
    movements = _movements(config, names, timeline)
    ratios = [m["ratio"] for m in movements if m["optimum"] > 0]

    def pct(q: float) -> float | None:
        return float(np.percentile(steady, q)) if steady.size else None

    lag_p99 = float(np.percentile(lags, 99)) if lags.size else 0.0
    valid = lag_p99 <= max_lag and not cluster.errors
    summary: dict[str, Any] = {
        "scenario": scenario_dict(config),
        "seed": config.seed,
        "requests": {
            "issued": issued,
            "succeeded": counters.succeeded,
            "failed": counters.failed_total,
            "failed_by_cause": dict(sorted(counters.failed.items())),
            "in_flight_at_end": counters.in_flight,
            "success_ratio": counters.succeeded / issued if issued else None,
            "attempts": counters.attempts,
            "retried": counters.retried,
            "forwarded": counters.forwarded,
            "attempt_timeouts": counters.attempt_timeouts,
            "attempt_rejections": counters.attempt_rejections,
            "late_responses": None,
            "attempt_failures_by_cause": dict(sorted(counters.attempt_failures.items())),
            "forward_failures": counters.forward_failures,
            "fill_ins": counters.fill_ins,
        },
        "ejections": {"total": len(ejections), "of_down_servers": of_down,
                      "wrongful": len(ejections) - of_down},
        "latency": {
            "mean": float(steady.mean()) if steady.size else None,
            "p50": pct(50), "p90": pct(90), "p99": pct(99), "p999": pct(99.9),
            "max": float(steady.max()) if steady.size else None,
        },
        "load": {
            "keyspace_peak_to_mean": start_ptm,
            "keyspace_cv": start_cv,
            "keyspace_method": ALGORITHMS[config.placement.algorithm].ownership,
            "served_peak_to_mean": served_ptm,
            "served_cv": served_cv,
            "served_share": {names[i]: float(served[i] / served.sum()) if served.sum() else 0.0
                             for i in range(len(names))},
        },
        "movement": {
            "changes": movements,
            "method": "exact" if movements and all(m["exact"] for m in movements) else
            ("sampled" if movements else None),
            "mean_ratio": float(np.mean(ratios)) if ratios else None,
            "max_ratio": float(np.max(ratios)) if ratios else None,
            "total_moved": float(sum(m["moved"] for m in movements)),
        },
        "health_checks": {"sent": None, "passed": None, "failed": None,
                          "in_flight_at_end": None, "per_client": None},
        "recovery": {"faults": records, **_aggregate(records)},
        "availability": {"replication": config.cluster.replication, "sampled_keys": None,
                         "max_unavailable": None, "unavailable_keyspace_seconds": None,
                         "time_with_unavailable_keys": None, "episodes": []},
        "conservation": {"issued": issued, "succeeded": counters.succeeded,
                         "failed": counters.failed_total, "in_flight": counters.in_flight,
                         "conserved": counters.in_flight >= 0},
        "live": {
            "valid": valid,
            "client_processes": processes,
            "generator_lag": {
                "p50": float(np.percentile(lags, 50)) if lags.size else 0.0,
                "p99": lag_p99,
                "max": float(lags.max()) if lags.size else 0.0,
                "bound_p99": max_lag,
            },
            "errors": list(cluster.errors),
            "not_measured": ["health_checks", "availability", "late_responses"],
            # Before the first fault only: what the calibration of the model may use.
            "decomposition": latency_decomposition(
                requests, served_events, max(warmup, _DECOMPOSITION_WARMUP),
                min((f.at for f in config.faults), default=duration)),
        },
    }
    timeseries = _timeseries(config, names, requests, latencies, served_events, forwards,
                             ejections, outages, server_events, movements)
    performance = {"wall_seconds": wall, "events": float(len(server_events)
                                                         + len(client_events)),
                   "events_per_second": math.nan, "requests": float(issued),
                   "requests_per_second": issued / duration}
    return RunResult(config, config.seed, summary, timeseries, performance, list(names))


_DECOMPOSITION_WARMUP = 1.0
"""Seconds at the start of a run left out of the latency decomposition (connections open)."""


def _moments(values: Sequence[float]) -> dict[str, Any]:
    array = np.asarray(values, dtype=np.float64)
    if not array.size:
        return {"n": 0, "mean": None, "sd": None, "p50": None, "p99": None}
    return {"n": int(array.size), "mean": float(array.mean()),
            "sd": float(array.std(ddof=1)) if array.size > 1 else 0.0,
            "p50": float(np.percentile(array, 50)), "p99": float(np.percentile(array, 99))}


def latency_decomposition(requests: Sequence[Mapping[str, Any]],
                          served_events: Sequence[Mapping[str, Any]],
                          since: float, until: float = math.inf) -> dict[str, Any]:
    """Split live latency into time at the serving server and time between (the hops).

    Each request that succeeded at its first attempt and was served exactly once (matched by
    the id the client sent), intended at ``since`` or later and finished before ``until``,
    gives one sample: its latency from the intended
    send time, the serving server's wait for a slot and its service as it took (the drawn
    time plus the event loop's overhead), and the *overhead*, latency minus wait minus
    service: everything the simulator models as network hops (two for a request its entry
    served, four for one the entry forwarded to the home), plus the generator's lag.

    Runtime complexity: O(requests + served events).

    >>> d = latency_decomposition(
    ...     [{"cause": "ok", "a": [["s000", "ok", 0.0, 0.01]], "rid": "0-1", "i": 2.0,
    ...       "t": 2.01}],
    ...     [{"rid": "0-1", "wait": 0.0, "dur": 0.004, "svc": 0.003, "f": False, "t": 2.009}],
    ...     since=1.0)
    >>> d["direct"]["n"], round(d["direct"]["mean"], 6), d["forwarded"]["n"]
    (1, 0.006, 0)

    Args:
        requests: the clients' ``req`` events (times relative to the run's start).
        served_events: the servers' ``served`` events (the same clock).
        since: requests intended before this time are left out.
        until: requests finished at or after this time are left out.

    Returns:
        ``{"direct", "forwarded"}``: moments (``n``, ``mean``, ``sd``, ``p50``, ``p99``) of
        the overhead of requests served by their entry (2 hops) and forwarded (4 hops);
        ``"service"``, ``"drawn"`` and ``"wait"``: moments of the service as it took, as
        drawn, and of the wait; ``"latency"``: of the matched requests' latency.
    """
    by_id: dict[str, list[Mapping[str, Any]]] = {}
    for e in served_events:
        rid = e.get("rid")
        if rid is not None and "dur" in e:
            by_id.setdefault(str(rid), []).append(e)
    overhead: dict[bool, list[float]] = {False: [], True: []}
    service: list[float] = []
    drawn: list[float] = []
    wait: list[float] = []
    latency: list[float] = []
    for r in requests:
        if r.get("cause") != "ok" or len(r.get("a", ())) != 1 or r["i"] < since \
                or r["t"] >= until:
            continue
        served = by_id.get(str(r.get("rid")), [])
        if len(served) != 1:
            continue
        e = served[0]
        total = r["t"] - r["i"]
        overhead[bool(e["f"])].append(total - e["wait"] - e["dur"])
        service.append(e["dur"])
        drawn.append(e["svc"])
        wait.append(e["wait"])
        latency.append(total)
    return {"direct": _moments(overhead[False]), "forwarded": _moments(overhead[True]),
            "service": _moments(service), "drawn": _moments(drawn), "wait": _moments(wait),
            "latency": _moments(latency)}


def _outages(timeline: list[dict[str, Any]], duration: float) -> dict[str, list[list[float]]]:
    """Per server, the intervals ``[start, end]`` it was out of service (leaving included)."""
    out: dict[str, list[list[float]]] = {}
    for e in timeline:
        spans = out.setdefault(e["node"], [])
        if e["ev"] in ("leaving", "down"):
            if not spans or spans[-1][1] < math.inf:
                spans.append([e["t"], math.inf])
        elif e["ev"] == "up" and spans and spans[-1][1] == math.inf:
            spans[-1][1] = e["t"]
    return out


def _out_at(outages: Mapping[str, list[list[float]]], node: str | None, t: float) -> bool:
    return any(a <= t <= b for a, b in outages.get(node or "", ()))


def _latest_views(server_events: list[dict[str, Any]]) -> list[tuple[float, str, frozenset[str]]]:
    return [(e["t"], e["node"], frozenset(e["members"])) for e in server_events
            if e["ev"] == "view"]


def _recovery(config: Scenario, names: list[str], timeline: list[dict[str, Any]],
              outages: Mapping[str, list[list[float]]], server_events: list[dict[str, Any]],
              requests: list[dict[str, Any]], pools: list[dict[str, Any]],
              served_events: list[dict[str, Any]], duration: float) -> list[dict[str, Any]]:
    """One record per server going down (and per join), with the simulator's fields."""
    views = _latest_views(server_events)
    records: list[dict[str, Any]] = []
    downs = [e for e in timeline if e["ev"] == "down"]
    ups = [e for e in timeline if e["ev"] == "up"]
    for d in downs:
        node = d["node"]
        start = d["t"]
        leaving = [e["t"] for e in timeline if e["ev"] == "leaving" and e["node"] == node
                   and e["t"] <= start]
        out_from = leaving[-1] if leaving and start - leaving[-1] < 30 else start
        if leaving:
            # A graceful stop is down, as the simulator counts it, once the work it held is
            # done (the process itself may linger until uvicorn's drain bound closes idle
            # keep-alive connections): the later of the SIGTERM and its last request served.
            start = max([out_from, *(e["t"] for e in served_events
                                     if e["node"] == node and out_from <= e["t"] <= start)])
        up = next((u["t"] for u in ups if u["node"] == node and u["t"] >= start), None)
        until = up if up is not None else duration
        record: dict[str, Any] = {"kind": d["kind"], "node": node, "down_at": start,
                                  "up_at": up}
        server_detected = next((t for t, who, members in views
                                if t >= out_from and who != node and node not in members),
                               None)
        client_detected = next((e["t"] for e in pools if e["ev"] == "pool"
                                and e["ep"] == node and e["to"] == "ejected"
                                and out_from <= e["t"] <= until), None)
        detected = min((t for t in (server_detected, client_detected) if t is not None),
                       default=None)
        last_sent = None
        failures = 0
        last_failure = None
        for r in requests:
            for a in r["a"]:
                if a[0] == node and start <= a[2] <= until:
                    last_sent = a[2] if last_sent is None else max(last_sent, a[2])
                if a[0] == node and a[1] != "ok" and out_from <= a[2] <= until + 1.0:
                    failures += 1
                    last_failure = a[3] if last_failure is None else max(last_failure, a[3])
        converged = _view_convergence(views, node, out_from, until, timeline, exclude=True)
        # A graceful stop announced its leave before it went down (``out_from``): views that
        # dropped it then had nothing left to detect when it went down, which is 0 s after
        # the down, as the simulator counts an announced leave, never a negative time.
        rec = {
            "detection": None if detected is None else max(0.0, detected - start),
            "server_detection": None if server_detected is None
            else max(0.0, server_detected - start),
            "client_detection": None if client_detected is None
            else max(0.0, client_detected - start),
            "client_convergence": 0.0 if last_sent is None else last_sent - start,
            "view_convergence": None if converged is None else max(0.0, converged - start),
            "last_failure": None if last_failure is None else last_failure - start,
            "failures": failures,
        }
        record.update(rec)
        record.update(_rejoin(views, pools, node, up, timeline, served_events, config))
        records.append(record)
    for u in ups:
        if u["kind"] != "join":
            continue
        record = {"kind": "join", "node": u["node"], "down_at": u["t"], "up_at": u["t"],
                  "detection": None, "server_detection": None, "client_detection": None,
                  "client_convergence": None, "view_convergence": None, "last_failure": None,
                  "failures": 0}
        record.update(_rejoin(views, pools, u["node"], u["t"], timeline, served_events, config))
        records.append(record)
    return records


def _alive_at(timeline: list[dict[str, Any]], t: float) -> set[str]:
    """Servers whose process runs and serves at ``t`` (by the runner's own actions)."""
    alive: set[str] = set()
    for e in timeline:
        if e["t"] > t:
            break
        if e["ev"] == "spawn" or e["ev"] == "up":
            alive.add(e["node"])
        elif e["ev"] in ("down", "leaving"):
            alive.discard(e["node"])
    return alive


def _view_convergence(views: list[tuple[float, str, frozenset[str]]], node: str, since: float,
                      until: float, timeline: list[dict[str, Any]], *,
                      exclude: bool) -> float | None:
    """First time after ``since`` when every other live server's view excludes (includes)
    ``node``."""
    latest: dict[str, frozenset[str]] = {}
    for t, who, members in views:
        latest[who] = members
        if t < since or t > until + 30:
            continue
        alive = _alive_at(timeline, t) - {node}
        if not alive:
            continue
        if all(who_ in latest and ((node not in latest[who_]) if exclude
                                   else (node in latest[who_])) for who_ in alive):
            return t
    return None


def _rejoin(views: list[tuple[float, str, frozenset[str]]], pools: list[dict[str, Any]],
            node: str, up: float | None, timeline: list[dict[str, Any]],
            served_events: list[dict[str, Any]], config: Scenario) -> dict[str, Any]:
    if up is None:
        return {"serving_again": None, "first_served": None}
    views_in = _view_convergence(views, node, up, math.inf, timeline, exclude=False)
    clients = set(range(config.clients.count))
    healthy: dict[int, bool] = {}
    clients_in = None
    for e in pools:
        if e["t"] < up:
            continue
        c = e["c"]
        if e["ev"] == "disc":
            if node in e["added"]:
                healthy[c] = True
            if node in e["removed"]:
                healthy[c] = False
        elif e["ep"] == node:
            healthy[c] = e["to"] == "healthy"
        if all(healthy.get(c_, False) for c_ in clients):
            clients_in = e["t"]
            break
    first = next((e["t"] for e in served_events if e["node"] == node and e["t"] >= up), None)
    again = None if views_in is None or clients_in is None else max(views_in, clients_in) - up
    return {"serving_again": again, "first_served": None if first is None else first - up}


def _aggregate(records: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("detection", "server_detection", "client_detection", "client_convergence",
                "view_convergence", "last_failure", "serving_again", "first_served"):
        values = [r[key] for r in records if r.get(key) is not None]
        out[key] = {"mean": float(np.mean(values)), "max": float(np.max(values)),
                    "count": len(values)} if values else None
    return out


def _movements(config: Scenario, names: list[str],
               timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Key movement of each change of the servers that were up and not leaving."""
    live = set(names[: config.cluster.servers])
    placement = build_placement(config.placement, sorted(live))
    out = []
    for e in timeline:
        after = set(live)
        if e["ev"] in ("down", "leaving"):
            after.discard(e["node"])
        elif e["ev"] == "up":
            after.add(e["node"])
        if after == live or not after:
            continue
        new = build_placement(config.placement, sorted(after))
        moved, exact = key_movement(placement, new)
        added = e["ev"] == "up"
        share = (new if added else placement).ownership().get(e["node"], 0.0)
        out.append({"time": e["t"], "change": "add" if added else "remove", "node": e["node"],
                    "moved": moved, "optimum": share,
                    "ratio": moved / share if share > 0 else math.nan, "exact": exact})
        live, placement = after, new
    return out


def _timeseries(config: Scenario, names: list[str], requests: list[dict[str, Any]],
                latencies: list[tuple[float, float, float]],
                served_events: list[dict[str, Any]], forwards: list[dict[str, Any]],
                ejections: list[dict[str, Any]], outages: Mapping[str, list[list[float]]],
                server_events: list[dict[str, Any]],
                movements: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-bin columns with the simulated run's names (:attr:`Recorder.COLUMNS`)."""
    interval = config.metrics.interval
    duration = config.duration
    bins = max(1, math.ceil(duration / interval - 1e-9))
    edges = np.minimum(np.arange(1, bins + 1) * interval, duration)

    def count(times: Sequence[float]) -> Any:
        array = np.asarray(times, dtype=np.float64)
        array = array[(array >= 0) & (array <= duration)]
        which = np.minimum((array / interval).astype(np.int64), bins - 1)
        return np.bincount(which, minlength=bins).astype(np.int64)

    finished = [r for r in requests if r["t"] <= duration]
    series: dict[str, Any] = {name: np.zeros(bins, dtype=np.int64)
                              for name in Recorder.COLUMNS}
    series["time"] = edges.astype(np.float64)
    series["issued"] = count([r["i"] for r in requests])
    series["succeeded"] = count([r["t"] for r in finished if r["cause"] == "ok"])
    series["failed"] = count([r["t"] for r in finished if r["cause"] != "ok"])
    series["retried"] = count([a[2] for r in requests for a in r["a"][1:]])
    series["attempts"] = count([a[2] for r in requests for a in r["a"]])
    series["attempt_timeouts"] = count([a[3] for r in requests for a in r["a"]
                                        if a[1] == "timeout"])
    series["forwarded"] = count([e["t"] for e in forwards
                                 if e["kind"] in ("forwarded", "failed")])
    series["forward_failures"] = count([e["t"] for e in forwards if e["kind"] == "failed"])
    series["fill_ins"] = count([e["t"] for e in forwards if e["kind"] in ("forwarded", "local")
                                and e.get("to") != e.get("home")])
    series["ejections"] = count([e["t"] for e in ejections])
    series["wrongful_ejections"] = count([e["t"] for e in ejections
                                          if not _out_at(outages, e["ep"], e["t"])])
    issued_cum = np.cumsum(series["issued"])
    done_cum = np.cumsum(series["succeeded"] + series["failed"])
    series["in_flight"] = (issued_cum - done_cum).astype(np.int64)
    series["live_servers"] = np.array([
        sum(1 for n in names if any(e["ev"] == "start" and e["node"] == n and e["t"] <= t
                                    for e in server_events) and not _out_at(outages, n, t))
        for t in edges], dtype=np.int64)
    served = np.zeros((bins, len(names)), dtype=np.int64)
    index = {n: i for i, n in enumerate(names)}
    for e in served_events:
        served[min(int(e["t"] / interval), bins - 1), index[e["node"]]] += 1
    series["served"] = served
    ptm = np.full(bins, math.nan)
    cv = np.full(bins, math.nan)
    for b in range(bins):
        row = served[b][served[b] > 0]
        if row.size:
            ptm[b], cv[b] = skew(row)
    series["served_peak_to_mean"], series["served_cv"] = ptm, cv
    for name in ("keyspace_peak_to_mean", "keyspace_cv", "unavailable_keys"):
        series[name] = np.full(bins, math.nan)
    series["extra_delay"] = np.zeros(bins)
    series["key_movement"] = np.zeros(bins)
    for m in movements:
        if 0 <= m["time"] <= duration:
            series["key_movement"][min(int(m["time"] / interval), bins - 1)] += m["moved"]
    views = _latest_views(server_events)
    distinct = np.zeros(bins, dtype=np.int64)
    latest: dict[str, frozenset[str]] = {}
    j = 0
    for b, t in enumerate(edges):
        while j < len(views) and views[j][0] <= t:
            latest[views[j][1]] = views[j][2]
            j += 1
        live = {n for n in latest if not _out_at(outages, n, t)}
        distinct[b] = len({latest[n] for n in live})
    series["distinct_views"] = distinct
    series["stale_views"] = np.zeros(bins, dtype=np.int64)
    lat = sorted(latencies)
    for label in ("latency_p50", "latency_p99"):
        series[label] = np.full(bins, math.nan)
    series["latency_mean"] = np.full(bins, math.nan)
    by_bin: dict[int, list[float]] = {}
    for end, _, value in lat:
        if 0 <= end <= duration:
            by_bin.setdefault(min(int(end / interval), bins - 1), []).append(value)
    for b, values in by_bin.items():
        series["latency_p50"][b] = np.percentile(values, 50)
        series["latency_p99"][b] = np.percentile(values, 99)
        series["latency_mean"][b] = float(np.mean(values))
    return series

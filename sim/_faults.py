"""Faults: turn a scenario's fault list into scheduled model operations.

=================  ==================================================================
kind               what happens
=================  ==================================================================
crash              the process dies for good; ``mode``: refuse or blackhole
restart            a graceful stop at ``at`` (announce, refuse new work, drain, stop),
                   up again ``downtime`` after it stopped; ``graceful = false``: a crash
rolling-restart    servers 0, 1, ... each restart as above; one every ``pace``
hang               stops answering for ``duration`` (a black hole), then resumes
join               ``count`` new servers start and announce themselves
decommission       a graceful stop with no return
network-delay      every hop takes ``extra`` longer for ``duration``
=================  ==================================================================

How each is carried out lives in :class:`sim._model.Model` (``go_down``, ``restart``,
``leave``, ``hang``, ``join``); this module only schedules them.

A crash and the end of a decommission are final: a scenario in which a restart or a rolling
restart would bring such a server back up afterwards is rejected when it is validated
(:mod:`sim._scenario`), naming both faults and the server. A restart that ends before the
crash is fine.
"""

from __future__ import annotations

from sim._config import (
    Crash,
    Decommission,
    Fault,
    Hang,
    Join,
    NetworkDelay,
    Restart,
    RollingRestart,
    node_index,
)
from sim._model import Model

__all__ = ["schedule_faults"]


def schedule_faults(model: Model, faults: tuple[Fault, ...]) -> None:
    """Schedule every fault of the scenario on the model's engine."""
    scenario = model.scenario
    next_new = scenario.cluster.servers
    for fault in faults:
        if isinstance(fault, Crash):
            model.engine.control_at(fault.at, _go_down,
                                    (model, node_index(fault.node), "crash", fault.mode))
        elif isinstance(fault, Restart):
            _restart(model, node_index(fault.node), fault.at, fault)
        elif isinstance(fault, RollingRestart):
            count = fault.nodes or scenario.cluster.servers
            for k in range(count):
                _restart(model, k, fault.at + k * fault.pace, fault)
        elif isinstance(fault, Hang):
            model.engine.control_at(fault.at, _hang, (model, node_index(fault.node),
                                                      fault.duration))
        elif isinstance(fault, Join):
            for _ in range(fault.count):
                model.engine.control_at(fault.at, _join, (model, next_new))
                next_new += 1
        elif isinstance(fault, Decommission):
            model.engine.control_at(fault.at, _decommission,
                                     (model, node_index(fault.node), fault.drain))
        elif isinstance(fault, NetworkDelay):
            model.engine.control_at(fault.at, _delay, (model, fault.extra))
            model.engine.control_at(fault.at + fault.duration, _delay, (model, 0.0))


def _restart(model: Model, node: int, at: float, fault: Restart | RollingRestart) -> None:
    model.engine.control_at(at, _restart_now, (model, node, fault))


def _restart_now(args: tuple[Model, int, Restart | RollingRestart]) -> None:
    model, node, fault = args
    model.restart(node, downtime=fault.downtime, graceful=fault.graceful, drain=fault.drain,
                  mode=fault.mode)


def _go_down(args: tuple[Model, int, str, str]) -> None:
    model, node, kind, mode = args
    model.go_down(node, kind, mode)


def _hang(args: tuple[Model, int, float]) -> None:
    model, node, duration = args
    model.hang(node, duration)


def _join(args: tuple[Model, int]) -> None:
    model, node = args
    model.join(node)


def _decommission(args: tuple[Model, int, float]) -> None:
    model, node, drain = args
    model.decommission(node, drain)


def _delay(args: tuple[Model, float]) -> None:
    model, extra = args
    model.set_extra_delay(extra)

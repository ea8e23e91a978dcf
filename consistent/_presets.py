"""Presets: the pool configured as the client balancers people run, with the source of each value.

Theory of operation
-------------------
A :class:`Preset` is data: the :class:`~consistent.Pool` keyword arguments that reproduce a
system's *default* behaviour, where it can be expressed without I/O, and for each setting
the place in that system's source or documentation it comes from. :data:`PRESETS` holds
``poolee``, ``envoy``, ``grpc`` and ``finagle``; :meth:`Pool.preset
<consistent.Pool.preset>` builds a pool from one. ``docs/pool.md``'s preset table is
generated from :data:`PRESETS` by :func:`preset_table`, and a test checks they agree.

Each preset also lists what it does **not** reproduce (``not_reproduced``): behaviour that
lives in the I/O shell (poolee's retry loop, Envoy's active health checks) or that the pool
does not model (Finagle's EWMA success-rate accrual).

Time is in seconds in every preset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from consistent._backoff import CheckSchedule, ExponentialBackoff
from consistent._detectors import FailurePercentage, OutlierDetection, SuccessRateOutliers
from consistent._errors import InvalidArgumentError
from consistent._outcomes import Outcome

__all__ = [
    "PRESETS",
    "Preset",
    "http_5xx_fails",
    "http_never_fails",
    "preset_arguments",
    "preset_table",
]

_HUGE: Final = 1e12  # a backoff cap that never binds, for schedules capped after jitter


def http_never_fails(reply: object) -> Outcome:
    """Classify an HTTP status as poolee and Finagle do by default: every reply succeeds.

    Only transport errors (which the caller reports as ``FAILURE``/``TIMEOUT``) fail.

    >>> http_never_fails(503)
    Outcome.SUCCESS
    """
    return Outcome.SUCCESS


def http_5xx_fails(reply: object) -> Outcome:
    """Classify an HTTP status as Envoy's ``consecutive_5xx`` does: 5xx fails, the rest succeed.

    >>> http_5xx_fails(503), http_5xx_fails(404)
    (Outcome.FAILURE, Outcome.SUCCESS)
    """
    if isinstance(reply, int) and not isinstance(reply, bool) and 500 <= reply <= 599:
        return Outcome.FAILURE
    return Outcome.SUCCESS


@dataclass(frozen=True)
class Preset:
    """One system's default balancer as :class:`~consistent.Pool` arguments, with sources.

    ``sources`` maps each argument (or a documented rule) to ``(value shown, source)``.
    """

    name: str
    summary: str
    arguments: Mapping[str, Any]
    sources: Mapping[str, tuple[str, str]]
    not_reproduced: tuple[str, ...] = field(default=())


_POOLEE = "poolee 1.0.1 (npm), "
_ENVOY_OD = "Envoy api/envoy/config/cluster/v3/outlier_detection.proto, field "
_ENVOY_DOC = "Envoy docs/root/intro/arch_overview/upstream/outlier.rst, "
_A50 = "gRFC A50 (grpc/proposal A50-xds-outlier-detection.md), "
_FINAGLE = "Finagle finagle-core/src/main/scala/com/twitter/finagle/"

PRESETS: Final[Mapping[str, Preset]] = MappingProxyType(
    {
        "poolee": Preset(
            name="poolee",
            summary="poolee 1.0.1 with a ping path: any failure ejects, pings re-admit",
            arguments={
                "strategy": "poolee",
                "strategy_options": {"max_pending": 1000},
                "failure_threshold": 1,
                "max_ejection_share": 1.0,
                "health_check_backoff": CheckSchedule(
                    ExponentialBackoff(0.002, 2.0, _HUGE, "full"),
                    first=0.0,
                    offset=0.010,
                    resolution=0.001,
                    cap=10.0,
                ),
                "panic": False,
                "classify": http_never_fails,
            },
            sources={
                "strategy": ("poolee walk", _POOLEE + "lib/pool.js lines 186-215 (get_node)"),
                "strategy_options": ("maxPending 1000", _POOLEE + "lib/pool.js line 43"),
                "failure_threshold": (
                    "1",
                    _POOLEE + "lib/endpoint.js lines 171-175 (failed -> setHealthy(false))",
                ),
                "max_ejection_share": ("no cap", _POOLEE + "lib/endpoint.js lines 239-250"),
                "health_check_backoff": (
                    "0 ms, then min(floor(U*2^k + 10), 10000) ms",
                    _POOLEE + "lib/pinger.js lines 23-36",
                ),
                "panic": (
                    "no: 'no nodes' error",
                    _POOLEE + "lib/pool.js line 214, "
                    "lib/endpoint.js lines 363-378 (Endpoint.unhealthy)",
                ),
                "classify": (
                    "every HTTP reply succeeds",
                    _POOLEE + "lib/endpoint.js lines 297-327 (retryFilter default noop)",
                ),
            },
            not_reproduced=(
                "ejection only with a ping path: without one poolee never ejects "
                "(lib/endpoint.js line 241): use failure_threshold=None",
                "retries (lib/request_set.js): up to min(maxRetries + 1, max(nodes, 2)) "
                "attempts, at once after an endpoint error, U*2^a*20 ms after 'no nodes'/'full'",
                "pings in flight count toward maxPending (the pool does not see checks)",
            ),
        ),
        "envoy": Preset(
            name="envoy",
            summary="Envoy cluster defaults: round robin, outlier detection, panic at 50 %",
            arguments={
                "strategy": "round_robin",
                "failure_threshold": 5,
                "max_ejection_share": 0.10,
                "outlier_detection": OutlierDetection(
                    interval=10.0,
                    base_ejection_time=30.0,
                    max_ejection_time=300.0,
                    success_rate=SuccessRateOutliers(
                        stdev_factor=1.9,
                        enforcement_percentage=100.0,
                        minimum_hosts=5,
                        request_volume=100,
                    ),
                    failure_percentage=None,
                    order="envoy",
                    cap_multiplier=True,
                    readmit_after_strictly=False,
                    max_ejection_rule="envoy",
                ),
                "panic_threshold": 0.5,
                "max_pending": 1024,
                "eject_on_upstream": True,
                "classify": http_5xx_fails,
            },
            sources={
                "strategy": (
                    "ROUND_ROBIN",
                    "Envoy api/envoy/config/cluster/v3/cluster.proto, lb_policy (default)",
                ),
                "failure_threshold": ("consecutive_5xx 5", _ENVOY_OD + "consecutive_5xx"),
                "max_ejection_share": (
                    "10 %, at least one host",
                    _ENVOY_OD + "max_ejection_percent",
                ),
                "interval": ("10 s", _ENVOY_OD + "interval"),
                "base_ejection_time": ("30 s", _ENVOY_OD + "base_ejection_time"),
                "max_ejection_time": ("300 s", _ENVOY_OD + "max_ejection_time"),
                "success_rate": (
                    "stdev 1.9, 100 %, 5 hosts, 100 requests",
                    _ENVOY_OD + "success_rate_stdev_factor, enforcing_success_rate, "
                    "success_rate_minimum_hosts, success_rate_request_volume",
                ),
                "failure_percentage": (
                    "off (enforcing 0 %)",
                    _ENVOY_OD + "enforcing_failure_percentage",
                ),
                "multiplier": (
                    "+1 per ejection until capped, -1 per healthy interval",
                    _ENVOY_DOC + "'Ejection algorithm' step 3",
                ),
                "panic_threshold": (
                    "50 %",
                    "Envoy api/envoy/config/cluster/v3/cluster.proto, "
                    "CommonLbConfig.healthy_panic_threshold",
                ),
                "max_pending": (
                    "1024",
                    "Envoy api/envoy/config/cluster/v3/circuit_breaker.proto, max_requests",
                ),
                "classify": ("5xx fails", _ENVOY_DOC + "'Consecutive 5xx'"),
            },
            not_reproduced=(
                "active health checking (not on by default)",
                "consecutive_gateway_failure and local-origin detectors (enforcing 0 % "
                "or split mode off by default)",
                "max_ejection_time_jitter (0 by default)",
            ),
        ),
        "grpc": Preset(
            name="grpc",
            summary="gRPC outlier_detection (gRFC A50) with both algorithms at their defaults",
            arguments={
                "strategy": "round_robin",
                "failure_threshold": None,
                "max_ejection_share": 0.10,
                "outlier_detection": OutlierDetection(
                    interval=10.0,
                    base_ejection_time=30.0,
                    max_ejection_time=300.0,
                    success_rate=SuccessRateOutliers(
                        stdev_factor=1.9,
                        enforcement_percentage=100.0,
                        minimum_hosts=5,
                        request_volume=100,
                    ),
                    failure_percentage=FailurePercentage(
                        threshold=85.0,
                        enforcement_percentage=100.0,
                        minimum_hosts=5,
                        request_volume=50,
                        inclusive=False,
                    ),
                    order="grpc",
                    cap_multiplier=False,
                    readmit_after_strictly=True,
                    max_ejection_rule="grpc",
                ),
                "panic": False,
                "eject_on_upstream": True,
            },
            sources={
                "strategy": ("round_robin child", _A50 + "'LB Policy Config' child_policy"),
                "failure_threshold": ("none", _A50 + "'Proposal': only two algorithms"),
                "max_ejection_share": ("10 %", _A50 + "max_ejection_percent"),
                "interval": ("10 s", _A50 + "interval"),
                "base_ejection_time": ("30 s", _A50 + "base_ejection_time"),
                "max_ejection_time": ("300 s", _A50 + "max_ejection_time"),
                "success_rate": (
                    "stdev 1.9, 100 %, 5 hosts, 100 requests",
                    _A50 + "SuccessRateEjection",
                ),
                "failure_percentage": (
                    "85 % (strictly above), 100 %, 5 hosts, 50 requests",
                    _A50 + "FailurePercentageEjection, 'Failure Percentage Algorithm'",
                ),
                "order": ("judge, then re-admit", _A50 + "'Outlier Detection Behavior' 1-5"),
                "multiplier": ("+1 per ejection, -1 per healthy interval", _A50 + "step 5"),
                "panic": ("none", "round_robin picks READY subchannels only"),
            },
            not_reproduced=(
                "gRPC's own default policy is pick_first without outlier detection; "
                "this preset is outlier_detection configured with its default values",
                "timer restarts on config updates",
            ),
        ),
        "finagle": Preset(
            name="finagle",
            summary="Finagle client defaults: P2C least loaded, failure accrual",
            arguments={
                "strategy": "finagle_p2c",
                "strategy_options": {"max_effort": 4},
                "failure_threshold": 5,
                "max_ejection_share": 1.0,
                "outlier_detection": OutlierDetection(
                    interval=None,
                    ejection_durations=CheckSchedule(
                        ExponentialBackoff(10.0, 2.0, _HUGE, "equal"), first=5.0, cap=300.0
                    ),
                ),
                "panic": True,
            },
            sources={
                "strategy": (
                    "p2c least loaded",
                    _FINAGLE + "loadbalancer/LoadBalancerFactory.scala lines 441-444, "
                    "loadbalancer/p2c/P2CPick.scala lines 23-65",
                ),
                "strategy_options": (
                    "maxEffort 4",
                    _FINAGLE + "loadbalancer/PanicMode.scala lines 62-69, "
                    "loadbalancer/Balancer.scala lines 219-235",
                ),
                "failure_threshold": (
                    "5 consecutive failures",
                    _FINAGLE + "liveness/FailureAccrualPolicy.scala line 92",
                ),
                "ejection_durations": (
                    "5 s, then equal jitter doubling, capped at 300 s",
                    _FINAGLE + "liveness/FailureAccrualFactory.scala line 28, "
                    "Backoff.scala lines 281-304 (EqualJittered)",
                ),
                "probation": (
                    "one probe; success revives, failure marks dead again",
                    _FINAGLE + "liveness/FailureAccrualFactory.scala lines 228-243, 288-320",
                ),
            },
            not_reproduced=(
                "successRateWithinDuration (EMA success rate 0.8 over 30 s, at least 5 "
                "requests; FailureAccrualPolicy.scala lines 93-101)",
                "ProbeClosed: further requests are not refused while the probe is in "
                "flight, only steered away by the balancer",
                "ResponseClassifier and retries live in the I/O shell",
            ),
        ),
    }
)
"""The presets by name."""


def preset_arguments(name: str) -> dict[str, Any]:
    """The :class:`~consistent.Pool` keyword arguments of a preset (a fresh dict).

    >>> preset_arguments("poolee")["failure_threshold"]
    1

    Raises:
        InvalidArgumentError: an unknown preset name.
    """
    preset = PRESETS.get(name) if isinstance(name, str) else None
    if preset is None:
        raise InvalidArgumentError(f"preset must be one of {list(PRESETS)}, got {name!r}")
    return {key: (dict(v) if isinstance(v, Mapping) else v) for key, v in preset.arguments.items()}


def preset_table() -> str:
    """The Markdown table of every preset's settings and sources, as in ``docs/pool.md``.

    >>> preset_table().splitlines()[0]
    '| preset | setting | value | source |'
    """
    lines = ["| preset | setting | value | source |", "|---|---|---|---|"]
    for preset in PRESETS.values():
        for setting, (value, source) in preset.sources.items():
            lines.append(f"| `{preset.name}` | `{setting}` | {value} | {source} |")
        lines.extend(
            f"| `{preset.name}` | not reproduced | {item} | |" for item in preset.not_reproduced
        )
    return "\n".join(lines) + "\n"

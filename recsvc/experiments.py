"""Experiments: arms with weights, deterministic bucketing of units, assignment propensities.

A unit (the user id when signed in, else the anonymous session id) lands in
u = sha256(f"{experiment}:{unit_id}")[:8] / 2**64, uniform in [0, 1); arms own consecutive
intervals of [0, 1) whose lengths are their normalised weights, in configuration order.
The same unit always gets the same arm, in any process and after restarts, as long as the
experiment name and the arm list are unchanged; renaming the experiment reshuffles units.
A unit that signs in moves from its session's bucket to its user's bucket.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property

from recsvc.errors import ConfigError, InvalidQueryError


@dataclass(frozen=True)
class Arm:
    """One arm: a positive finite `weight` (any scale) and what it serves — a ranking
    `strategy` name, a model `bundle_version`, or both."""

    name: str
    weight: float
    strategy: str | None = None
    bundle_version: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("experiment arm needs a non-empty name")
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise ConfigError(f"arm {self.name!r}: weight must be a finite number > 0")
        if self.strategy is None and self.bundle_version is None:
            raise ConfigError(f"arm {self.name!r}: set a strategy or a bundle_version to serve")


@dataclass(frozen=True)
class Assignment:
    """The arm a unit is in, and `propensity` = P(arm) = its normalised weight, for logging."""

    experiment: str
    arm: Arm
    propensity: float


def unit_interval(experiment: str, unit_id: str) -> float:
    """The unit's position in [0, 1): the first 8 bytes of sha256(f"{experiment}:{unit_id}")
    as a big-endian integer divided by 2**64."""
    digest = hashlib.sha256(f"{experiment}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Experiment:
    """A named experiment over one or more arms with distinct names."""

    name: str
    arms: tuple[Arm, ...]

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("an experiment needs a non-empty name")
        if not self.arms:
            raise ConfigError(f"experiment {self.name!r} needs at least one arm")
        names = [arm.name for arm in self.arms]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError(f"experiment {self.name!r}: duplicate arm names {duplicates}")

    @cached_property
    def propensities(self) -> dict[str, float]:
        """Arm name → normalised weight; the values sum to 1."""
        total = math.fsum(arm.weight for arm in self.arms)
        return {arm.name: arm.weight / total for arm in self.arms}

    @cached_property
    def _upper_bounds(self) -> tuple[float, ...]:
        """Cumulative normalised weights; the last is exactly 1.0 so every u < 1 finds an arm."""
        total = math.fsum(arm.weight for arm in self.arms)
        running = 0.0
        bounds = []
        for arm in self.arms[:-1]:
            running += arm.weight
            bounds.append(running / total)
        return (*bounds, 1.0)

    def assign(self, unit_id: str) -> Assignment:
        """The unit's arm; an empty `unit_id` raises `InvalidQueryError`."""
        if not unit_id:
            raise InvalidQueryError("experiment assignment needs a user or session id")
        index = bisect_right(self._upper_bounds, unit_interval(self.name, unit_id))
        arm = self.arms[index]
        return Assignment(self.name, arm, self.propensities[arm.name])

"""What every benchmark under bench/ shares: interleaved rounds against a baseline, the
median ratio and its range, the machine's load, target checks and the exit status.

A benchmark measures its subject against a baseline run in the same process (or the same
run of processes), alternating A B A B ... for at least three rounds, because this machine
is noisy: a ratio of two figures taken seconds apart means more than either figure alone.
It prints one line per target and exits
- 0 when every target is met,
- 1 when a target is missed,
- 2 when it could not measure at all (a missing tool, a server that did not start, a round
  that produced nothing): a benchmark never passes by measuring nothing.

Usage, in a benchmark's main():

    bench = Bench("ledger")
    ratio = bench.compare("debits, many accounts", baseline=pgbench_round,
                          subject=portal_round, rounds=3, metric="tps")
    bench.at_least("portal / pgbench", ratio, 0.30)
    bench.at_most("p95 at 8 workers (ms)", p95, 50)
    bench.finish()

`run(main)` wraps main so that an exception becomes "cannot measure" (exit 2).
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

MIN_ROUNDS = 3


class CannotMeasure(RuntimeError):
    """The benchmark could not produce a figure (exit status 2)."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (never a fixed port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (0-100) of values, by linear interpolation."""
    if not values:
        raise CannotMeasure("no samples to take a percentile of")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


@dataclass
class Comparison:
    """Rounds of subject and baseline figures (higher is better, e.g. a rate)."""

    label: str
    metric: str
    baseline: list[float] = field(default_factory=list)
    subject: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [s / b for s, b in zip(self.subject, self.baseline, strict=True)]

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)

    def describe(self) -> str:
        ratios = self.ratios
        return (
            f"{self.label}: subject {statistics.median(self.subject):,.1f} {self.metric}, "
            f"baseline {statistics.median(self.baseline):,.1f} {self.metric}; "
            f"ratio median {self.median:.1%} (range {min(ratios):.1%}-{max(ratios):.1%}, "
            f"{len(ratios)} rounds)"
        )


class Bench:
    def __init__(self, name: str) -> None:
        self.name = name
        self.missed: list[str] = []
        print(f"== {name}: {load_average()}", flush=True)

    def compare(
        self,
        label: str,
        *,
        baseline: Callable[[], float],
        subject: Callable[[], float],
        rounds: int = MIN_ROUNDS,
        metric: str = "/s",
    ) -> Comparison:
        """Run baseline and subject alternately `rounds` times (each returns one figure,
        higher is better) and print the ratio subject / baseline."""
        if rounds < MIN_ROUNDS:
            raise CannotMeasure(f"{label}: at least {MIN_ROUNDS} rounds, not {rounds}")
        comparison = Comparison(label, metric)
        for number in range(1, rounds + 1):
            comparison.baseline.append(_positive(label, "baseline", baseline()))
            comparison.subject.append(_positive(label, "subject", subject()))
            print(
                f"   round {number}: baseline {comparison.baseline[-1]:,.1f} {metric}, "
                f"subject {comparison.subject[-1]:,.1f} {metric}",
                flush=True,
            )
        print(f"   {comparison.describe()}; {load_average()}", flush=True)
        return comparison

    def at_least(self, label: str, value: float | Comparison, target: float) -> None:
        figure = value.median if isinstance(value, Comparison) else value
        self._check(label, figure, target, figure >= target, ">=", isinstance(value, Comparison))

    def at_most(self, label: str, value: float, target: float) -> None:
        self._check(label, value, target, value <= target, "<=", False)

    def _check(
        self, label: str, value: float, target: float, met: bool, sign: str, ratio: bool
    ) -> None:
        shown = (
            f"{value:.1%} (target {sign} {target:.0%})"
            if ratio
            else (f"{value:,.2f} (target {sign} {target:,})")
        )
        print(f"TARGET {'met   ' if met else 'MISSED'} {self.name}: {label}: {shown}", flush=True)
        if not met:
            self.missed.append(label)

    def finish(self) -> None:
        print(f"== {self.name}: {load_average()}", flush=True)
        if self.missed:
            print(f"== {self.name}: missed {', '.join(self.missed)}", flush=True)
            sys.exit(1)
        print(f"== {self.name}: every target met", flush=True)


def _positive(label: str, which: str, figure: float) -> float:
    if not figure or figure <= 0:
        raise CannotMeasure(f"{label}: the {which} round measured nothing ({figure!r})")
    return figure


def run(main: Callable[[], None]) -> None:
    """Run a benchmark's main: an error means it could not measure (exit status 2)."""
    try:
        main()
    except SystemExit:
        raise
    except BaseException as error:  # any failure means "cannot measure"
        traceback.print_exc()
        print(f"CANNOT MEASURE: {type(error).__name__}: {error}", flush=True)
        sys.exit(2)

"""Statistics for repeated measurements, to the standards reviewers apply: pure Python, no scipy.

What a table of repeated runs needs to say whether two columns differ:

- :func:`mean_sd`: the mean and the sample standard deviation (n - 1);
- :func:`trimmed_mean`: the mean with the best and worst runs dropped (or a
  stated share from each end), as mmtests prints it;
- :func:`welch`: Welch's unequal-variance t-test of two samples (t, the
  Welch-Satterthwaite degrees of freedom, the two-sided p-value) and
  :func:`mark`, the sign a table puts beside a difference significant at
  :data:`ALPHA`;
- :func:`runs_needed`: how many runs per side would resolve a given relative
  difference at the observed spread (two-sided test at ``alpha`` with
  ``power``), the answer to "5 runs at 33 s stddev cannot resolve 1.5 %";
- :func:`warmup_outlier`: whether the first run stands out from the others
  (a cold cache, a first fault of the binary), so a table can flag it.

The t distribution comes from the regularized incomplete beta function
(:func:`t_sf`, :func:`t_quantile`), checked against the printed tables of
Student's t. Nothing here imports the rest of vswap.

>>> a = [10.1, 10.3, 9.9, 10.2, 10.0]
>>> b = [10.9, 11.2, 10.8, 11.0, 11.1]
>>> w = welch(a, b)
>>> round(w.t, 2), round(w.df, 1), w.p < 0.001, mark(w.p)
(-9.0, 8.0, True, '*')
"""

from __future__ import annotations

import math
import statistics
from typing import NamedTuple, Sequence

__all__ = ["ALPHA", "POWER", "mean_sd", "trimmed_mean", "Welch", "welch", "mark", "t_sf",
           "t_quantile", "runs_needed", "warmup_outlier", "WARMUP_SDS"]

#: The significance level of :func:`mark` (two-sided).
ALPHA = 0.05
#: The power :func:`runs_needed` asks for by default.
POWER = 0.8
#: A first run farther than this many of the others' standard deviations from their
#: mean stands out (:func:`warmup_outlier`).
WARMUP_SDS = 3.0


def _floats(values: Sequence[float], name: str = "values") -> list[float]:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of numbers, not {type(values).__name__}")
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers") from None
    if any(math.isnan(v) or math.isinf(v) for v in out):
        raise ValueError(f"{name} must be finite")
    return out


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the sample standard deviation (0.0 for one value). ValueError for none.

    Runtime complexity: O(n).

    >>> mean_sd([2, 4, 4, 4, 5, 5, 7, 9])
    (5.0, 2.138089935299395)
    """
    v = _floats(values)
    if not v:
        raise ValueError("mean_sd of no values")
    return statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0


def trimmed_mean(values: Sequence[float], share: float | None = None) -> float:
    """The mean without the extremes: the best and worst value (``share`` None), or ``share`` from each end.

    With ``share`` (0 <= share < 0.5), ``floor(share * n)`` values are
    dropped from each end. Fewer than three values (share None) are not
    trimmed. Runtime complexity: O(n log n).

    >>> trimmed_mean([1, 2, 3, 4, 100])
    3.0
    >>> trimmed_mean(list(range(10)) + [1000], share=0.1)
    5.0
    """
    v = sorted(_floats(values))
    if not v:
        raise ValueError("trimmed_mean of no values")
    if share is None:
        k = 1 if len(v) >= 3 else 0
    else:
        if not 0 <= share < 0.5:
            raise ValueError(f"share must be in [0, 0.5), not {share}")
        k = int(math.floor(share * len(v)))
    return statistics.fmean(v[k:len(v) - k])


def _betacf(a: float, b: float, x: float) -> float:
    # Continued fraction of the incomplete beta function (modified Lentz).
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` (> 0, may be fractional) degrees of freedom.

    Runtime complexity: O(1) (a continued fraction of bounded length).

    >>> round(t_sf(2.228, 10), 4)     # the table's 97.5 % point for 10 df
    0.025
    >>> t_sf(0.0, 3)
    0.5
    """
    if not df > 0:
        raise ValueError(f"df must be positive, not {df}")
    x = df / (df + t * t)
    tail = 0.5 * _betainc(df / 2.0, 0.5, x)
    return tail if t >= 0 else 1.0 - tail


def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (bisection on :func:`t_sf`).

    Runtime complexity: O(log(1/precision)).

    >>> round(t_quantile(0.975, 1), 3), round(t_quantile(0.975, 30), 3)
    (12.706, 2.042)
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), not {q}")
    if q < 0.5:
        return -t_quantile(1.0 - q, df)
    lo, hi = 0.0, 1.0
    while t_sf(hi, df) > 1.0 - q:
        hi *= 2.0
        if hi > 1e12:
            return hi
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_sf(mid, df) > 1.0 - q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


class Welch(NamedTuple):
    """Welch's t-test of two samples: ``t``, ``df`` (Welch-Satterthwaite), two-sided ``p``, ``diff``.

    ``diff`` is mean(b) - mean(a). Runtime complexity: O(1).

    >>> Welch(1.0, 2.0, 0.5, 3.0).p
    0.5
    """

    t: float
    df: float
    p: float
    diff: float


def welch(a: Sequence[float], b: Sequence[float]) -> Welch:
    """Welch's unequal-variance t-test of ``a`` against ``b`` (two-sided). ValueError for fewer than two values a side.

    Two samples without any spread: p is 1.0 when their means are equal
    and 0.0 when they differ (t infinite). Runtime complexity: O(n).

    >>> w = welch([19.1, 20.0, 21.2], [19.1, 20.0, 21.2])
    >>> w.t, w.p
    (0.0, 1.0)
    """
    x, y = _floats(a, "a"), _floats(b, "b")
    if len(x) < 2 or len(y) < 2:
        raise ValueError("welch needs at least two values on each side")
    ma, sa = mean_sd(x)
    mb, sb = mean_sd(y)
    va, vb = sa * sa / len(x), sb * sb / len(y)
    diff = mb - ma
    se2 = va + vb
    if se2 == 0.0:
        return Welch(0.0 if diff == 0 else math.copysign(math.inf, -diff),
                     float(len(x) + len(y) - 2), 1.0 if diff == 0 else 0.0, diff)
    t = (ma - mb) / math.sqrt(se2)
    df = se2 * se2 / (va * va / (len(x) - 1) + vb * vb / (len(y) - 1))
    p = min(1.0, 2.0 * t_sf(abs(t), df))
    return Welch(t, df, p, diff)


def mark(p: float | None, alpha: float = ALPHA) -> str:
    """``*`` when ``p`` is below ``alpha`` (a significant difference), else an empty string.

    Runtime complexity: O(1).

    >>> mark(0.01), mark(0.2), mark(None)
    ('*', '', '')
    """
    return "*" if p is not None and p < alpha else ""


def runs_needed(sd: float, diff: float, *, alpha: float = ALPHA, power: float = POWER,
                limit: int = 100_000) -> int:
    """Runs per side that resolve a difference ``diff`` at spread ``sd`` (two-sided t-test).

    The smallest n with ``n >= 2 (t(1-alpha/2, 2n-2) + t(power, 2n-2))^2
    sd^2 / diff^2`` (the normal approximation's formula with t quantiles),
    at least 2; ``limit`` caps it. ``sd`` and ``diff`` are in the same unit
    (both seconds, or both % of the mean). Runtime complexity: O(log limit).

    >>> runs_needed(1.0, 0.5), runs_needed(1.0, 0.8)    # Cohen's table: 64 and 26
    (64, 26)
    >>> runs_needed(33.0, 0.015 * 1000) > 5            # 5 runs at 33 s cannot resolve 1.5 % of 1000 s
    True
    """
    if sd < 0 or not math.isfinite(sd):
        raise ValueError(f"sd must be finite and not negative, not {sd}")
    if diff == 0 or not math.isfinite(diff):
        raise ValueError(f"diff must be finite and not zero, not {diff}")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be in (0, 1)")
    if sd == 0:
        return 2
    d2 = (sd / diff) ** 2

    def enough(n: int) -> bool:
        df = 2 * n - 2
        return n >= 2 * (t_quantile(1 - alpha / 2, df) + t_quantile(power, df)) ** 2 * d2

    if enough(2):
        return 2
    if not enough(limit):
        return limit
    lo, hi = 2, limit                 # enough(lo) false, enough(hi) true
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if enough(mid):
            hi = mid
        else:
            lo = mid
    return hi


def warmup_outlier(values: Sequence[float], sds: float = WARMUP_SDS) -> bool:
    """Whether the first value stands out from the others (a warm-up round): needs three values.

    It does when it lies more than ``sds`` of the others' standard
    deviations from their mean, and more than 2 % of that mean (so runs
    with no spread at all do not flag a rounding). Runtime complexity: O(n).

    >>> warmup_outlier([9.0, 5.0, 5.1, 4.9]), warmup_outlier([5.0, 5.1, 4.9, 5.05])
    (True, False)
    """
    v = _floats(values)
    if len(v) < 3:
        return False
    m, s = mean_sd(v[1:])
    gap = abs(v[0] - m)
    return gap > sds * s and gap > 0.02 * abs(m)

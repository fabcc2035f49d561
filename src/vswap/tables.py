"""Text tables and the small statistics every report of vswap prints.

One home for what ``vswap compare``, ``vswap sweep`` and ``vswap kernel``
share: the aligned table (:func:`render`), ``mean +/- sd`` cells
(:func:`mean_sd`, :func:`pm`, :func:`decimals`), sizes (:func:`fmt_bytes`)
and the paired ``vs base`` interval (:func:`ratio_interval`, Student's t).
"""

from __future__ import annotations

import math
import statistics

__all__ = ["render", "mean_sd", "pm", "decimals", "fmt_bytes", "plural", "t95",
           "ratio_interval"]


def mean_sd(values: list[float]) -> tuple[float, float | None]:
    """The mean and sample standard deviation (None for one value). Runtime complexity: O(n).

    >>> mean_sd([1.0, 2.0, 3.0]), mean_sd([5.0])
    ((2.0, 1.0), (5.0, None))
    """
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def decimals(values, digits: int = 3, least: int = 0, most: int = 6) -> int:
    """Decimals that show the smallest non-zero value with ``digits`` significant digits.

    Runtime complexity: O(n).

    >>> decimals([12.5, 0.0123]), decimals([0.0])
    (4, 0)
    """
    nonzero = [abs(v) for v in values if v]
    if not nonzero:
        return least
    return max(least, min(most, digits - 1 - math.floor(math.log10(min(nonzero)))))


def pm(mean: float, sd: float | None, decimals: int) -> str:
    """``mean +/- sd`` with thousands separators (``mean`` alone when sd is None). Runtime complexity: O(1).

    >>> pm(1234.5, 6.25, 1), pm(3.0, None, 2)
    ('1,234.5 +/- 6.2', '3.00')
    """
    text = f"{mean:,.{decimals}f}"
    return text if sd is None else f"{text} +/- {sd:,.{decimals}f}"


def render(title: str, header: list[str], rows: list[list[str]]) -> str:
    """An aligned text table: first column left-aligned, the others right-aligned.

    Runtime complexity: O(cells).

    >>> print(render("T", ["design", "n"], [["a", "1"], ["bb", "10"]]))
    T
    design   n
    ------  --
    a        1
    bb      10
    """
    widths = [max([len(header[i])] + [len(r[i]) for r in rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([title, line(header), "  ".join("-" * w for w in widths)]
                     + [line(r) for r in rows])


def plural(n: int, word: str) -> str:
    """``1 repeat``, ``3 repeats``. Runtime complexity: O(1).

    >>> plural(1, "repeat"), plural(3, "repeat")
    ('1 repeat', '3 repeats')
    """
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def fmt_bytes(nbytes: int) -> str:
    """A size in the largest binary unit that shows it (``56G``, ``2.29M``, ``512 B``).

    Runtime complexity: O(1).

    >>> fmt_bytes(56 << 30), fmt_bytes(2400000), fmt_bytes(512)
    ('56G', '2.29M', '512 B')
    """
    for shift, unit in ((40, "T"), (30, "G"), (20, "M"), (10, "K")):
        if nbytes >= 1 << shift:
            if nbytes % (1 << shift) == 0:
                return f"{nbytes >> shift}{unit}"
            return f"{nbytes / (1 << shift):.2f}{unit}"
    return f"{nbytes} B"


# Two-sided 95 % quantiles of Student's t for 1 .. 30 degrees of freedom.
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t95(df: int) -> float:
    """The two-sided 95 % quantile of Student's t with ``df`` degrees of freedom. Runtime complexity: O(1).

    >>> t95(4), round(t95(120), 3)
    (2.776, 1.98)
    """
    # Beyond the table, the first Cornish-Fisher term: z + (z**3 + z) / (4 df).
    return _T95[df - 1] if df <= len(_T95) else 1.96 + 2.37 / df


def ratio_interval(times: list[float], base: list[float]) -> tuple[float, float | None] | None:
    """``vs base`` in %: the mean of the paired ratios ``times[i] / base[i] - 1`` and its 95 % half-width.

    Pairs are the replays of one round (round robin, so machine drift hits
    both alike); the half-width is Student's t over the rounds, None for a
    single round; None altogether when a base time is 0.
    Runtime complexity: O(rounds).

    >>> mean, half = ratio_interval([1.1, 1.2, 1.1], [1.0, 1.0, 1.0])
    >>> round(mean, 1), round(half, 1)
    (13.3, 14.3)
    """
    if not base or any(b <= 0 for b in base):
        return None
    ratios = [100.0 * (t / b - 1.0) for t, b in zip(times, base)]
    if len(ratios) < 2:
        return ratios[0], None
    return (statistics.fmean(ratios),
            t95(len(ratios) - 1) * statistics.stdev(ratios) / math.sqrt(len(ratios)))

"""vswap.stats against textbook cases: Student's t tables, Welch's worked example, Cohen's sample
sizes, trimmed means; bad input refused."""

import doctest

import pytest

from vswap import stats
from vswap.stats import (mark, mean_sd, runs_needed, t_quantile, t_sf, trimmed_mean,
                         warmup_outlier, welch)


def test_doctests():
    assert doctest.testmod(stats).failed == 0


# Two-sided 95 % (one-sided 97.5 %) and 99 % points from the printed table of Student's t.
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 10: 2.228, 20: 2.086, 30: 2.042,
        60: 2.000, 120: 1.980}
T995 = {1: 63.657, 5: 4.032, 10: 3.169, 30: 2.750}


@pytest.mark.parametrize("df", sorted(T975))
def test_t_quantiles_match_the_table(df):
    assert t_quantile(0.975, df) == pytest.approx(T975[df], abs=6e-4)
    assert t_sf(T975[df], df) == pytest.approx(0.025, abs=2e-5)
    assert t_quantile(0.025, df) == pytest.approx(-T975[df], abs=6e-4)


@pytest.mark.parametrize("df", sorted(T995))
def test_t_99_points(df):
    assert t_quantile(0.995, df) == pytest.approx(T995[df], abs=6e-4)


def test_t_with_one_df_is_cauchy():
    # P(T > 1) = 1/4 for the Cauchy distribution
    assert t_sf(1.0, 1) == pytest.approx(0.25, abs=1e-12)
    assert t_sf(-1.0, 1) == pytest.approx(0.75, abs=1e-12)


def test_welch_worked_example():
    # Wikipedia's "Welch's t-test" example 1: t = -2.46, df = 25.0, p = 0.021
    a1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7,
          21.4]
    a2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5,
          24.4]
    w = welch(a1, a2)
    assert w.t == pytest.approx(-2.46, abs=0.005)
    assert w.df == pytest.approx(24.99, abs=0.01)
    assert w.p == pytest.approx(0.021, abs=0.0005)
    assert w.diff == pytest.approx(sum(a2) / 15 - sum(a1) / 15)
    assert mark(w.p) == "*" and mark(w.p, alpha=0.01) == ""
    # symmetric: swapping the samples flips t, keeps p
    v = welch(a2, a1)
    assert v.t == pytest.approx(-w.t) and v.p == pytest.approx(w.p)


def test_welch_unequal_sizes_and_variances_by_hand():
    a, b = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0, 8.0, 10.0]
    # var a = 1, var b = 10; se2 = 1/3 + 10/5 = 7/3
    se2 = 1 / 3 + 2
    w = welch(a, b)
    assert w.t == pytest.approx((2 - 6) / se2 ** 0.5)
    assert w.df == pytest.approx(se2 ** 2 / ((1 / 3) ** 2 / 2 + 2 ** 2 / 4))


def test_welch_without_spread():
    assert welch([1, 1], [1, 1]).p == 1.0
    assert welch([1, 1], [2, 2]).p == 0.0


def test_cohens_sample_sizes():
    # Cohen (1988), two-sided alpha .05, power .80: d = .2, .5, .8 -> 393, 64, 26 per group
    assert runs_needed(1.0, 0.2) in (393, 394)
    assert runs_needed(1.0, 0.5) == 64
    assert runs_needed(1.0, 0.8) == 26
    # more power or a stricter level needs more runs
    assert runs_needed(1.0, 0.5, power=0.9) > 64 < runs_needed(1.0, 0.5, alpha=0.01)
    # Chris Li's point: 5 runs at 33 s stddev cannot resolve 1.5 % of a ~1000 s run
    assert runs_needed(33.0, 15.0) > 50


def test_mean_sd_and_trimmed_mean():
    assert mean_sd([2, 4, 4, 4, 5, 5, 7, 9]) == (5.0, pytest.approx(2.13809, abs=1e-5))
    assert mean_sd([3]) == (3.0, 0.0)
    assert trimmed_mean([5, 1, 9]) == 5.0
    assert trimmed_mean([1, 2]) == 1.5
    assert trimmed_mean(list(range(1, 21)), share=0.25) == pytest.approx(10.5)


def test_warmup_flag():
    assert warmup_outlier([12.0, 10.0, 10.1, 9.9, 10.05])
    assert not warmup_outlier([10.2, 10.0, 10.1, 9.9, 10.05])
    assert not warmup_outlier([12.0, 10.0])             # too few to tell
    assert not warmup_outlier([10.1, 10.0, 10.0])       # no spread, but within 2 %


@pytest.mark.parametrize("call, exc", [
    (lambda: mean_sd([]), ValueError),
    (lambda: mean_sd("abc"), TypeError),
    (lambda: mean_sd([1, float("nan")]), ValueError),
    (lambda: trimmed_mean([1, 2, 3], share=0.5), ValueError),
    (lambda: welch([1], [1, 2]), ValueError),
    (lambda: t_sf(1.0, 0), ValueError),
    (lambda: t_quantile(1.0, 3), ValueError),
    (lambda: runs_needed(1.0, 0.0), ValueError),
    (lambda: runs_needed(-1.0, 1.0), ValueError),
])
def test_bad_input(call, exc):
    with pytest.raises(exc):
        call()

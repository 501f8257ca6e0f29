#!/usr/bin/env python3
"""Reference p-values for TestMannWhitneyReference (utest_test.go).

Exact cases: scipy.stats.permutation_test over every split of the pooled
values (n_resamples=inf, permutation_type='independent'), statistic the
U of scipy.stats.mannwhitneyu, alternative='two-sided' (twice the smaller
tail): the exact permutation distribution given the ties.
Large cases: scipy.stats.mannwhitneyu(method='asymptotic',
use_continuity=True), the normal approximation with the tie correction.
Run with Debian's python3-scipy: /usr/bin/python3 utest_reference.py
"""
import numpy as np
import scipy
from scipy import stats

def u(x, y, axis=-1):
    return stats.mannwhitneyu(x, y, axis=axis, method="asymptotic").statistic

EXACT = {
    "5 vs 1 apart": ([1, 2, 3, 4, 5], [6]),
    "5 vs 1 tied old": ([101, 100, 101, 90, 100], [71]),
    "5 vs 1 all tied old": ([5, 5, 5, 5, 5], [6]),
    "5 vs 1 inside": ([1, 2, 3, 4, 5], [3.5]),
    "4 vs 4 apart": ([1, 2, 3, 4], [5, 6, 7, 8]),
    "5 vs 5 ties across": ([1, 2, 2, 3, 3], [3, 3, 4, 4, 5]),
    "6 vs 6 interleaved": ([1, 3, 5, 7, 9, 11], [2, 4, 6, 8, 10, 12]),
    "10 vs 10 heavy ties": ([7, 7, 7, 8, 8, 8, 8, 9, 9, 9], [8, 8, 9, 9, 9, 9, 10, 10, 10, 10]),
    "8 vs 12 shift": ([10.1, 10.4, 9.8, 10.0, 10.3, 10.2, 9.9, 10.5],
                      [10.6, 10.9, 10.2, 11.0, 10.8, 10.7, 10.4, 11.2, 10.9, 10.6, 11.1, 10.3]),
}

def large():
    x = [float(i % 17) for i in range(40)]
    y = [float(i % 13 + 2) for i in range(35)]
    return x, y

def brute(x, y):
    """Twice the smaller tail of U over every split of the pooled values,
    by enumeration: for samples scipy's permutation_test refuses (one
    value)."""
    from itertools import combinations
    pool = list(x) + list(y)
    obs = u(x, y)
    le = ge = total = 0
    for idx in combinations(range(len(pool)), len(x)):
        xs = [pool[i] for i in idx]
        ys = [pool[i] for i in range(len(pool)) if i not in idx]
        s = u(xs, ys)
        total += 1
        le += s <= obs
        ge += s >= obs
    return min(1.0, 2 * min(le, ge) / total)

print("scipy", scipy.__version__)
for name, (x, y) in EXACT.items():
    if min(len(x), len(y)) < 2:
        print(f"{name!r}: U={u(x, y)} p={brute(x, y)!r} (enumerated)")
        continue
    r = stats.permutation_test((x, y), u, permutation_type="independent",
                               alternative="two-sided", n_resamples=np.inf, vectorized=True)
    print(f"{name!r}: U={u(x, y)} p={r.pvalue!r}")
x, y = large()
r = stats.mannwhitneyu(x, y, method="asymptotic", use_continuity=True, alternative="two-sided")
print(f"'40 vs 35 asymptotic': U={r.statistic} p={r.pvalue!r}")

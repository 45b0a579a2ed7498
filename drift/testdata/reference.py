#!/usr/bin/env python3
"""Reference values for the drift package tests, computed independently.

Regenerate with Debian's scipy (python3-scipy 1.10.1, python3-numpy 1.24.2):

    /usr/bin/python3 drift/testdata/reference.py > drift/testdata/reference.json

Statistics come from scipy (ks_2samp, chisquare, wasserstein_distance,
spatial.distance.jensenshannon, norm) and numpy (quantile, std). PSI, the
Z-test and the default drift detection follow Evidently's formulas
(get_binned_data's epsilon rule, proportions_diff_z_stat_ind,
_get_default_stattest) re-typed here, not the Go code.
"""
import json
import math

import numpy as np
from scipy import stats
from scipy.spatial import distance

rng = np.random.default_rng(20261122)


def weyl(n, a, b, scale, shift):
    """Deterministic pseudo-sample, regenerated bit-for-bit by the Go tests."""
    out = []
    for i in range(n):
        x = a + i * b
        out.append(scale * ((x - math.floor(x)) - 0.5) + shift)
    return out


def r(xs, digits=None):
    xs = [float(x) for x in xs]
    return [round(x, digits) for x in xs] if digits is not None else xs


def evidently_fill(p):
    p = np.array(p, dtype=float)
    nz = p[p != 0]
    eps = nz.min() / 10**6 if nz.min() <= 0.0001 else 0.0001
    p[p == 0] = eps
    return p


def psi(ref, cur):
    rp = evidently_fill(np.array(ref, float) / np.sum(ref))
    cp = evidently_fill(np.array(cur, float) / np.sum(cur))
    return float(np.sum((rp - cp) * np.log(rp / cp)))


def ztest(rp, rn, cp, cn):
    p1, p2 = rp / rn, cp / cn
    P = (p1 * rn + p2 * cn) / (rn + cn)
    z = (p1 - p2) / np.sqrt(P * (1 - P) * (1.0 / rn + 1.0 / cn))
    return float(z), float(2 * stats.norm.sf(abs(z)))


def chi(ref, cur):
    ref, cur = np.array(ref, float), np.array(cur, float)
    keep = (ref > 0) | (cur > 0)
    ref, cur = ref[keep], cur[keep]
    f_exp = ref * cur.sum() / ref.sum()
    s, p = stats.chisquare(cur, f_exp)
    return float(s), float(p), len(ref) - 1


out = {}

psi_cases = [
    ("identical", [10, 20, 30, 40], [10, 20, 30, 40]),
    ("reversed", [10, 20, 30, 40], [40, 30, 20, 10]),
    ("empty reference bin", [0, 50, 50], [10, 45, 45]),
    ("empty current bin", [10, 45, 45], [0, 50, 50]),
    ("disjoint", [100, 0], [0, 100]),
    ("tiny proportions", [1, 99999, 0], [50000, 50000, 1]),
    ("scale invariant", [1, 2, 3], [20, 40, 60]),
    ("single bin", [5], [7]),
    ("moderate", [25, 25, 25, 25], [20, 25, 25, 30]),
]
out["psi"] = [dict(name=n, ref=a, cur=b, want=psi(a, b)) for n, a, b in psi_cases]

ks_cases = []
a = rng.normal(0, 1, 50)
ks_cases.append(("equal sizes, same law", r(a), r(rng.normal(0, 1, 50))))
ks_cases.append(("equal sizes, shifted", r(a), r(rng.normal(0.8, 1, 50))))
ks_cases.append(("unequal sizes", r(rng.normal(0, 1, 100)), r(rng.normal(0.3, 1.2, 80))))
ks_cases.append(("large unequal sizes", r(rng.normal(0, 1, 300)), r(rng.normal(0.1, 1, 1000))))
ks_cases.append(("ties", r(np.round(rng.normal(0, 2, 200))), r(np.round(rng.normal(0.5, 2, 150)))))
ks_cases.append(("identical", r(a), r(a)))
ks_cases.append(("disjoint", r(rng.uniform(0, 1, 20)), r(rng.uniform(2, 3, 30))))
ks_cases.append(("tiny", [1.0, 2.0, 3.0], [2.5, 4.0]))
ks_cases.append(("coprime sizes", r(rng.exponential(1, 97)), r(rng.exponential(1.3, 89))))
out["ks"] = []
for n, x, y in ks_cases:
    res = stats.ks_2samp(x, y)  # method="auto": exact here (sizes <= 10000)
    out["ks"].append(dict(name=n, ref=x, cur=y, d=float(res.statistic), p=float(res.pvalue)))

weyl_cases = [
    ("asymptotic, same law", (20000, 0.1, 0.6180339887498949, 1.0, 0.0), (15000, 0.3, 0.4142135623730951, 1.0, 0.0)),
    ("asymptotic, shifted", (20000, 0.1, 0.6180339887498949, 1.0, 0.0), (15000, 0.3, 0.4142135623730951, 1.0, 0.012)),
    ("asymptotic, wider", (12000, 0.2, 0.7320508075688772, 1.0, 0.0), (30000, 0.5, 0.2360679774997897, 1.04, 0.0)),
]
out["ks_weyl"] = []
for n, g1, g2 in weyl_cases:
    x, y = weyl(*g1), weyl(*g2)
    res = stats.ks_2samp(x, y)  # method="auto": asymptotic (kstwo) here
    out["ks_weyl"].append(dict(name=n, ref=list(g1), cur=list(g2), d=float(res.statistic), p=float(res.pvalue),
                               w=float(stats.wasserstein_distance(x, y)),
                               wnorm=float(stats.wasserstein_distance(x, y) / max(np.std(x), 0.001))))

chi_cases = [
    ("evidently example", [16, 18, 16, 14, 12, 12], [16, 16, 16, 16, 16, 8]),
    ("evidently example doubled reference", [32, 36, 32, 28, 24, 24], [16, 16, 16, 16, 16, 8]),
    ("identical", [30, 30, 40], [30, 30, 40]),
    ("same proportions, other total", [30, 30, 40], [60, 60, 80]),
    ("shifted", [50, 30, 20], [20, 30, 50]),
    ("empty in both skipped", [50, 0, 30, 20], [45, 0, 35, 20]),
    ("large", [5000, 3000, 2000], [4900, 3100, 2000]),
]
out["chisquare"] = []
for n, a, b in chi_cases:
    s, p, df = chi(a, b)
    out["chisquare"].append(dict(name=n, ref=a, cur=b, stat=s, p=p, df=df))

z_cases = [
    ("same proportion", 50, 100, 50, 100),
    ("different", 30, 100, 50, 120),
    ("all vs none", 0, 10, 10, 10),
    ("small difference, large n", 5000, 10000, 5100, 10000),
    ("unequal n", 12, 40, 300, 600),
]
out["ztest"] = []
for n, a, b, c, d in z_cases:
    z, p = ztest(a, b, c, d)
    out["ztest"].append(dict(name=n, ref_pos=a, ref_n=b, cur_pos=c, cur_n=d, z=z, p=p))

js_cases = [
    ("identical", [1, 2, 3], [1, 2, 3]),
    ("disjoint", [1, 0], [0, 1]),
    ("zeros on one side", [10, 0, 30], [10, 20, 30]),
    ("counts vs proportions", [0.2, 0.3, 0.5], [30, 30, 40]),
    ("uneven", [100, 1, 1, 1], [1, 1, 1, 100]),
]
out["js"] = []
for n, a, b in js_cases:
    for base in (None, 2):
        out["js"].append(dict(name=n, ref=a, cur=b, base=base or 0,
                              want=float(distance.jensenshannon(a, b, base))))

w_cases = [
    ("identical", r(a), r(a)),
    ("shift by 2", [1.0, 2.0, 3.0], [3.0, 4.0, 5.0]),
    ("scipy doc example", [0.0, 1.0, 3.0], [5.0, 6.0, 8.0]),
    ("different sizes", r(rng.normal(0, 1, 120)), r(rng.normal(0.5, 2, 77))),
    ("ties", r(np.round(rng.normal(0, 3, 100))), r(np.round(rng.normal(1, 3, 60)))),
    ("constant reference", [4.0] * 10, [4.0, 4.0, 5.0]),
    ("disjoint", [0.0, 1.0], [10.0, 11.0, 12.0]),
]
out["wasserstein"] = []
for n, u, v in w_cases:
    w = float(stats.wasserstein_distance(u, v))
    out["wasserstein"].append(dict(name=n, u=u, v=v, w=w, wnorm=w / max(float(np.std(u)), 0.001)))

q_cases = [
    ("ten values, five bins", [float(i) for i in range(1, 11)], 5),
    ("normal, ten bins", r(rng.normal(0, 1, 500)), 10),
    ("heavy ties", r(np.concatenate([np.zeros(80), rng.normal(5, 1, 40)])), 10),
]
out["quantile_edges"] = []
for n, x, bins in q_cases:
    qs = np.quantile(np.array(x), [j / bins for j in range(1, bins)])  # method="linear"
    edges = [float(q) for q in np.unique(qs)]
    out["quantile_edges"].append(dict(name=n, x=x, bins=bins, edges=edges))


def evidently_default(ref, cur, kind):
    """_get_default_stattest plus the stattest it picks, on NaN-free data."""
    ref, cur = np.array(ref, dtype=object if kind == "cat" else float), np.array(cur, dtype=object if kind == "cat" else float)
    n_values = len(set(ref.tolist()) | set(cur.tolist()))
    keys = sorted(set(ref.tolist()) | set(cur.tolist()))
    rc = [sum(1 for v in ref if v == k) for k in keys]
    cc = [sum(1 for v in cur if v == k) for k in keys]
    if len(ref) <= 1000:
        if kind == "num" and n_values > 5:
            return "ks", float(stats.ks_2samp(ref.astype(float), cur.astype(float)).pvalue), 0.05
        if n_values > 2:
            return "chisquare", chi(rc, cc)[1], 0.05
        if len(set(ref.tolist())) == 1 and len(set(cur.tolist())) == 1 and ref[0] == cur[0]:
            return "z", 1.0, 0.05
        return "z", ztest(len(ref) - rc[0], len(ref), len(cur) - cc[0], len(cur))[1], 0.05
    if kind == "num" and n_values > 5:
        w = stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)
        return "wasserstein", float(w), 0.1
    return "jensenshannon", float(distance.jensenshannon(np.array(rc) / len(ref), np.array(cc) / len(cur), 2)), 0.1


detect_cases = [
    ("num small ks drift", "num", r(rng.normal(0, 1, 400)), r(rng.normal(0.4, 1, 300))),
    ("num small ks stable", "num", r(rng.normal(0, 1, 400)), r(rng.normal(0, 1, 300))),
    ("num large wasserstein drift", "num", r(rng.normal(0, 1, 2000)), r(rng.normal(0.3, 1, 800))),
    ("num large wasserstein stable", "num", r(rng.normal(0, 1, 2000)), r(rng.normal(0.02, 1, 800))),
    ("num small 4 values chi", "num", r(rng.integers(0, 4, 500)), r(rng.integers(0, 4, 300) * (rng.uniform(size=300) > 0.3))),
    ("num small binary z", "num", r(rng.integers(0, 2, 500)), r((rng.uniform(size=400) > 0.6).astype(float))),
    ("num large 3 values js", "num", r(rng.integers(0, 3, 3000)), r(rng.integers(0, 3, 500) * (rng.uniform(size=500) > 0.2))),
    ("cat small chi", "cat", [str(v) for v in rng.choice(["a", "b", "c", "d"], 600, p=[0.4, 0.3, 0.2, 0.1])],
     [str(v) for v in rng.choice(["a", "b", "c", "d"], 400, p=[0.3, 0.3, 0.2, 0.2])]),
    ("cat small binary z stable", "cat", [str(v) for v in rng.choice(["no", "yes"], 900, p=[0.7, 0.3])],
     [str(v) for v in rng.choice(["no", "yes"], 300, p=[0.7, 0.3])]),
    ("cat large js unseen category", "cat", [str(v) for v in rng.choice(["a", "b", "c"], 1500, p=[0.5, 0.3, 0.2])],
     [str(v) for v in rng.choice(["a", "b", "c", "z"], 500, p=[0.4, 0.3, 0.2, 0.1])]),
]
out["detect"] = []
for n, kind, x, y in detect_cases:
    method, score, thr = evidently_default(x, y, kind)
    drifted = score < thr if method in ("ks", "chisquare", "z") else score >= thr
    out["detect"].append(dict(name=n, kind=kind, ref=x, cur=y, method=method, score=score, drifted=bool(drifted)))

print(json.dumps(out, indent=1))

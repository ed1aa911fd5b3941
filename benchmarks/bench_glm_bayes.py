"""Benchmark of the Bayes-optimal GLM family.

Measures (warm, after a first call that compiles the Numba kernels):
  * one solve from the uninformed start for every prior x channel pair (noiseless and noisy;
    noisy abs / relu read their channel integrals from a table built by the first call);
  * noisy abs / relu in detail: direct integrals, first solve building the table, warm solve,
    and a 50-point alpha sweep from an empty table;
  * one evaluation of the channel integrals: Numba kernels vs nested adaptive scipy.quad;
  * thresholds: binary perceptron (first-order, spinodal), phase retrieval (stability).
Prints a table and writes benchmarks/results/glm_bayes.json.

    /work/venv/bin/python benchmarks/bench_glm_bayes.py
"""

from __future__ import annotations

import json
import math
import pathlib
import statistics
import time

from scipy import integrate
from scipy.special import log_ndtr

import fixedpoint
from equations.channels import make_channel
from equations.glm_bayes import GLMBayes

PRIORS = [("gaussian", 1.0), ("rademacher", 1.0), ("gauss_bernoulli", 0.3)]
CHANNELS = ["linear", "sign", "abs", "relu", "logit", "door"]
#: the channels whose noisy integrals are tabulated (bench_tables: direct, first, warm, sweep)
TABLE_CHANNELS = ["abs", "relu", "door"]
ALPHA = {"linear": 0.8, "sign": 1.3, "abs": 1.3, "relu": 1.5, "logit": 1.5, "door": 1.8}


def timeit(f, repeat=5):
    f()  # warm (compilation, caches)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def bench_solves():
    rows = []
    for prior, rho in PRIORS:
        for ch in CHANNELS:
            for noise in (0.0, 0.1):
                if ch == "linear" and noise == 0.0:
                    noise_eff = 1e-4  # noiseless linear with alpha < 1 and a continuous prior: V -> 0 slowly
                else:
                    noise_eff = noise
                m = GLMBayes(prior=prior, rho=rho, channel=ch, alpha=ALPHA[ch], noise=noise_eff)
                repeat = 5 if (noise_eff == 0.0 or ch in ("linear", "sign")) else 1
                t, sol = timeit(lambda: fixedpoint.solve(m, start="uninformed"), repeat=repeat)
                rows.append(dict(prior=prior, rho=rho, channel=ch, noise=noise_eff, alpha=m.alpha,
                                 seconds=t, iterations=int(sol.iterations), evaluations=int(sol.evaluations),
                                 converged=bool(sol.converged), q=float(sol["q"])))
    return rows


def bench_tables():
    """The noisy kinked channels (abs, relu; 1-5 ms per direct evaluation of the integrals) and the
    noisy door (~50-300 us, but tens of iterations near its weak recovery):
    one solve with integrals="direct"; the first solve for a new (channel, noise, rho), which
    builds the table pieces it visits; a warm solve (table built, e.g. the next alpha of a
    sweep); and a 50-point alpha sweep from an empty table, per point."""
    import numpy as np

    from equations.channels import _se_table

    rows = []
    for prior, rho in PRIORS:
        for ch in TABLE_CHANNELS:
            kw = dict(prior=prior, rho=rho, channel=ch, alpha=ALPHA[ch], noise=0.1)
            m = GLMBayes(**kw)
            md = GLMBayes(**kw, integrals="direct")
            t_direct, sd = timeit(lambda: fixedpoint.solve(md, start="uninformed"), repeat=1)
            _se_table.cache_clear()
            t0 = time.perf_counter()
            s_first = fixedpoint.solve(m, start="uninformed")
            t_first = time.perf_counter() - t0
            table = _se_table(m._channel, m.rho)
            first_evals = table.evaluations
            t_warm, s_warm = timeit(lambda: fixedpoint.solve(m, start="uninformed"), repeat=5)
            _se_table.cache_clear()
            alphas = np.linspace(0.5, 3.0, 50)
            t0 = time.perf_counter()
            sw = fixedpoint.sweep(m, "alpha", alphas, start="uninformed")
            t_sweep = time.perf_counter() - t0
            table = _se_table(m._channel, m.rho)
            rows.append(dict(prior=prior, channel=ch, noise=0.1, alpha=m.alpha, direct_seconds=t_direct,
                             first_seconds=t_first, first_table_evaluations=first_evals, warm_seconds=t_warm,
                             sweep_points=len(alphas), sweep_seconds=t_sweep,
                             sweep_table_evaluations=table.evaluations, sweep_converged=int(sw.converged.sum()),
                             q_difference=abs(float(s_warm["q"]) - float(sd["q"])),
                             converged=bool(s_first.converged and s_warm.converged and sd.converged)))
    return rows


def bench_quadrature():
    """One evaluation of (E g^2, psi) of the noiseless sign channel at q = 0.5, V = 0.5."""
    q, V = 0.5, 0.5
    ch = make_channel("sign", 0.0)
    t_numba, val = timeit(lambda: ch.se_integrals(q, V), repeat=50)

    def ref():
        sig = math.sqrt(q / V)

        def J(u):
            return sum(math.exp(-u * u - math.log(2 * math.pi) - log_ndtr(y * u)) for y in (1, -1)) / V

        def P(u):
            return sum(math.exp(log_ndtr(y * u)) * log_ndtr(y * u) for y in (1, -1))

        w = lambda u: math.exp(-u * u / (2 * sig * sig)) / math.sqrt(2 * math.pi) / sig  # noqa: E731
        a = integrate.quad(lambda u: J(u) * w(u), -12 * sig, 12 * sig, epsabs=0, epsrel=1e-12, limit=200)[0]
        b = integrate.quad(lambda u: P(u) * w(u), -12 * sig, 12 * sig, epsabs=0, epsrel=1e-12, limit=200)[0]
        return a, b

    t_quad, val_ref = timeit(ref, repeat=5)
    return dict(numba_seconds=t_numba, quad_seconds=t_quad, speedup=t_quad / t_numba,
                max_abs_difference=float(max(abs(val[0] - val_ref[0]), abs(val[1] - val_ref[1]))))


def bench_thresholds():
    out = []
    m = GLMBayes(prior="rademacher", channel="sign", alpha=1.0)
    for kind, br, start in (("first_order", (1.1, 1.4), "uninformed"), ("spinodal", (1.3, 1.7), "uninformed")):
        t, thr = timeit(lambda: fixedpoint.threshold(m, "alpha", bracket=br, kind=kind, start=start), repeat=3)
        out.append(dict(model="binary perceptron", kind=kind, value=float(thr.value), seconds=t))
    m = GLMBayes(prior="gaussian", channel="abs", alpha=1.0)
    t, thr = timeit(lambda: fixedpoint.threshold(m, "alpha", bracket=(0.3, 0.9), kind="stability"), repeat=3)
    out.append(dict(model="phase retrieval", kind="stability", value=float(thr.value), seconds=t))
    t, thr = timeit(lambda: fixedpoint.threshold(m, "alpha", bracket=(1.0, 1.3), kind="spinodal"), repeat=1)
    out.append(dict(model="phase retrieval", kind="spinodal", value=float(thr.value), seconds=t))
    m = GLMBayes(prior="rademacher", channel="door", alpha=1.0)
    for kind, br in (("first_order", (0.8, 1.3)), ("spinodal", (1.4, 1.7))):
        t, thr = timeit(lambda: fixedpoint.threshold(m, "alpha", bracket=br, kind=kind, start="uninformed"), repeat=1)
        out.append(dict(model="binary door K=0.674", kind=kind, value=float(thr.value), seconds=t))
    m = GLMBayes(prior="gaussian", channel="door", alpha=1.0)
    t, thr = timeit(lambda: fixedpoint.threshold(m, "alpha", bracket=(1.0, 2.0), kind="stability"), repeat=3)
    out.append(dict(model="Gaussian door", kind="stability", value=float(thr.value), seconds=t))
    return out


def main():
    import sys

    global CHANNELS, TABLE_CHANNELS
    if "--channels" in sys.argv:  # e.g. --channels door: the solves and tables of those channels only
        CHANNELS = sys.argv[sys.argv.index("--channels") + 1].split(",")
        TABLE_CHANNELS = [c for c in TABLE_CHANNELS if c in CHANNELS]
        res = {"solves": bench_solves(), "tables": bench_tables()}
        for r in res["solves"]:
            print(r)
        for r in res["tables"]:
            print(r)
        return
    res = {"solves": bench_solves(), "tables": bench_tables(), "quadrature": bench_quadrature(),
           "thresholds": bench_thresholds()}
    print(f"{'prior':16s}{'channel':8s}{'noise':>8s}{'alpha':>6s}{'ms':>10s}{'iter':>6s}{'q':>12s}")
    for r in res["solves"]:
        print(f"{r['prior']:16s}{r['channel']:8s}{r['noise']:8.0e}{r['alpha']:6.2f}{1e3 * r['seconds']:10.2f}"
              f"{r['iterations']:6d}{r['q']:12.6f}" + ("" if r["converged"] else "  NOT CONVERGED"))
    print("\nnoisy abs / relu / door (noise 0.1): direct integrals vs lazily built tables")
    print(f"{'prior':16s}{'channel':8s}{'direct ms':>11s}{'1st ms':>9s}{'evals':>7s}{'warm ms':>9s}"
          f"{'sweep ms/pt':>13s}{'evals':>7s}{'|dq|':>10s}")
    for r in res["tables"]:
        print(f"{r['prior']:16s}{r['channel']:8s}{1e3 * r['direct_seconds']:11.1f}{1e3 * r['first_seconds']:9.1f}"
              f"{r['first_table_evaluations']:7d}{1e3 * r['warm_seconds']:9.2f}"
              f"{1e3 * r['sweep_seconds'] / r['sweep_points']:13.2f}{r['sweep_table_evaluations']:7d}"
              f"{r['q_difference']:10.1e}" + ("" if r["converged"] else "  NOT CONVERGED"))
    qd = res["quadrature"]
    print(f"\nsign-channel integrals: numba {1e6 * qd['numba_seconds']:.1f} us, scipy.quad "
          f"{1e3 * qd['quad_seconds']:.1f} ms, speed-up {qd['speedup']:.0f}x, |diff| {qd['max_abs_difference']:.1e}")
    for t in res["thresholds"]:
        print(f"{t['model']:18s} {t['kind']:12s} {t['value']:.6f}  {1e3 * t['seconds']:.2f} ms")
    out = pathlib.Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "glm_bayes.json").write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()

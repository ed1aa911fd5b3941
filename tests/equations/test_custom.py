"""User-defined channels and losses (equations.custom) against the built-in ones, independent
quadrature, simulations, and the on-disk cache of their kernels."""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit
from scipy import integrate
from scipy.special import ndtr

import equations
import fixedpoint
from equations import custom

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- user functions (as a user writes them)


@custom.likelihood
def probit(y, z, noise, theta):
    """The built-in noisy sign channel, re-implemented: P(y | z) = H(-y z / sqrt(noise))."""
    return 0.5 * math.erfc(-y * z / math.sqrt(2.0 * noise))


@custom.likelihood
def flip_probit(y, z, noise, theta):
    """Probit with label flips of probability theta: f + (1 - 2f) H(-y z / sqrt(noise))."""
    return theta + (1.0 - 2.0 * theta) * 0.5 * math.erfc(-y * z / math.sqrt(2.0 * noise))


@custom.log_likelihood
def gauss_log(y, z, noise, theta):
    """The built-in linear channel, as a log-density: y = z + sqrt(noise) xi."""
    return -0.5 * math.log(2.0 * math.pi * noise) - 0.5 * (y - z) ** 2 / noise


def gauss_sampler(z, rng, noise, theta):
    return z + math.sqrt(noise) * rng.standard_normal(z.shape)


@custom.loss
def square(y, z, theta):
    return 0.5 * (y - z) ** 2


@custom.loss
def dsquare(y, z, theta):
    return z - y


@custom.loss
def d2square(y, z, theta):
    return 1.0


@custom.prox
def prox_square(y, omega, V, theta):
    return (omega + V * y) / (1.0 + V)


@custom.loss
def logistic(y, z, theta):
    u = -y * z
    return u + math.log1p(math.exp(-u)) if u > 0.0 else math.log1p(math.exp(u))


@custom.loss
def dlogistic(y, z, theta):
    u = y * z
    s = math.exp(-u) / (1.0 + math.exp(-u)) if u > 0.0 else 1.0 / (1.0 + math.exp(u))
    return -y * s


@custom.loss
def d2logistic(y, z, theta):
    s = 1.0 / (1.0 + math.exp(-abs(y * z)))
    return y * y * s * (1.0 - s)


@custom.loss
def pseudo_huber(y, z, theta):
    r = (y - z) / theta
    return theta * theta * (math.sqrt(1.0 + r * r) - 1.0)


@custom.loss
def dpseudo_huber(y, z, theta):
    r = (y - z) / theta
    return -theta * r / math.sqrt(1.0 + r * r)


@custom.loss
def d2pseudo_huber(y, z, theta):
    r = (y - z) / theta
    return (1.0 + r * r) ** -1.5


SQUARE = custom.CustomLoss(loss=square, dloss=dsquare, d2loss=d2square, prox=prox_square)
LOGISTIC = custom.CustomLoss(loss=logistic, dloss=dlogistic, d2loss=d2logistic, labels="binary")


# ---------------------------------------------------------------- channels


@pytest.mark.parametrize("noise", [0.05, 0.3])
def test_probit_reproduces_the_sign_channel(noise):
    ch = custom.CustomChannel(likelihood=probit, width=math.sqrt(noise))
    mine = equations.get("glm_bayes", channel=ch, noise=noise, alpha=2.0)._channel
    ref = equations.get("glm_bayes", channel="sign", noise=noise, alpha=2.0)._channel
    # the quadrature itself (tabulated=False; the table on top of it is checked below)
    for q in (0.0, 0.3, 0.9, 1.0 - 1e-4):
        a, b = mine.se_bayes(q, 1.0, tabulated=False), ref.se_bayes(q, 1.0)
        assert a == pytest.approx(b, rel=1e-10, abs=1e-12)
        assert mine.bayes_gen_error(q, 1.0 - q) == pytest.approx(ref.bayes_gen_error(q, 1.0 - q), rel=1e-10)
        # both are finite differences of the integrals: the built-in's (step 1e-5 V) is off by ~1e-7
        # relative at q = 1 - 1e-4 (against a wide fourth-order stencil on the exact integral)
        assert mine.se_bayes_derivative(q, 1.0, tabulated=False) == pytest.approx(ref.se_bayes_derivative(q, 1.0),
                                                                                  rel=1e-6)
    # V = 0: psi is E_z sum_y P log P, hat the Fisher information (V = 1e-12 proxy)
    assert mine.se_bayes(1.0, 1.0) == pytest.approx(ref.se_bayes(1.0, 1.0), rel=1e-9)
    y, om = np.array([1.0, -1.0, 1.0]), np.array([0.3, -2.0, 1.5])
    for a, b in zip(mine.z_out(y, om, 0.4), ref.z_out(y, om, 0.4)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_custom_channel_table_agrees_with_its_direct_integrals_and_the_sign_channel():
    """The custom channel's integrals on the Bayes-optimal line come from the lazily built table:
    against the direct integrals and the built-in sign channel's exact reduction (1e-10
    relative), and the table's derivative against the fourth-order finite difference of the
    direct ones."""
    from equations.channels import _se_table

    ch = equations.get("glm_bayes", channel=custom.CustomChannel(likelihood=probit, width=math.sqrt(0.3)),
                       noise=0.3, alpha=2.0)._channel
    ref = equations.get("glm_bayes", channel="sign", noise=0.3, alpha=2.0)._channel
    for q in (0.0, 0.05, 0.6, 0.97, 1.0 - 1e-4):
        tab = ch.se_bayes(q, 1.0)
        direct = ch.se_bayes(q, 1.0, tabulated=False)
        assert tab[0] == pytest.approx(direct[0], rel=1e-10)
        assert tab[1] == pytest.approx(direct[1], rel=1e-10, abs=1e-12)
        exact = ref.se_bayes(q, 1.0)
        assert tab[0] == pytest.approx(exact[0], rel=1e-10)
        assert tab[1] == pytest.approx(exact[1], rel=1e-10, abs=1e-12)
    assert _se_table(ch, 1.0).evaluations > 0
    assert ch.se_bayes_derivative(0.6, 1.0) == pytest.approx(ch.se_bayes_derivative(0.6, 1.0, tabulated=False),
                                                             rel=1e-7)


@pytest.mark.slow
def test_probit_solves_match_the_builtin():
    ch = custom.CustomChannel(likelihood=probit, width=math.sqrt(0.1))
    kw = dict(prior="rademacher", noise=0.1)
    mine = equations.get("glm_bayes", channel=ch, alpha=1.5, **kw)
    ref = equations.get("glm_bayes", channel="sign", alpha=1.5, **kw)
    for start in ("uninformed", "informed"):
        a, b = fixedpoint.solve(mine, start=start), fixedpoint.solve(ref, start=start)
        assert a.converged and b.converged
        for k in ("q", "mse", "gen_error", "free_entropy", "mutual_information"):
            assert a[k] == pytest.approx(b[k], rel=1e-8, abs=1e-10), k


def test_probit_threshold_matches_the_builtin():
    # where the Bayes-optimal error crosses 0.2 (alpha ~ 2.4): the engine's root-finding on solves
    ch = custom.CustomChannel(likelihood=probit, width=math.sqrt(0.1))
    kw = dict(kind="level", start="uninformed", observable="gen_error", level=0.2)
    ta = fixedpoint.threshold(equations.get("glm_bayes", channel=ch, noise=0.1), "alpha", (1.0, 4.0), **kw)
    tb = fixedpoint.threshold(equations.get("glm_bayes", channel="sign", noise=0.1), "alpha", (1.0, 4.0), **kw)
    assert ta.converged and tb.converged
    assert ta.value == pytest.approx(tb.value, rel=1e-8)


def test_real_labels_reproduce_the_linear_channel():
    noise = 0.5
    ch = custom.CustomChannel(likelihood=gauss_log, log=True, labels="real", sampler=gauss_sampler,
                              y_range=(-12.0, 12.0), y_panels=24, n_nodes=24)
    mine = equations.get("glm_bayes", channel=ch, noise=noise, alpha=1.0)._channel
    for q in (0.0, 0.5, 0.9):
        V = 1.0 - q
        hat, psi = mine.se_integrals(q, V)
        # closed forms: Z_out = N(y; omega, V + noise)
        S = V + noise
        assert hat == pytest.approx(1.0 / S, rel=1e-10)
        assert psi == pytest.approx(-0.5 * math.log(2.0 * math.pi * math.e * S), rel=1e-10)
        assert mine.bayes_gen_error(q, V) == pytest.approx(S, rel=1e-10)
    np.testing.assert_allclose(mine.predict(np.array([-1.0, 0.2, 2.0]), 0.3), [-1.0, 0.2, 2.0], atol=1e-10)
    rng = np.random.default_rng(0)
    assert np.var(mine.sample(np.zeros(20000), rng)) == pytest.approx(noise, rel=0.05)


def _flip_reference(q, V, noise, f):
    """hat and psi of the flip channel by adaptive quadrature: Z_out(y) = f + (1 - 2f) H(-y omega / sqrt(S))."""
    S = V + noise

    def integrand(u, which):
        om = math.sqrt(q) * u
        out = 0.0
        for y in (1.0, -1.0):
            x = y * om / math.sqrt(S)
            Z = f + (1 - 2 * f) * ndtr(x)
            dZ = (1 - 2 * f) * y * math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi * S)
            out += dZ * dZ / Z if which == 0 else Z * math.log(Z)
        return out * math.exp(-0.5 * u * u) / math.sqrt(2 * math.pi)

    return tuple(integrate.quad(integrand, -12, 12, args=(k,), epsabs=1e-14, epsrel=1e-12, limit=200)[0]
                 for k in (0, 1))


def test_flip_channel_against_adaptive_quadrature():
    noise, f = 0.1, 0.1
    ch = custom.CustomChannel(likelihood=flip_probit, theta=f, width=math.sqrt(noise))
    mine = equations.get("glm_bayes", channel=ch, noise=noise, alpha=3.0)._channel
    for q in (0.2, 0.8, 0.999):
        assert mine.se_integrals(q, 1.0 - q) == pytest.approx(_flip_reference(q, 1.0 - q, noise, f), rel=1e-9)
    # labels drawn from P(+1 | z): flips at rate f far from the boundary
    y = mine.sample(np.full(40000, 3.0), np.random.default_rng(1))
    assert np.mean(y < 0) == pytest.approx(f, abs=0.006)


@pytest.mark.slow
def test_flip_channel_against_gamp():
    noise, f = 0.1, 0.1
    ch = custom.CustomChannel(likelihood=flip_probit, theta=f, width=math.sqrt(noise))
    model = equations.get("glm_bayes", channel=ch, noise=noise, alpha=3.0)
    sol = fixedpoint.solve(model)
    assert sol.converged
    sims = [model.simulate(d=800, seed=s) for s in range(3)]
    for k in ("overlap", "gen_error"):
        vals = np.array([r[k] for r in sims])
        # finite-size fluctuations ~ 1/sqrt(d) (gen_error: also the 4000 test samples)
        assert abs(vals.mean() - sol[k]) < 0.04, (k, vals, sol[k])


def test_refusals_name_the_argument():
    def plain(y, z, noise, theta):
        return 0.5

    jitted = njit(plain)
    for bad, word in ((plain, "cfunc"), (jitted, "dispatcher")):
        with pytest.raises(ValueError, match=f"likelihood.*{word}"):
            custom.CustomChannel(likelihood=bad)
    with pytest.raises(ValueError, match="dloss has the signature"):
        custom.CustomLoss(loss=square, dloss=probit, d2loss=d2square)
    with pytest.raises(ValueError, match="by keyword"):
        custom.CustomChannel(probit)
    with pytest.raises(ValueError, match="labels"):
        custom.CustomChannel(likelihood=probit, labels="ternary")
    with pytest.raises(ValueError, match="y_range"):
        custom.CustomChannel(likelihood=gauss_log, log=True, labels="real")
    with pytest.raises(ValueError, match="noise: give"):
        equations.get("glm_bayes", channel=custom.CustomChannel(likelihood=probit, noise=0.2), noise=0.1)
    # a log-likelihood passed as a likelihood is not normalised: refused at first use
    model = equations.get("glm_bayes", channel=custom.CustomChannel(likelihood=gauss_log, labels="real",
                                                                    y_range=(-9, 9)), noise=0.5)
    with pytest.raises(ValueError, match="not normalised"):
        model.update(np.array([0.5]))


def test_pickles_by_reference_and_repr_is_readable():
    ch = custom.CustomChannel(likelihood=flip_probit, theta=0.1, width=0.3)
    model = equations.get("glm_bayes", channel=ch, noise=0.1, alpha=2.0)
    assert "flip_probit" in repr(model) and "0x" not in repr(model)
    back = pickle.loads(pickle.dumps(model))
    assert back == model and back.channel.likelihood is flip_probit
    erm = equations.get("glm_erm", loss=LOGISTIC, alpha=2.0, reg=0.1)
    assert pickle.loads(pickle.dumps(erm)) == erm
    assert "logistic" in repr(erm) and "0x" not in repr(erm)


# ---------------------------------------------------------------- losses


@pytest.mark.parametrize("loss,name,channel,noise", [
    (SQUARE, "square", "linear", 0.2), (SQUARE, "square", "sign", 0.1),
    (LOGISTIC, "logistic", "sign", 0.0), (LOGISTIC, "logistic", "sign", 0.3)])
def test_custom_loss_reproduces_the_builtin(loss, name, channel, noise):
    mine = equations.get("glm_erm", loss=loss, channel=channel, alpha=2.0, reg=0.1, noise=noise)
    ref = equations.get("glm_erm", loss=name, channel=channel, alpha=2.0, reg=0.1, noise=noise)
    for x in ([0.3, 0.5, 0.7], [0.9, 1.2, 2.0], [0.05, 0.01, 0.3]):
        a, b = mine._full(np.array(x)), ref._full(np.array(x))
        np.testing.assert_allclose(a[:9], b[:9], rtol=1e-9, atol=1e-13)
        assert mine.energy(x) == pytest.approx(ref.energy(x), rel=1e-10)
    a, b = fixedpoint.solve(mine), fixedpoint.solve(ref)
    assert a.converged
    for k in ("m", "q", "V", "gen_error", "train_loss"):
        assert a[k] == pytest.approx(b[k], rel=1e-8), k


@pytest.mark.slow
def test_pseudo_huber_against_adaptive_quadrature():
    """A loss that is not built in (pseudo-Huber, theta = 0.7), linear teacher: the hats against
    nested adaptive quadrature of the definitions (prox by a root finder, Stein derivative by
    differentiating the label density in the teacher's mean)."""
    from scipy.optimize import brentq

    ph = custom.CustomLoss(loss=pseudo_huber, dloss=dpseudo_huber, d2loss=d2pseudo_huber, theta=0.7)
    alpha, noise, rho = 2.0, 0.3, 1.0
    model = equations.get("glm_erm", loss=ph, alpha=alpha, reg=0.1, noise=noise)
    m, q, V = 0.4, 0.6, 0.8
    out = model._full(np.array([m, q, V]))
    t = 0.7

    def dl(y, z):
        r = (y - z) / t
        return -t * r / math.sqrt(1 + r * r)

    def f_df(y, om):
        z = brentq(lambda z: z - om + V * dl(y, z), om - 20, om + 20, xtol=1e-15)
        c = (1 + ((y - z) / t) ** 2) ** -1.5
        return -dl(y, z), -c / (1 + V * c)

    s = rho - m * m / q + noise  # y | xi ~ N(m xi / sqrt(q), s), omega = sqrt(q) xi

    def avg(g):
        def inner(xi):
            mu = m / math.sqrt(q) * xi
            val = integrate.quad(lambda y: g(y, math.sqrt(q) * xi, mu) * math.exp(-0.5 * (y - mu) ** 2 / s),
                                 mu - 12 * math.sqrt(s), mu + 12 * math.sqrt(s), epsabs=1e-13, epsrel=1e-11)[0]
            return val / math.sqrt(2 * math.pi * s) * math.exp(-0.5 * xi * xi) / math.sqrt(2 * math.pi)
        return integrate.quad(inner, -10, 10, epsabs=1e-12, epsrel=1e-10)[0]

    m_hat = alpha * avg(lambda y, om, mu: (y - mu) / s * f_df(y, om)[0])
    q_hat = alpha * avg(lambda y, om, mu: f_df(y, om)[0] ** 2)
    V_hat = -alpha * avg(lambda y, om, mu: f_df(y, om)[1])
    assert out[3:6] == pytest.approx([m_hat, q_hat, V_hat], rel=1e-8)


def test_custom_prox_newton_matches_closed_form():
    no_prox = custom.CustomLoss(loss=square, dloss=dsquare, d2loss=d2square)
    a = equations.get("glm_erm", loss=no_prox, alpha=2.0, reg=0.1, noise=0.2)
    b = equations.get("glm_erm", loss=SQUARE, alpha=2.0, reg=0.1, noise=0.2)
    np.testing.assert_allclose(a._full(np.array([0.4, 0.6, 0.9])), b._full(np.array([0.4, 0.6, 0.9])), rtol=1e-12)


PSEUDO_HUBER = custom.CustomLoss(loss=pseudo_huber, dloss=dpseudo_huber, d2loss=d2pseudo_huber, theta=0.7)


@pytest.mark.parametrize("loss", [LOGISTIC, PSEUDO_HUBER], ids=["logistic-sign", "pseudo_huber-linear"])
def test_custom_loss_against_simulation(loss):
    model = equations.get("glm_erm", loss=loss, alpha=2.0, reg=0.1, noise=0.1)
    sol = fixedpoint.solve(model)
    sims = [model.simulate(d=300, seed=s) for s in range(2)]
    for k in ("m", "q", "gen_error", "train_loss"):
        vals = np.array([r[k] for r in sims])
        assert abs(vals.mean() - sol[k]) < 0.08 * max(1.0, abs(sol[k])), (k, vals, sol[k])
    with pytest.raises(ValueError, match="penalty"):
        equations.get("glm_erm", loss=LOGISTIC, penalty="l1", alpha=2.0, reg=0.1).simulate(50, 0)


# ---------------------------------------------------------------- the on-disk cache


USER_MODULE = '''
import math
from equations import custom

@custom.likelihood
def flip(y, z, noise, theta):
    return theta + (1.0 - 2.0 * theta) * 0.5 * math.erfc(-y * z / math.sqrt(2.0 * noise))
'''

RUN = '''
import json, pickle, sys
import equations, fixedpoint
from equations import custom
import user_channel
ch = custom.CustomChannel(likelihood=user_channel.flip, theta=0.05, width=0.3)
m = equations.get("glm_bayes", channel=ch, noise=0.1, alpha=2.0)
sol = fixedpoint.solve(m)
assert sol.converged
if len(sys.argv) > 1:  # unpickle a model pickled by the first process
    assert pickle.loads(bytes.fromhex(sys.argv[1])) == m
stats = {k: [sum(getattr(custom, k).stats.cache_hits.values()), sum(getattr(custom, k).stats.cache_misses.values())]
         for k in ("_se_kernel", "_eval_vec")}
print(json.dumps({"q": sol["q"], "stats": stats, "cfunc_hits": user_channel.flip.cache_hits,
                  "pickle": pickle.dumps(m).hex()}))
'''


@pytest.mark.slow
def test_second_process_compiles_nothing(tmp_path):
    (tmp_path / "user_channel.py").write_text(USER_MODULE)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path), os.environ.get("PYTHONPATH", "")])}

    def run(*args):
        proc = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def index_files():
        return sorted(p.name for p in (tmp_path / "cache").rglob("*.nbi"))

    first = run()
    assert all(misses > 0 for _, misses in first["stats"].values()), first["stats"]  # compiled here
    files = index_files()
    assert any("custom" in f for f in files)
    second = run(first["pickle"])
    assert index_files() == files  # no new kernel, no new signature
    assert second["q"] == first["q"]
    # the toolkit's kernels taking the user's function: loaded from the cache, none compiled
    assert all(hits > 0 and misses == 0 for hits, misses in second["stats"].values()), second["stats"]
    assert second["cfunc_hits"] >= 1  # the user's cfunc too

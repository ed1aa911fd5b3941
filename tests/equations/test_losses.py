"""Proximal operators of the ERM losses against scipy's scalar minimiser and first principles."""

import math

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

from equations.losses import LOSSES, loss_value, moreau, prox, prox_full


def _loss_ref(loss, y, z, delta):
    """Each loss written out independently of the kernels."""
    if loss == "square":
        return 0.5 * (y - z) ** 2
    if loss == "logistic":
        return math.log1p(math.exp(-y * z)) if -y * z < 30 else -y * z + math.log1p(math.exp(y * z))
    if loss == "hinge":
        return max(0.0, 1.0 - y * z)
    if loss == "huber":
        r = abs(y - z)
        return 0.5 * r * r if r <= delta else delta * r - 0.5 * delta * delta
    return abs(y - z)


CASES = [(y, omega, V) for y in (1.0, -1.0, 0.3) for omega in (-3.0, -0.4, 0.0, 0.9, 1.0, 2.5)
         for V in (0.05, 0.7, 4.0)]


@pytest.mark.parametrize("loss", LOSSES)
def test_prox_against_minimize_scalar(loss):
    delta = 0.8
    for y, omega, V in CASES:
        def objective(z):
            return (z - omega) ** 2 / (2 * V) + _loss_ref(loss, y, z, delta)

        ref = minimize_scalar(objective, bracket=(omega - 10, omega + 10), method="brent",
                              options={"xtol": 1e-12})
        z = float(prox(loss, y, omega, V, delta))
        # the kernel's point is at least as good as scipy's, and the two agree to scipy's accuracy
        assert objective(z) <= ref.fun + 1e-13, (loss, y, omega, V)
        assert abs(z - ref.x) <= 2e-6 * max(1.0, abs(z)), (loss, y, omega, V, z, ref.x)


@pytest.mark.parametrize("loss", LOSSES)
def test_output_function_and_derivative(loss):
    """f_out = (z - omega)/V and its derivative by central differences away from the kinks."""
    delta = 0.8
    y = np.array([1.0, -1.0, 0.4])[:, None] * np.ones((1, 41))
    omega = np.linspace(-4, 4, 41)[None, :] * np.ones((3, 1)) + 0.0123  # off the kinks
    V = 0.6
    z, f, df = prox_full(loss, y, omega, V, delta)
    np.testing.assert_allclose(f, (z - omega) / V, rtol=1e-12, atol=1e-12)
    h = 1e-6
    _, fp, _ = prox_full(loss, y, omega + h, V, delta)
    _, fm, _ = prox_full(loss, y, omega - h, V, delta)
    np.testing.assert_allclose(df, (fp - fm) / (2 * h), rtol=1e-6, atol=1e-7)
    # Moreau envelope: its omega-derivative is -f_out
    mp = moreau(loss, y, omega + h, V, delta)
    mm = moreau(loss, y, omega - h, V, delta)
    np.testing.assert_allclose((mp - mm) / (2 * h), -f, rtol=1e-6, atol=1e-7)


def test_closed_forms():
    omega, V, delta = 0.3, 2.0, 0.5
    assert float(prox("square", 1.0, omega, V)) == pytest.approx((omega + V) / (1 + V), abs=1e-15)
    # hinge: the three regimes
    assert float(prox("hinge", 1.0, 1.5, V)) == 1.5
    assert float(prox("hinge", 1.0, 0.3, V)) == 1.0  # 0.3 + 2 > 1: sits on the kink
    assert float(prox("hinge", 1.0, -3.0, V)) == pytest.approx(-1.0, abs=1e-15)
    # absolute: soft thresholding of the residual
    assert float(prox("absolute", 1.0, -2.5, V)) == pytest.approx(-0.5, abs=1e-15)
    assert float(prox("absolute", 1.0, -0.5, V)) == 1.0
    # huber: shrink inside, shift by V delta outside
    assert float(prox("huber", 0.0, 3.0, V, delta)) == pytest.approx(3.0 - 2.0 * 0.5, abs=1e-15)
    assert float(prox("huber", 0.0, 0.6, V, delta)) == pytest.approx(0.6 / 3.0, abs=1e-15)


def test_logistic_prox_extreme_arguments():
    """Stationarity z - omega - V y sigmoid(-y z) = 0 to rounding for V up to 1e6, |omega| to 1e3."""
    rng = np.random.default_rng(0)
    omega = np.concatenate([[-1e3, -30.0, -7.6, 0.0, 7.6, 30.0, 1e3], rng.uniform(-50, 50, 300)])
    for V in (1e-8, 1e-3, 1.0, 12.2, 1e3, 1e6):
        for y in (1.0, -1.0):
            z = prox("logistic", y, omega, V)
            assert np.all(np.isfinite(z))
            s = np.where(-y * z >= 0, 1 / (1 + np.exp(-np.abs(y * z))), np.exp(-np.abs(y * z)) / (1 + np.exp(-np.abs(y * z))))
            resid = z - omega - V * y * s
            assert np.all(np.abs(resid) <= 1e-12 * np.maximum(1.0, np.abs(omega) + V)), (V, y)
            # independent root finder on the same condition where it is well conditioned
            for w in omega[:7]:
                ref = brentq(lambda t: t - w - V * y / (1 + math.exp(min(700.0, y * t))),
                             w - V - 1, w + V + 1, xtol=1e-14, rtol=1e-15)
                zk = float(prox("logistic", y, w, V))
                assert abs(zk - ref) <= 1e-10 * max(1.0, abs(ref)), (V, y, w, zk, ref)


def test_loss_values():
    z = np.linspace(-3, 3, 13)
    for loss in LOSSES:
        for y in (1.0, -1.0, 0.5):
            ref = [_loss_ref(loss, y, t, 0.7) for t in z]
            np.testing.assert_allclose(loss_value(loss, y, z, 0.7), ref, rtol=1e-14, atol=1e-15)


def test_bad_input():
    with pytest.raises(ValueError, match="loss"):
        prox("cross-entropy", 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="V"):
        prox("square", 1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="delta"):
        prox("huber", 1.0, 0.0, 1.0, delta=-1.0)

"""Finite-size empirical risk minimisation: the counterpart of :mod:`equations.glm_erm`.

One instance: ``x_mu ~ N(0, I_d)``, ``n = round(alpha d)``, teacher ``w* ~ N(0, rho I_d)``,
labels from the channel; the estimator

    w_hat = argmin_w  sum_mu loss(y_mu, a_mu.w) + penalty(w),      a_mu = x_mu / sqrt(d),

is computed to high accuracy by a solver suited to the loss:

* square + l2: the normal equations (closed form);
* logistic / huber with l2: L-BFGS to gradient 1e-10, then one Newton step with the Cholesky
  factor of the Hessian (semismooth for huber);
* hinge / absolute with l2 (``reg > 0``): dual coordinate ascent on the box-constrained dual
  ``max_g  g.y - |A^T g|^2/(2 reg)``, ``g in [min(0,y), max(0,y)]`` (hinge) or ``[-1, 1]``
  (absolute), ``w = A^T g/reg``, finished exactly on the identified active set (a linear solve
  for the free dual variables, accepted only if the KKT conditions hold to 1e-9);
* hinge / absolute with ``reg = 0`` or l1 penalty: the linear programme, by HiGHS;
* square with l1 (lasso): cyclic coordinate descent with exact coordinate steps, stopped when an
  epoch moves no coefficient by more than 1e-13 of the largest;
* logistic / huber with l1: FISTA with adaptive restart on the smooth part and soft
  thresholding, stopped at fixed-point residual 1e-11 (slow; not used by the tests).

Observables are measured on the instance: ``m = w.w*/d``, ``q = w.w/d``; ``gen_error`` is the
exact error on a fresh sample given ``(w, w*)`` (classification: ``arccos(m/sqrt(q (|w*|^2/d +
noise)))/pi``; regression: ``|w*|^2/d + noise - 2m + q``); ``train_loss`` the mean loss;
``estimation_error = |w - w*|^2/d``; with ``channel="outliers"`` also ``gen_error_outliers`` and
``excess_gen_error`` (:meth:`equations.glm_erm.GLMERM.observables`, with ``|w*|^2/d`` as ``rho``);
``train_error`` the fraction of negative margins; ``V``
the susceptibility: ``tr(H^-1)/d`` with ``H`` the Hessian of the objective for smooth losses
with l2 penalty; ``(1 - |S|/d)/reg`` for hinge/absolute with l2 (``S`` the samples on the kink);
``tr([A_S^T D A_S]^-1)/d`` on the support ``S`` for l1 with a smooth loss; ``nan`` for the
linear-programme cases.
"""

from __future__ import annotations

import math

import numpy as np
from fixedpoint._jit import njit_compiled

from ..losses import loss_value

__all__ = ["sample_instance", "fit", "simulate_erm"]


def sample_instance(alpha, d, rho, channel, noise, rng, outliers=(0.0, 0.0, 0.0, 0.0), gamma=1.0, beta0=0.0):
    """``(A, y, w_star)`` with ``A = X/sqrt(d)``; labels ``y = +-1`` for ``channel`` sign (probit),
    logit (``P(y=+1) = sigmoid(gamma (z* + beta0 + sqrt(noise) xi))``) and random (fair coins);
    ``outliers = (eps, beta, noise_in, noise_out)`` for ``channel="outliers"``: each label is
    independently an outlier ``beta z* + sqrt(noise_out) xi`` with probability ``eps``, else
    ``z* + sqrt(noise_in) xi``."""
    n = max(1, int(round(alpha * d)))
    w_star = math.sqrt(rho) * rng.standard_normal(d)
    A = rng.standard_normal((n, d)) / math.sqrt(d)
    z = A @ w_star
    if channel == "outliers":
        eps, beta, noise_in, noise_out = (float(v) for v in outliers)
        out = rng.random(n) < eps
        xi = rng.standard_normal(n)
        y = np.where(out, beta * z + math.sqrt(noise_out) * xi, z + math.sqrt(noise_in) * xi)
        return A, y, w_star
    y = z + beta0 + math.sqrt(noise) * rng.standard_normal(n)  # beta0: the teacher's offset (+-1 labels)
    if channel == "sign":
        y = np.where(y >= 0.0, 1.0, -1.0)
    elif channel == "logit":
        y = np.where(rng.random(n) < 1.0 / (1.0 + np.exp(-gamma * y)), 1.0, -1.0)
    elif channel == "random":
        y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    return A, y, w_star


# ----------------------------------------------------------------------------- smooth losses


def _derivs(loss, y, z, delta):
    """First and second derivatives of ``loss(y, z)`` in ``z``."""
    if loss == "square":
        return z - y, np.ones_like(z)
    if loss == "logistic":
        u = -y * z
        s = np.where(u >= 0, 1.0 / (1.0 + np.exp(-np.abs(u))), np.exp(-np.abs(u)) / (1.0 + np.exp(-np.abs(u))))
        return -y * s, y * y * s * (1.0 - s)
    if loss == "huber":
        r = z - y
        inside = np.abs(r) <= delta
        return np.where(inside, r, delta * np.sign(r)), inside.astype(float)
    if loss == "tukey":  # t(y - z): d/dz = t'(z - y) (t' odd), d2/dz2 = t''(z - y)
        r = z - y
        s = np.minimum((r / delta) ** 2, 1.0)
        return r * (1.0 - s) ** 2, (1.0 - s) * (1.0 - 5.0 * s)
    raise ValueError(f"no derivatives for loss {loss!r}")


def _newton_l2(A, y, loss, reg, delta, bias=False, w0=None):
    """L-BFGS to gradient 1e-10 (from ``w0``, default 0), then one Newton step with the Cholesky
    factor of the Hessian (which also gives ``V = tr(H^-1)/d``). ``bias=True``: an unpenalised
    intercept, the last entry of the returned vector (``V`` is then the trace of the weights' block
    of ``H^-1``)."""
    from scipy.linalg import cho_factor, cho_solve
    from scipy.optimize import minimize

    n, d0 = A.shape
    if bias:
        A = np.hstack([A, np.ones((n, 1))])
    n, d = A.shape
    reg = np.full(d, float(reg))
    if bias:
        reg[-1] = 0.0

    def fun(w):
        z = A @ w
        g1, _ = _derivs(loss, y, z, delta)
        return (float(np.sum(loss_value(loss, y, z, delta)) + 0.5 * (reg * w) @ w),
                A.T @ g1 + reg * w)

    res = minimize(fun, np.zeros(d) if w0 is None else w0, jac=True, method="L-BFGS-B",
                   options={"maxiter": 20000, "maxcor": 30, "ftol": 0.0, "gtol": 1e-10})
    w = res.x
    # one Newton step (semismooth for huber) from the L-BFGS point: quadratic convergence makes it
    # exact to rounding; the same Cholesky factor gives V
    z = A @ w
    g1, g2 = _derivs(loss, y, z, delta)
    grad = A.T @ g1 + reg * w
    Hm = A.T @ (A * g2[:, None])
    Hm[np.diag_indices(d)] += reg
    factor = cho_factor(Hm)
    w_new = w - cho_solve(factor, grad)
    if fun(w_new)[0] <= fun(w)[0] + 1e-12 * max(1.0, abs(fun(w)[0])):
        w = w_new
    V = float(np.trace(cho_solve(factor, np.eye(d))[:d0, :d0])) / d0
    return w, V


# ----------------------------------------------------------------------------- dual box QP


@njit_compiled(cache=True)
def _dual_cd(A, y, lo, hi, reg, tol, max_epochs, seed, g0):
    """Coordinate ascent on ``max_g g.y - |A^T g|^2/(2 reg)``, ``lo <= g <= hi``, from ``g0``;
    stops when an epoch changes no coordinate by more than ``tol``. Returns ``(g, epochs)``."""
    n, d = A.shape
    g = g0.copy()
    w = A.T @ g / reg
    sq = np.empty(n)
    for i in range(n):
        sq[i] = A[i] @ A[i]
    np.random.seed(seed)
    for epoch in range(max_epochs):
        order = np.random.permutation(n)
        maxdelta = 0.0
        for k in range(n):
            i = order[k]
            grad = y[i] - A[i] @ w  # d(dual)/dg_i
            gi = g[i] + reg * grad / sq[i]
            if gi < lo[i]:
                gi = lo[i]
            elif gi > hi[i]:
                gi = hi[i]
            dg = gi - g[i]
            if dg != 0.0:
                g[i] = gi
                w += (dg / reg) * A[i]
                if abs(dg) > maxdelta:
                    maxdelta = abs(dg)
        if maxdelta < tol:
            return g, epoch
    return g, max_epochs


def _box_dual(A, y, loss, reg, target=None):
    """Dual coordinate ascent to a moderate tolerance, then the exact solution on the identified
    active set (the free dual variables solve a linear system), verified by the KKT conditions;
    coordinate ascent resumes with a tighter tolerance if the check fails. ``target``: the dual's
    linear term (default ``y``; ``y - b`` for an offset ``b``: ``loss(y, a.w + b)`` is, for the
    hinge and the absolute loss, the same box dual with that target).

    The dual is solved for ``beta = g/reg`` (so ``w = A^T beta``, box ``[lo, hi]/reg``): the free
    variables stay O(1) when ``reg -> 0`` (hinge: the hard-margin SVM's multipliers)."""
    if loss == "hinge":
        lo, hi = np.minimum(0.0, y) / reg, np.maximum(0.0, y) / reg
    else:  # absolute
        lo, hi = -np.ones_like(y) / reg, np.ones_like(y) / reg
    A = np.ascontiguousarray(A)
    t = y if target is None else np.ascontiguousarray(target, dtype=float)
    beta = np.zeros(len(y))
    tol = 1e-3
    for attempt in range(9):
        beta, _ = _dual_cd(A, t, lo, hi, 1.0, tol, 200000, 12345 + attempt, beta)
        eps = 1e-9 * max(1.0, float(np.max(np.abs(np.clip(beta, -1e300, 1e300)))))
        free = (beta > lo + eps) & (beta < hi - eps)
        fixed = ~free
        b = A[fixed].T @ beta[fixed]
        AS = A[free]
        rhs = t[free] - AS @ b
        try:
            bS = np.linalg.solve(AS @ AS.T, rhs)
        except np.linalg.LinAlgError:
            tol *= 0.1
            continue
        b_try = beta.copy()
        b_try[free] = bS
        w = A.T @ b_try
        grad = t - A @ w  # d(dual)/dbeta: ~0 on free, <= 0 at lower, >= 0 at upper bounds
        ok_free = np.all((bS >= lo[free] - eps) & (bS <= hi[free] + eps))
        scale = 1e-9 * (1.0 + np.abs(y))
        at_lo = fixed & (beta <= lo + eps)
        at_hi = fixed & ~at_lo
        ok_fixed = np.all(grad[at_lo] <= scale[at_lo]) and np.all(grad[at_hi] >= -scale[at_hi])
        if ok_free and ok_fixed:
            # w is locally (A_S^T beta_S + b) with A_S w = y_S: its response to a perturbation of
            # the objective is the projector off the rows of A_S over reg: V = (1 - |S|/d)/reg
            return w, (A.shape[1] - int(free.sum())) / (A.shape[1] * reg)
        beta = np.clip(b_try, lo, hi) if ok_free else beta
        tol *= 0.1
    raise RuntimeError("dual coordinate ascent did not identify the active set (KKT check failed)")


# ----------------------------------------------------------------------------- LPs


def _lp(A, y, loss, penalty, reg, bias=False):
    """Hinge/absolute loss with l1 penalty (or none): a linear programme (HiGHS). ``bias=True``:
    a free intercept ``b`` (in ``loss(y, a.w + b)``), returned as the last entry."""
    if bias:  # the intercept: a column of ones whose weight is not penalised
        A1 = np.hstack([A, np.ones((A.shape[0], 1))])
        return _lp_columns(A1, y, loss, penalty, reg, np.r_[np.ones(A.shape[1]), 0.0])
    return _lp_columns(A, y, loss, penalty, reg, np.ones(A.shape[1]))


def _lp_columns(A, y, loss, penalty, reg, pen):
    """:func:`_lp` with a per-column weight ``pen`` of the l1 penalty."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, hstack, identity, vstack

    n, d = A.shape
    l1 = penalty == "l1" and reg > 0
    # variables: w+ (d), w- (d), slack t (n) >= 0; w = w+ - w- (free w when no l1 penalty)
    c = np.concatenate([pen * (reg if l1 else 0.0), pen * (reg if l1 else 0.0), np.ones(n)])
    As = csr_matrix(A)
    if loss == "hinge":
        # t >= 1 - y a.w   <=>   -y a.w - t <= -1
        YA = csr_matrix(-(y[:, None] * A))
        A_ub = hstack([YA, -YA, -identity(n)], format="csr")
        b_ub = -np.ones(n)
    else:
        # |y - a.w| <= t   <=>   a.w - t <= y,  -a.w - t <= -y
        A_ub = vstack([hstack([As, -As, -identity(n)]), hstack([-As, As, -identity(n)])], format="csr")
        b_ub = np.concatenate([y, -y])
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=(0, None), method="highs",
                  options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    if res.status != 0:
        raise RuntimeError(f"the linear programme failed: {res.message}")
    return res.x[:d] - res.x[d:2 * d]


# ----------------------------------------------------------------------------- l1 by FISTA


def _fista_l1(A, y, loss, reg, delta, tol=1e-11, max_iter=200000, w0=None, bias=False):
    """FISTA on ``sum loss(y, A w) + reg |w|_1``; ``bias=True``: ``A`` gets a column of ones whose
    coefficient (the intercept, the last entry returned) is not penalised."""
    n, d = A.shape
    if bias:
        A = np.hstack([A, np.ones((n, 1))])
        d += 1
    curv = {"square": 1.0, "huber": 1.0, "logistic": 0.25, "tukey": 1.0}[loss]  # sup |loss''|
    L = curv * np.linalg.norm(A, 2) ** 2
    thresh = np.full(d, reg / L)
    if bias:
        thresh[-1] = 0.0
    w = np.zeros(d) if w0 is None else w0.copy()
    v = w.copy()
    t = 1.0
    for _ in range(max_iter):
        g1, _ = _derivs(loss, y, A @ v, delta)
        u = v - (A.T @ g1) / L
        w_new = np.sign(u) * np.maximum(np.abs(u) - thresh, 0.0)
        # adaptive restart (O'Donoghue and Candes): momentum off when it points uphill
        if (v - w_new) @ (w_new - w) > 0:
            t = 1.0
            v = w_new.copy()
        else:
            t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            v = w_new + ((t - 1.0) / t_new) * (w_new - w)
            t = t_new
        diff = float(np.max(np.abs(w_new - w)))
        w = w_new
        if diff <= tol * max(1.0, float(np.max(np.abs(w)))):
            break
    return w


# ----------------------------------------------------------------------------- lasso by CD


@njit_compiled(cache=True)
def _lasso_cd(At, y, reg, tol, max_epochs):
    """Cyclic coordinate descent on ``|y - A w|^2/2 + reg |w|_1`` (``At = A^T``, C-contiguous),
    exact coordinate minimisation; stops when an epoch moves no coordinate by more than
    ``tol`` times the largest coefficient."""
    d, n = At.shape
    w = np.zeros(d)
    r = y.copy()
    sq = np.empty(d)
    for j in range(d):
        sq[j] = At[j] @ At[j]
    for epoch in range(max_epochs):
        maxdelta = 0.0
        maxw = 0.0
        for j in range(d):
            zj = At[j] @ r + sq[j] * w[j]
            if zj > reg:
                wj = (zj - reg) / sq[j]
            elif zj < -reg:
                wj = (zj + reg) / sq[j]
            else:
                wj = 0.0
            dw = wj - w[j]
            if dw != 0.0:
                r -= dw * At[j]
                w[j] = wj
                if abs(dw) > maxdelta:
                    maxdelta = abs(dw)
            if abs(wj) > maxw:
                maxw = abs(wj)
        if maxdelta <= tol * max(maxw, 1e-300):
            return w, epoch
    return w, max_epochs


# ----------------------------------------------------------------------------- driver


def fit(A, y, loss, penalty, reg, delta):
    """The minimiser ``w_hat`` and (for smooth losses with l2) ``V = tr(H^-1)/d``."""
    n, d = A.shape
    if loss == "tukey":
        return _tukey_fit(A, y, penalty, reg, delta)
    if penalty == "l2" or reg == 0:
        if loss == "square":
            if n >= d or reg == 0:
                M = A.T @ A + reg * np.eye(d)
                w = np.linalg.solve(M, A.T @ y)
                V = float(np.trace(np.linalg.inv(M))) / d
            else:  # n < d: the dual form costs n^3
                K = A @ A.T + reg * np.eye(n)
                w = A.T @ np.linalg.solve(K, y)
                # tr (A^T A + reg)^-1 = (d - n)/reg + tr (A A^T + reg)^-1
                V = ((d - n) / reg + float(np.trace(np.linalg.inv(K)))) / d
            return w, V
        if loss in ("logistic", "huber"):
            return _newton_l2(A, y, loss, reg, delta)
        if reg > 0:
            return _box_dual(A, y, loss, reg)
        return _lp(A, y, loss, penalty, reg), math.nan
    # l1 with reg > 0
    if loss in ("hinge", "absolute"):
        return _lp(A, y, loss, penalty, reg), math.nan
    if loss == "square":
        w, _ = _lasso_cd(np.ascontiguousarray(A.T), y, float(reg), 1e-13, 100000)
    else:
        w = _fista_l1(A, y, loss, reg, delta)
    # on the support S the minimiser is smooth: V = tr([A_S^T D A_S]^-1)/d
    S = np.flatnonzero(w != 0.0)
    _, g2 = _derivs(loss, y, A @ w, delta)
    AS = A[:, S]
    V = float(np.trace(np.linalg.inv(AS.T @ (AS * g2[:, None])))) / d if S.size else 0.0
    return w, V


def _tukey_fit(A, y, penalty, reg, delta):
    """Tukey's biweight (non-convex): a local minimiser reached from the convex Huber estimator
    with the same threshold (the usual robust start), by the Huber path's solver (L-BFGS and a
    Newton step for l2, FISTA for l1, which converges to a stationary point for a loss with
    ``|loss''| <= 1``). The replica prediction is the global minimiser; the tests check that the
    two agree where the replica-symmetric solution is stable."""
    if penalty == "l2" or reg == 0:
        w0, _ = _newton_l2(A, y, "huber", reg, delta)
        return _newton_l2(A, y, "tukey", reg, delta, w0=w0)
    w0 = _fista_l1(A, y, "huber", reg, delta)
    w = _fista_l1(A, y, "tukey", reg, delta, w0=w0)
    S = np.flatnonzero(w != 0.0)
    _, g2 = _derivs("tukey", y, A @ w, delta)
    AS = A[:, S]
    V = float(np.trace(np.linalg.inv(AS.T @ (AS * g2[:, None])))) / A.shape[1] if S.size else 0.0
    return w, V


def fit_bias(A, y, loss, penalty, reg, delta):
    """The minimiser ``(w_hat, b)`` of ``sum loss(y, a.w + b) + penalty(w)`` (``b`` unpenalised) and
    ``V`` as in :func:`fit`: Newton on the augmented problem for the smooth losses with l2; for
    hinge/absolute with l2, the profile ``min_w`` over ``b`` by Brent's method (each inner problem
    the box dual with target ``y - b``, exact); the linear programme with a free intercept for
    them with l1; FISTA with the intercept unpenalised for the smooth losses with l1."""
    from scipy.optimize import minimize_scalar

    if loss in ("square", "logistic", "huber") and (penalty == "l2" or reg == 0):
        wb, V = _newton_l2(A, y, loss, reg, delta, bias=True)
        return wb[:-1], float(wb[-1]), V
    if loss in ("hinge", "absolute") and penalty == "l2" and reg > 0:
        def profile(b):
            w, _ = _box_dual(A, y, loss, reg, target=y - b)
            return float(np.sum(loss_value(loss, y, A @ w + b, delta))) + 0.5 * reg * (w @ w)

        b = minimize_scalar(profile, bracket=(-0.5, 0.5), tol=1e-10).x
        w, V = _box_dual(A, y, loss, reg, target=y - b)
        return w, float(b), V
    if loss in ("hinge", "absolute"):
        wb = _lp(A, y, loss, penalty, reg, bias=True)
        return wb[:-1], float(wb[-1]), math.nan
    # smooth loss, l1: FISTA with the intercept unpenalised; V on the support, as in fit
    wb = _fista_l1(A, y, loss, reg, delta, bias=True)
    w, b = wb[:-1], float(wb[-1])
    S = np.flatnonzero(w != 0.0)
    _, g2 = _derivs(loss, y, A @ w + b, delta)
    AS = np.hstack([A[:, S], np.ones((A.shape[0], 1))])
    V = float(np.trace(np.linalg.inv(AS.T @ (AS * g2[:, None]))[:S.size, :S.size])) / A.shape[1] if S.size else 0.0
    return w, b, V


def _one_blas_thread():
    """Limit BLAS to one thread while fitting (``threadpoolctl``, when installed): these matrices
    are small, and a multi-threaded BLAS on a busy machine is many times slower (measured: one
    Huber fit at d = 1000 took 7.5 s with the default threads and 0.55 s with one)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it the fit is only slower
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def simulate_erm(model, d: int, seed: int) -> dict[str, float]:
    """Observables of one instance of ``model`` (a :class:`equations.glm_erm.GLMERM`)."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    if model._no_minimiser():
        raise ValueError("the training data are separable at this alpha: the ERM with reg=0 has no finite "
                         "minimiser (see model.explain); use reg > 0")
    rng = np.random.default_rng(seed)
    A, y, w_star = sample_instance(model.alpha, int(d), model.rho, model.channel, model.noise, rng,
                                   (model.eps, model.beta, model.noise_in, model.noise_out),
                                   gamma=model._gamma, beta0=float(model.beta0))
    kappa = model._margin if model.loss == "hinge" else 1.0
    with _one_blas_thread():
        # the hinge with margin kappa is kappa times the margin-1 hinge at z/kappa: w = kappa u with u the
        # margin-1 minimiser at reg kappa (l2) or reg (l1), and V = (1 - |S|/d)/reg = kappa V_u
        reg_u = float(model.reg) * (kappa if model.penalty == "l2" else 1.0)
        if model.bias:  # (the margin's rescaling holds for the intercept too)
            w, b, V = fit_bias(A, y, model.loss, model.penalty, reg_u, float(model.delta))
        else:
            w, V = fit(A, y, model.loss, model.penalty, reg_u, float(model.delta))
            b = 0.0
        w, V, b = kappa * w, kappa * V, kappa * b
    d = A.shape[1]
    z = A @ w + b
    m = float(w @ w_star) / d
    q = float(w @ w) / d
    rho_hat = float(w_star @ w_star) / d
    res = {"m": m, "q": q, "V": V}
    if model.bias:
        res["b"] = b
    if model.channel == "sign" and b == 0 and model.beta0 == 0:
        cosang = m / math.sqrt(q * (rho_hat + model.noise)) if q > 0 else 0.0
        res["gen_error"] = math.acos(max(-1.0, min(1.0, cosang))) / math.pi
    elif model.channel == "outliers":
        from ..glm_erm import _outlier_errors

        # the exact errors on fresh samples given (w, w*), with the instance's |w*|^2/d as rho
        res.update(_outlier_errors(m, q, rho_hat, model.eps, model.beta, model.noise_in, model.noise_out))
    elif model.channel in ("sign", "logit", "random"):
        res["gen_error"] = _label_gen_error(model, m, q, rho_hat, b)
    else:
        res["gen_error"] = rho_hat + model.noise - 2.0 * m + q
    if model.loss == "hinge":
        res["train_loss"] = float(np.mean(np.maximum(0.0, kappa - y * z)))  # the hinge with its margin
    else:
        res["train_loss"] = float(np.mean(loss_value(model.loss, y, z, model.delta)))
    res["estimation_error"] = float((w - w_star) @ (w - w_star)) / d
    if model.channel in ("sign", "logit", "random"):
        res["train_error"] = float(np.mean(y * z < 0))
    if model.loss == "logistic" and model.channel in ("sign", "logit"):
        # Sur and Candes's decomposition on the instance (GLMERM.observables), |w*|^2/d as rho
        gamma = model._gamma if model.channel == "logit" else 1.0
        res["alpha_star"] = m / (gamma * rho_hat)
        res["sigma_star"] = math.sqrt(max(model.alpha * (q - m * m / rho_hat), 0.0))
        res["lambda_star"] = V
    return res


def _label_gen_error(model, m, q, rho_hat, b=0.0):
    """Exact ``P(y != sign(x.w + b))`` on a fresh sample given ``(w, b, w*)``: the student's field
    ``omega ~ N(0, q)`` and the teacher's ``z* | omega ~ N(m omega/q, |w*|^2/d - m^2/q)``, so ``int
    phi(xi) P(y != sign(sqrt(q) xi + b) | z* mean (m/sqrt q) xi) dxi`` by adaptive quadrature (one
    call per instance)."""
    if model.channel == "random" or q <= 0:
        return 0.5
    from scipy import integrate

    from scipy.special import ndtr

    gamma = model._gamma
    mq = m / math.sqrt(q)
    s = max(rho_hat - mq * mq, 0.0) + model.noise
    beta0 = float(model.beta0)

    def p_minus(xi):
        mu = mq * xi + beta0
        if model.channel == "sign":
            return float(ndtr(-mu / math.sqrt(s)))
        def f(t):
            return math.exp(-0.5 * t * t) / (1.0 + math.exp(min(gamma * (mu + math.sqrt(s) * t), 700.0)))

        return integrate.quad(f, -12.0, 12.0, epsabs=1e-13, epsrel=1e-11, limit=200)[0] / math.sqrt(2 * math.pi)

    xb = -b / math.sqrt(q)
    dens = lambda xi: math.exp(-0.5 * xi * xi) / math.sqrt(2 * math.pi)  # noqa: E731
    right = integrate.quad(lambda xi: dens(xi) * p_minus(xi), xb, 14.0, epsabs=1e-12, epsrel=1e-10, limit=200)[0]
    left = integrate.quad(lambda xi: dens(xi) * (1.0 - p_minus(xi)), -14.0, xb, epsabs=1e-12, epsrel=1e-10,
                          limit=200)[0]
    return right + left

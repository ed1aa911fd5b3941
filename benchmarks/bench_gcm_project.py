"""``gcm_erm`` side by side with GCMProject, the authors' code of the Gaussian covariate model.

GCMProject (github.com/IdePHICS/GCMProject, commit ``dea00b0``, 2021; Loureiro, Gerbelot, Cui,
Goldt, Krzakala, Mezard, Zdeborova, "Learning curves of generic features maps for realistic
datasets with a teacher-student model", NeurIPS 2021, arXiv 2102.08127) iterates the same
replica equations on given matrices: its ``state_evolution`` package takes a teacher-teacher
covariance ``Psi`` (``k x k``), a student-student covariance ``Omega`` (``p x p``), their cross
covariance and the teacher's weights ``theta`` (``data_models.custom.Custom``), and solves
ridge regression (``RidgeRegression``), the square loss on sign labels (``L2Classification``) or
logistic regression (``LogisticRegression``) by plain iteration (``algorithms.state_evolution
.StateEvolution``). It has no hinge loss. Its hat integrals for the logistic loss are
``scipy.integrate.quad`` over the Gaussian with ``scipy.optimize.minimize_scalar`` (Brent, default
tolerance) for the proximal operator at every integrand call.

Two data models, each solved by both codes on the same numbers:

* ``powerlaw``: shared features (``Psi = Omega = Phi = diag(omega)``) with the power law
  :func:`equations.gcm.power_law` ``(200, capacity 1.5, source 0.5)``; ours is ``features=
  "spectra"`` with that spectrum and teacher.
* ``rf``: one sampled random-features instance (erf, ``d = 200`` inputs, ``p = 400`` features,
  ``F`` and ``theta`` from ``numpy.random.default_rng(0)``): the teacher acts on the inputs
  (``Psi = I_d``, ``theta ~ N(0, I_d)``), the student on the Gaussian-equivalent features
  (``Omega = kappa_1^2 F F^T/d + kappa_*^2 I_p``, cross covariance ``E[v x^T] = kappa_1
  F/sqrt(d)``). Ours is ``features="spectra"`` on the eigen-decomposition ``Omega = U diag(omega)
  U^T``: with ``t = U^T E[v x^T] theta`` and GCMProject's ``gamma = k/p = d/p``, the teacher's
  coefficients are ``theta_k = t_k/(sqrt(gamma) omega_k)`` (so that our ``c_k^2 = omega_k^2
  theta_k^2`` is their ``t_k^2/gamma``), and the part of the teacher's field the features cannot
  carry, ``|theta|^2/d - mean(omega theta_k^2)``, is our ``noise`` (Gaussian, independent of the
  features: additive for ridge, inside the sign for classification). Our ``d -> inf`` random
  features (``features="random_features"``, Marchenko-Pastur) are timed next to it, with their
  (finite-size) distance to this instance.

Mapping of normalisations: their ``sample_complexity`` is ``n/p`` (our ``alpha`` for spectra),
their ``regularisation`` our ``reg``, their ``variance, self_overlap, teacher_student`` our ``V,
q, m``, their ``test_error`` our ``gen_error`` (``noise = 0`` in their teachers). Their
``train_loss`` is the mean ``(y - yhat)^2`` for ridge, the mean ``(y - yhat)^2/4`` for the square
loss on sign labels and the mean logistic loss, where ours is the mean loss (``(y - yhat)^2/2``
for the square loss): the table converts ours to their convention.

Agreement is shown two ways: the relative difference of ``m, q, V`` and of the test error between
the two fixed points, and the relative residual of *their* update map evaluated at *our* fixed
point (one step, no stopping rule in the way), once with their code as shipped and, for logistic,
once with their integrals made exact (:meth:`GCMProject.tight_integrals`: the proximal point by
``brentq`` on its optimality condition, ``quad`` at 1e-13; a runtime substitution of two names in
their module, restored after; their files are not changed). As shipped, Brent's minimisation of
the Moreau objective finds the proximal point only to ``~sqrt(eps)`` relative, which leaves ~1e-7
jitter in their iterates. Timings: ours warm (kernels compiled), the median of repeated solves to
1e-10; theirs the mean of a few runs of ``StateEvolution.iterate`` with their defaults (uninformed
start, no damping) and the tolerance in the table (their default 1e-10 is below that jitter: the
logistic iteration never stops), their construction of ``Custom`` (its diagonalisation) included;
BLAS on one thread for both (on a busy 2-core machine a multi-threaded ``eigh`` of ``400 x 400``
took 10 s instead of 0.07 s).

Run: ``python benchmarks/bench_gcm_project.py --gcmproject /path/to/GCMProject`` (or set
``GCMPROJECT``): about two minutes, the logistic runs of GCMProject taking most of it. Without a
checkout it prints how to get one and runs ours alone. Writes
``benchmarks/results/gcm_project.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import time

import numpy as np

import fixedpoint
from equations._simulate.erm import _one_blas_thread
from equations.gcm import GCMERM, kappas, power_law

HOW_TO_GET = ("GCMProject not given: run ours only. To compare, get the authors' code, e.g.\n"
              "    git clone https://github.com/IdePHICS/GCMProject /tmp/gcmproject\n"
              "and pass --gcmproject /tmp/gcmproject (or set GCMPROJECT=/tmp/gcmproject). It needs numpy and\n"
              "scipy only (its experiments/ module has an indentation error and data_models/single_layer_hmm.py\n"
              "fails at run time; neither is used here).")

#: (name, data model, their task, n/p, reg)
CASES = (
    ("power law p=200, ridge", "powerlaw", "ridge_regression", 0.5, 0.01),
    ("power law p=200, square loss, sign labels", "powerlaw", "l2_classification", 0.5, 0.01),
    ("power law p=200, logistic", "powerlaw", "logistic_regression", 2.0, 0.1),
    ("RF erf d=200 p=400, ridge", "rf", "ridge_regression", 0.75, 0.05),
    ("RF erf d=200 p=400, logistic", "rf", "logistic_regression", 1.0, 0.1),
)
_OURS_LOSS = {"ridge_regression": ("square", "linear"), "l2_classification": ("square", "sign"),
              "logistic_regression": ("logistic", "sign")}
#: ours' mean training loss times this is GCMProject's ``train_loss`` (their conventions)
_TRAIN_LOSS_FACTOR = {"ridge_regression": 2.0, "l2_classification": 0.5, "logistic_regression": 1.0}
RF_D, RF_P, RF_SEED, RF_ACTIVATION = 200, 400, 0, "erf"


def data_model(kind: str) -> dict:
    """The matrices GCMProject takes and the spectra ours takes, for the two data models."""
    if kind == "powerlaw":
        omega, theta = (np.array(v) for v in power_law(200, 1.5, 0.5))
        D = np.diag(omega)
        return {"matrices": dict(teacher_teacher_cov=D, student_student_cov=D, teacher_student_cov=D,
                                 teacher_weights=theta),
                "spectrum": omega, "teacher": theta, "noise": 0.0}
    if kind == "rf":
        d, p = RF_D, RF_P
        rng = np.random.default_rng(RF_SEED)
        F = rng.standard_normal((p, d))
        theta0 = rng.standard_normal(d)
        _, k1, ks = kappas(RF_ACTIVATION)
        Omega = k1 * k1 * (F @ F.T) / d + ks * ks * np.eye(p)
        cross = k1 * F / math.sqrt(d)  # E[v x^T], p x d
        with _one_blas_thread():  # small matrices: a multi-threaded eigh on a busy machine is 100x slower
            omega, U = np.linalg.eigh(Omega)
        gamma = d / p  # GCMProject's k/p
        t = U.T @ (cross @ theta0)
        teacher = t / (math.sqrt(gamma) * omega)
        rho_total = float(theta0 @ theta0) / d
        noise = rho_total - float(np.mean(omega * teacher ** 2))
        return {"matrices": dict(teacher_teacher_cov=np.eye(d), student_student_cov=Omega,
                                 teacher_student_cov=cross.T, teacher_weights=theta0),
                "spectrum": omega, "teacher": teacher, "noise": noise}
    raise ValueError(f"kind must be 'powerlaw' or 'rf', got {kind!r}")


def ours_model(kind: str, task: str, alpha_p: float, reg: float, data: dict) -> GCMERM:
    loss, channel = _OURS_LOSS[task]
    return GCMERM(features="spectra", spectrum=data["spectrum"], teacher=data["teacher"], loss=loss,
                  channel=channel, alpha=alpha_p, reg=reg, noise=data["noise"])


def _time_ours(model, repeats):
    fixedpoint.solve(model, atol=1e-10, rtol=1e-10)  # warm-up: kernels compiled or loaded
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        r = fixedpoint.solve(model, atol=1e-10, rtol=1e-10)
        ts.append(time.perf_counter() - t)
    assert r.converged, model
    return float(np.median(ts)), r


class GCMProject:
    """The pieces of a GCMProject checkout used here (imported from ``path``, never copied)."""

    def __init__(self, path):
        sys.path.insert(0, os.path.abspath(path))
        from state_evolution.algorithms.state_evolution import StateEvolution
        from state_evolution.auxiliary import logistic_integrals
        from state_evolution.data_models.custom import Custom
        from state_evolution.models.l2_classification import L2Classification
        from state_evolution.models.logistic_regression import LogisticRegression
        from state_evolution.models.ridge_regression import RidgeRegression

        self.StateEvolution, self.Custom, self.logistic_integrals = StateEvolution, Custom, logistic_integrals
        self.tasks = {"ridge_regression": RidgeRegression, "l2_classification": L2Classification,
                      "logistic_regression": LogisticRegression}

    def model(self, data, task, alpha_p, reg):
        dm = self.Custom(**data["matrices"])
        return self.tasks[task](sample_complexity=alpha_p, regularisation=reg, data_model=dm)

    def run(self, model, tolerance, max_steps):
        se = self.StateEvolution(model=model, initialisation="uninformed", tolerance=tolerance, damping=0,
                                 max_steps=max_steps)
        se.iterate()
        return se.get_info()

    @contextlib.contextmanager
    def tight_integrals(self, tol=1e-13):
        """Their logistic integrals with an exact proximal operator and tight quadrature: a runtime
        substitution of two names in their module, restored after (their files are not changed).

        Their ``minimize_scalar`` (Brent on the Moreau objective) finds the minimiser only to
        ``~sqrt(eps)`` relative whatever its ``xtol`` (the objective is flat to rounding there); the
        substitute reads ``(y, omega, V)`` off their objective and solves its optimality condition
        ``x = omega + V y sigmoid(-y x)`` by ``brentq`` to rounding. ``quad`` gets ``epsabs = epsrel =
        tol`` (default 1.49e-8). Their formulas for the hats are kept as they are."""
        from scipy.integrate import quad
        from scipy.optimize import brentq
        from scipy.special import expit

        li = self.logistic_integrals
        saved = li.minimize_scalar, li.quad, li.moreau_loss
        seen = {}

        def record(x, y, omega, V):
            seen["args"] = (y, omega, V)
            return 0.0

        def exact_prox(f):
            li.moreau_loss = record  # their objective looks the name up when called
            try:
                f(0.0)
            finally:
                li.moreau_loss = saved[2]
            y, omega, V = seen["args"]
            # the root lies between omega and omega + V y; the condition has slope >= 1, so widening
            # the bracket by eps keeps its signs despite the rounding of omega + V y - omega
            eps = 1e-9 * (1.0 + abs(omega) + V)
            lo, hi = min(omega, omega + V * y) - eps, max(omega, omega + V * y) + eps
            return {"x": brentq(lambda x: x - omega - V * y * expit(-y * x), lo, hi, xtol=1e-300, rtol=8.9e-16)}

        li.minimize_scalar = exact_prox
        li.quad = lambda f, a, b: quad(f, a, b, epsabs=tol, epsrel=tol, limit=200)
        try:
            yield
        finally:
            li.minimize_scalar, li.quad, li.moreau_loss = saved


def _rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gcmproject", default=os.environ.get("GCMPROJECT"),
                    help="path of a GCMProject checkout (default: $GCMPROJECT)")
    ap.add_argument("--repeats", type=int, default=20, help="timed solves of ours per case")
    ap.add_argument("--their-runs", type=int, default=3, help="runs of theirs per square-loss case (logistic: 1)")
    ap.add_argument("--their-logistic-tol", type=float, default=1e-6,
                    help="their stopping tolerance for logistic (sum of |changes| of V, q, m)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "gcm_project.json"))
    args = ap.parse_args(argv)
    theirs = None
    if args.gcmproject:
        theirs = GCMProject(args.gcmproject)
    else:
        print(HOW_TO_GET)
    rows = []
    for name, kind, task, alpha_p, reg in CASES:
        data = data_model(kind)
        model = ours_model(kind, task, alpha_p, reg, data)
        t_ours, r = _time_ours(model, args.repeats)
        obs = model.observables(r.x)
        row = {"case": name, "kind": kind, "task": task, "alpha_p": alpha_p, "reg": reg, "ours_s": t_ours,
               "ours": {"m": obs["m"], "q": obs["q"], "V": obs["V"], "test_error": float(obs["gen_error"]),
                        "train_loss_their_convention": obs["train_loss"] * _TRAIN_LOSS_FACTOR[task]}}
        if kind == "rf":  # our d -> inf limit of the same random features: the 10 ms target, and finite size
            loss, channel = _OURS_LOSS[task]
            rf = GCMERM(features="random_features", activation=RF_ACTIVATION, p_over_d=RF_P / RF_D, loss=loss,
                        channel=channel, alpha=alpha_p * RF_P / RF_D, reg=reg)
            t_rf, r_rf = _time_ours(rf, args.repeats)
            row["ours_rf_limit_s"] = t_rf
            row["ours_rf_limit_test_error"] = float(rf.observables(r_rf.x)["gen_error"])
        if theirs is not None:
            logistic = task == "logistic_regression"
            tol = args.their_logistic_tol if logistic else 1e-12
            runs = 1 if logistic else max(1, args.their_runs)
            ts = []
            for _ in range(runs):
                with _one_blas_thread():  # as for ours: their diagonalisation of Omega is in the time
                    t = time.perf_counter()
                    mdl = theirs.model(data, task, alpha_p, reg)
                    info = theirs.run(mdl, tol, 1000 if not logistic else 300)
                    ts.append(time.perf_counter() - t)
            ov = info["overlaps"]
            th = {"m": float(ov["teacher_student"]), "q": float(ov["self_overlap"]), "V": float(ov["variance"]),
                  "test_error": float(info["test_error"]), "train_loss": float(info["train_loss"]),
                  "status": int(info["status"]), "iterations": int(info["convergence_time"]), "tolerance": tol}
            x = (obs["V"], obs["q"], obs["m"])
            res = np.array(mdl.update_se(*x), dtype=float)
            th["residual_at_ours"] = float(np.max(np.abs(res - x) / np.abs(x)))
            if logistic:
                with theirs.tight_integrals():
                    res = np.array(mdl.update_se(*x), dtype=float)
                th["residual_at_ours_tight"] = float(np.max(np.abs(res - x) / np.abs(x)))
            row["theirs"], row["theirs_s"] = th, float(np.mean(ts))
            row["max_rel_diff_mqV"] = max(_rel(row["ours"][k], th[k]) for k in ("m", "q", "V"))
            row["rel_diff_test_error"] = _rel(row["ours"]["test_error"], th["test_error"])
            row["rel_diff_train_loss"] = _rel(row["ours"]["train_loss_their_convention"], th["train_loss"])
        rows.append(row)
        _print_row(row)
    if theirs is not None:
        print(f"\n{'case':42s} {'ours (ms)':>9s} {'theirs (s)':>10s} {'ratio':>7s} {'m,q,V':>8s} {'test err':>8s} "
              f"{'residual':>8s}")
        for row in rows:
            res = row["theirs"].get("residual_at_ours_tight", row["theirs"]["residual_at_ours"])
            print(f"{row['case']:42s} {1e3 * row['ours_s']:9.2f} {row['theirs_s']:10.3f} "
                  f"{row['theirs_s'] / row['ours_s']:7.0f} {row['max_rel_diff_mqV']:8.1e} "
                  f"{row['rel_diff_test_error']:8.1e} {res:8.1e}")
        print("(relative differences of their fixed point from ours; residual: of their update map at our fixed "
              "point, logistic with their integrals made exact)")
    out = {"machine": platform.platform(), "python": platform.python_version(), "numpy": np.__version__,
           "gcmproject": args.gcmproject, "rows": rows}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)


def _print_row(row):
    o = row["ours"]
    line = f"{row['case']:42s} ours {1e3 * row['ours_s']:8.2f} ms  m={o['m']:.12g} q={o['q']:.12g} V={o['V']:.12g} " \
           f"test={o['test_error']:.12g}"
    print(line)
    if "ours_rf_limit_s" in row:
        gap = row["ours_rf_limit_test_error"] - o["test_error"]
        print(f"{'':42s} ours d->inf random features {1e3 * row['ours_rf_limit_s']:.2f} ms, test error "
              f"{row['ours_rf_limit_test_error']:.6g} (finite size: {gap:+.2e})")
    if "theirs" in row:
        t = row["theirs"]
        print(f"{'':42s} theirs {row['theirs_s']:8.3f} s ({t['iterations']} iterations, status {t['status']}, tol "
              f"{t['tolerance']:g})  ratio {row['theirs_s'] / row['ours_s']:,.0f}")
        print(f"{'':42s} m={t['m']:.12g} q={t['q']:.12g} V={t['V']:.12g} test={t['test_error']:.12g}")
        extra = f", with tight integrals {t['residual_at_ours_tight']:.1e}" if "residual_at_ours_tight" in t else ""
        print(f"{'':42s} max rel diff m,q,V {row['max_rel_diff_mqV']:.1e}; "
              f"test error {row['rel_diff_test_error']:.1e}; train loss {row['rel_diff_train_loss']:.1e}; "
              f"their map's residual at ours {t['residual_at_ours']:.1e}{extra}")


if __name__ == "__main__":
    main()

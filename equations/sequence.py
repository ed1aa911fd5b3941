"""Bayes-optimal sequence multi-index models and tied attention: state evolution and thresholds.

Model (Troiani, Cui, Dandi, Krzakala, Zdeborova, "Fundamental limits of learning in sequence
multi-index models and deep attention networks: high-dimensional asymptotics and sharp
thresholds", ICML 2025, arXiv 2502.00901). An input is a sequence of ``L`` tokens, ``X in
R^{d x L}`` with i.i.d. ``N(0, 1)`` entries, the teacher ``W* in R^{p x d}`` has i.i.d.
``N(0, 1)`` entries, ``alpha = n / d`` and the output is ``y = g(Z)``, ``Z = W* X / sqrt(d) in
R^{p x L}``. The columns of ``Z`` (the tokens) are i.i.d. ``N(0, I_p)``, so the model is a
multi-index model on the ``p L`` correlated Gaussians ``vec(Z)``: the estimate's columns all
share the ``p x p`` overlap ``Q = E[W* W_hat^T] / d``, its pre-activation estimates ``omega in
R^{p x L}`` have i.i.d. columns ``N(0, Q)``, and given them ``Z`` has i.i.d. columns ``N(omega_l,
V)``, ``V = I - Q``. The state evolution is that of :mod:`equations.multi_index` with the
channel's ``g_out in R^{p x L}`` summed over tokens (as in the paper and its code)::

    Q_hat = alpha E_{omega, y}[ sum_l g_l g_l^T ],     g = V^{-1} (E[Z | y, omega] - omega),
    Q     = Q_hat (I + Q_hat)^{-1}                     (Gaussian prior),
    phi   = -tr(Q Q_hat) / 2 + (tr Q_hat - log det(I + Q_hat)) / 2 + alpha Psi_out(Q),
    Psi_out(Q) = E_omega int dy Z_out(y; omega, V) log Z_out(y; omega, V).

Mapping to the paper: their ``D`` is our ``d``, their ``N / D`` our ``alpha``, their ``M`` our
``L``; their ``Q`` and ``Q_hat`` are ours (Gaussian prior, ``rho = I``).

Targets.

``attention`` (``p = 1``, ``L = 2``)
    A single tied softmax attention layer: ``y = softmax(z z^T)`` (row-wise softmax, inverse
    temperature 1, no ``1/sqrt`` factor: the paper's and its code's ``softmax(outer(z, z))``),
    ``z = w* X / sqrt(d) in R^L``, optionally with Gaussian noise of variance ``noise`` on each
    token's pre-activation (``z -> z + sqrt(noise) xi``, as the hidden-unit noise of the signs
    targets of :mod:`equations.targets`). The output reveals ``z`` up to one global sign: row
    ``i`` gives ``u_ij = z_i (z_j - z_i)``, so ``(z_i - z_j)^2 = -(u_ij + u_ji)`` and, for ``L =
    2``, ``z_1 = u_12 / (z_2 - z_1)``, ``z_2 = -u_21 / (z_2 - z_1)`` with ``z_2 - z_1 = +-sqrt(-(u_12 +
    u_21))``. The state evolution therefore is that of the observation ``{a, -a}``, ``a = z``.
``scores`` (``p = 1``, any ``1 <= L <= 8``)
    The attention scores themselves, ``y = z z^T``: the same information (``{z, -z}``) for any
    ``L``; at ``L = 1`` it is ``y = z^2``, i.e. noiseless real phase retrieval ``|z|`` (the
    ``abs`` channel of :mod:`equations.glm_bayes`), to which the state evolution reduces
    (tested to 1e-10).

For both, with ``V = 1 - Q + noise`` and ``a`` the observed representative::

    Z_out(a; omega, V) = (N(a; omega, V I) + N(-a; omega, V I)) / 2,
    g_out              = (a tanh(a.omega / V) - omega) / V,
    Psi_out            = -(L / 2) log(2 pi e V) + E[ log cosh x - x ],  x = a.omega / V,

(``E x = L Q / V`` exactly was used to cancel the ``1/V`` terms). By rotation invariance in
``R^L`` the averages reduce to two dimensions: ``omega = sqrt(Q) r e_1`` with ``r ~ chi_L`` and
``a = omega + sqrt(V) u``, of which only ``u_1`` enters ``x`` (the other ``L - 1`` components
contribute ``(L - 1) tanh(x)^2 / V`` to ``|g|^2`` in mean). Both averages are composite
Gauss-Legendre rules (10 nodes per panel, :func:`_sign_symmetric_se`): in ``r`` (the ``chi_L``
density, on ``[0, 13]``) with panels graded toward ``r = 0``, in ``u_1`` with panels graded
toward the point where ``x`` changes sign, whose posterior transition has width ``sqrt(V/Q) /
r`` in ``u_1``: a plain Gauss-Hermite rule misses it once ``V`` is small (3e-3 relative at ``V =
0.1``). Measured: ``Q_hat`` and ``Psi_out`` agree with 20 nodes per panel to 1e-14 relative for
``V`` from 1 down to ``1e-9``, with a Monte Carlo in the full ``R^L`` coordinates within its
error bars, and with the ``abs`` channel of :mod:`equations.glm_bayes` at ``L = 1`` to 1e-10.

Linearisation at ``Q = 0``: ``G(y) = E[z z^T | y] - I = (a a^T - (1 + noise) I) / (1 + noise)^2``
and ``E ||G||_F^2 = (L^2 + L) / (1 + noise)^2``, so ``Q = 0`` loses stability at ``alpha_c = (1 +
noise)^2 / (L^2 + L)`` (``1/2`` at ``L = 1``: phase retrieval; ``1/6`` at ``L = 2``). Since
``E ||E[zz^T|y] - I||^2 <= E ||z z^T - I||^2 = L^2 + L`` (Jensen), ``1 / (L^2 + L)`` is the smallest
weak-learnability threshold of any sequence target with ``p = 1`` block per layer, and the
``attention`` target reaches it. Noiseless labels make perfect recovery ``Q = 1`` a fixed point
(``Q_hat = inf``), attracting for ``alpha > 1 / L`` (each sample gives ``L`` real equations);
the free entropy diverges there like ``((alpha L - 1) / 2) log(1 / (1 - Q))``
(:meth:`SequenceMultiIndex.free_entropy_divergence`), as for noiseless continuous channels of
:mod:`equations.glm_bayes`. At ``L = 1`` (phase retrieval) the uninformed branch jumps to it only
at the algorithmic threshold ``alpha = 1.12847`` (Barbier, Krzakala, Macris, Miolane, Zdeborova,
PNAS 2019: 1.13); at ``L = 2`` (``attention``) the uninformed branch reaches ``Q = 1``
continuously at ``alpha = 1/2`` (``1 - Q ~ 4.46 (1/2 - alpha)``, both starts agreeing below): no
hard phase for perfect recovery.

``deep_attention`` (``p = 2``, ``L = 2``): layer thresholds (:func:`layer_thresholds`, :func:`deep_staircase`) and the full map (three digits)
    Two tied attention layers with a skip connection of strength ``c`` (``skip``), the paper's
    Sec. 4 and its code ``BO_2w.py``: ``A(z) = softmax(z z^T) + c I``, ``y = softmax(h h^T)``,
    ``h = A(z_1) z_2`` (``z_1``, ``z_2`` the rows of ``Z``: the pre-activations of layer 1 and
    layer 2), no temperature and no ``1/sqrt`` factors. As for one layer, ``y`` reveals ``h``
    up to its sign, and ``z_2 = A(z_1)^{-1} h``. For ``L = 2``, ``A(z_1) = [[1 - s_1 + c, s_1],
    [s_2, 1 - s_2 + c]]`` with ``s_1 = sigma(z_11 (z_12 - z_11))``, ``s_2 = sigma(z_12 (z_11 -
    z_12))``; ``s_1 + s_2 <= 1``, so ``det A = (1 + c)(1 + c - s_1 - s_2) >= c (1 + c) > 0`` for
    ``c > 0`` (``c = 0`` is singular on ``z_11 = z_12``; ``c`` in ``[1e-4, 10]`` is accepted,
    below ``c = 0.5`` on graded rules: "Small skips" below). The observation law given
    ``z_1`` is then ``p(h | z_1) = N(A(z_1)^{-1} h; 0, I) / |det A(z_1)|``.

    The map ``y`` is invariant under ``z_1 -> -z_1`` and under ``z_2 -> -z_2`` separately, so
    ``E[Z | y] = 0`` (``Q = 0`` is a fixed point), ``G(y)`` is block-diagonal between the layers
    and the linearised operator ``M -> E_y[sum_l (G (M x I_L) G)_{ll}]`` is diagonal in the
    entries of ``M``: ``Q_11``, ``Q_22`` and ``Q_12`` grow, independently, at::

        alpha^(0)_k = 1 / E_h ||E[z_k z_k^T | h] - I_L||_F^2   (k = 1, 2),
        alpha_12    = 1 / E_h tr( G_11 G_22 ) >= min(alpha^(0)_1, alpha^(0)_2)  (Cauchy-Schwarz).

    The second layer leaves zero first: at ``c = 1``, ``alpha_2 = 0.185478`` against
    ``alpha^(0)_1 = 6.15694`` (``alpha_12 = 1.46412``); ``alpha_2`` decreases with ``c`` to
    ``1/6`` (``c = 10``: 0.167126; a strong skip makes ``h ~ c z_2``, which reveals ``z_2`` up to
    its sign like one layer), ``alpha^(0)_1`` grows (3.0553 at ``c = 0.5``, 54.030 at ``c = 4``).
    (A non-zero ``Q_12`` needs ``Q_12^2 <= Q_11 Q_22``: ``alpha_12`` is not the threshold of a
    feasible direction.) Once ``Q_22 = q > 0`` the subspace ``Q_11 = Q_12 = 0`` is still
    invariant (the ``z_1 -> -z_1`` symmetry), and ``Q_11`` grows where the same linearisation,
    now with the channel of ``z_1`` given ``(h, omega_2)``, reaches one along the branch
    ("grand staircase", Troiani, Dandi, Defilippis, Zdeborova, Loureiro, Krzakala 2024)::

        alpha K_1(q*(alpha)) = 1,    K_1(q) = E_{omega_2, h} ||E[z_1 z_1^T | h, omega_2] - I_L||_F^2,

    ``q*(alpha)`` the fixed point of the sub-branch map ``q -> alpha K_2 / (1 + alpha K_2)``,
    ``K_2(q) = E |g_2|^2``.

    The ``Q_12`` direction. On the branch the map is odd in ``Q_12`` (``z_1 -> -z_1`` flips it and
    leaves ``Q_11``, ``Q_22``) and ``Q_11' = 0`` on the subspace, so its Jacobian in ``(Q_11,
    Q_12, Q_22)`` is triangular, with the eigenvalues ``alpha K_1`` (``Q_11``), the sub-branch's
    own slope (``Q_22``) and ``lambda_12 = alpha (1 - q) K_12`` (``Q_12``: ``Q = Q_hat (I +
    Q_hat)^{-1}`` turns ``Q_hat_12`` into ``Q_hat_12 / (1 + q_hat) = (1 - q) Q_hat_12``). A
    covariance needs ``Q_12^2 <= Q_11 Q_22``, so ``Q_12 = delta`` comes with ``Q_11 >= delta^2 /
    q``: the pair ``(Q_11, Q_12^2)`` has the rates ``alpha K_1`` and ``lambda_12^2``. Linear
    response at fixed ``(y, omega)``, with ``omega_1 = delta nu``: ``(V^{-1})_12 = delta / v +
    O(delta^2)`` (``v = 1 - q``) tilts the posterior by ``exp(-(delta / v) sum_l z_1l (z_2l -
    omega_2l))`` and adds ``(delta / v) (E z_2 - omega_2)`` to ``g_1``; the shift of ``omega_1``
    adds ``G nu``, and ``E[nu | y, omega_2] = omega_2 / q`` (``omega_1 | omega_2 ~ N(delta
    omega_2 / q, .)``, independent of ``y`` at ``delta = 0``); the change of the law of ``y``
    multiplies ``g_1 = 0`` and drops out::

        K_12 = E[ e.(E[z_2 | y, omega_2] - T) + e.G omega_2 / q ] / v^2,
        e = E[z_2 | y, omega_2] - omega_2,   T_l = sum_m E[z_1l z_1m z_2m | y, omega_2],

    ``G = E[z_1 z_1^T | y, omega_2] - I``. ``K_12 -> F_12`` as ``q -> 0`` (tested to 5e-3 against
    the ``h`` route) and ``K_12 = 0`` if ``y`` does not depend on ``z_1`` (``G = 0``, ``T = E
    z_2``). At ``c = 1`` ``lambda_12`` is 0.127 at ``q -> 0`` (``alpha_2 F_12``), 0.065 at ``q =
    0.6`` and 0.022 at the staircase root: far below one all along the branch, so ``Q_11`` loses
    stability first and the staircase threshold below is that of ``Q_11``. (Tested: the formula
    against central differences of the map with the layers coupled through ``V_12 != 0`` and
    ``omega_1 != 0``, per teacher sample, to 1e-5.)

    :func:`deep_subbranch` computes ``(K_1, K_2)`` (and ``K_12``); at ``c = 1`` it
    reproduces the authors' Monte-Carlo ``Q_22`` (``data/BO_2w.csv``: 0.4988 at ``alpha = 0.4``,
    0.898 at 0.5667 and 0.9641 at 0.7; ours ``q = 0.5`` at ``alpha = 0.40464``, ``q = 0.898`` at
    0.57326 and ``q = 0.9641`` at 0.68060, the teacher route with its default rules).

    The staircase root lies at ``q* = 0.97365`` (``alpha K_1 = 0.36`` still at ``q = 0.9``), where
    ``V_22 = 1 - q`` is small: the posterior of ``z_1`` is then narrow, and the density of ``h``
    given ``omega_2`` is a triangle (``h = A(s) omega_2``, ``s`` in the simplex of the two softmax
    weights) blurred on the scale ``sqrt(1 - q) (1 + c)``, which the tensor rule in ``h`` misses
    (its ``K_2`` is 1-3% off at ``q = 0.9``). :func:`deep_staircase` therefore averages over the
    teacher ``(z_1*, z_2*)`` and ``eta`` (``omega_2 = q z_2* + sqrt(q (1 - q)) eta``) instead,
    with the rule in ``z_2*`` graded toward ``z_21* = z_22*`` (where ``h`` stops depending on
    ``s``) and ``z_2* = 0`` (where the sign of ``z_2`` becomes ambiguous), the Nishimori forms
    ``K_1 = E tr(G (z_1* z_1*^T - I))``, ``K_2 = (2 - E tr Cov(z_2 | y, omega_2) / V_22) / V_22``
    (which vary less over the teacher than ``E ||G||^2`` and ``E |g_2|^2``) and a root search in
    ``q`` with coarse rules followed by one evaluation of the fine rules and a step to their root
    (:func:`deep_staircase`). The teacher's ``z_1*`` enters only through the two softmax weights
    ``s`` of ``A(z_1*)``, and as a function of ``s`` the outer integrand is smooth, while in
    ``z_1*`` it has transition layers along ``z_11* = 0``, ``z_12* = 0`` and ``z_11* = z_12*`` of
    width ``~ 1 / |z_1*|`` that a tensor Gauss-Hermite rule aliases (up to 5e-4 in the growth
    rate between 24 and 64 nodes per axis, not monotonically): the outer rule in ``z_1*`` is
    therefore a tensor Gauss-Legendre rule in two coordinates of the simplex of ``s``, weighted by
    the exact density of ``s`` (:mod:`equations._softmax_rule`; since 2026-12-01). At ``c = 1``,
    default rules (16 nodes per coordinate of ``s``, 6 Gauss-Legendre nodes per panel in ``z_2*``,
    6 per axis in ``eta``, 64 per axis in the inner ``z_1``): ``alpha_1 = 0.71965`` at ``q* =
    0.97365``, ``lambda_12 = 0.022`` there; the direct forms give 0.71954. Refining every rule at
    once (24 / 8 / 6 / 96): 0.719641, the direct forms 0.719631; 8 ``eta`` nodes per axis:
    0.719644. Convergence at ``q = 0.97``
    (change of the growth rate ``alpha_q K_1``, Nishimori forms, when one rule of 16 / 6 / 4 / 64
    is refined): outer ``s`` 16 -> 24 nodes +2.6e-5 (12: +1.2e-4 from 16; the former Gauss-Hermite
    rule with 24 nodes per axis was 4.7e-4 high); inner ``z_1`` 64 -> 96 +2.6e-5; ``z_2*`` 6 -> 8
    nodes per panel +2e-5; ``eta`` 4 -> 6 nodes +1e-4 (the direct forms move 6e-4 and then agree
    with the Nishimori ones to 1e-4: the ``eta`` rule was their main error). A change of the
    growth rate moves ``alpha_1`` by about a fifth of it; the one-step root carries 1.4e-5 from the
    coarse derivatives (``refine=True``). So ``alpha_1 = 0.71965 +- 3e-5`` at ``c = 1``: four
    digits (the former outer rule gave 0.71941, inside its stated ``+-3e-4``; 4 ``eta`` nodes per
    axis give 0.71961). Cost at ``c = 1`` on two idle cores: about 8 s of wall time (13 s of
    CPU, 10 evaluations; 41 s before the kernel skipped the inner
    nodes of negligible weight and took its own vectorised ``exp``, and before the rule in ``z_2*``
    tapered its far panels, 2026-12-01; 15 s and 27 s before the skip weighed each node by the
    ``eta`` weights, and about 14 s before it skipped below ``exp(-16)`` instead of ``exp(-25)``,
    2026-12-02; since 2026-12-03 the posterior sums run in single precision, about twice as fast per
    teacher pair, and since 2026-12-04 the search for the bracket starts next to the root, 8
    evaluations: ``benchmarks/README.md``), ``alpha_2`` 0.3 s. The old way (Brent's method on
    the fine rules, one thread) takes about eight fine evaluations.

    Other skip strengths. ``alpha_2`` and ``alpha^(0)_1`` (:func:`deep_linearisation`, default
    rules: six digits, graded rules below ``c = 0.5``, "Small skips" below) and the staircase
    ``alpha_1`` (:func:`deep_staircase`; the table ``notebooks/deep_attention_thresholds.json`` and
    the script ``notebooks/_deep_attention_table.py`` that writes it hold more ``c``)::

        c       alpha_2     alpha^(0)_1   alpha_1 (staircase)   q*        lambda_12 at q*
        0       0.276555    1.12714       (limit c -> 0, above)
        0.0001  0.276094    1.12747       0.75846               0.75571   -0.027
        0.001   0.274828    1.13038       0.75519               0.75981   -0.024
        0.005   0.271838    1.14306       0.74940               0.76927   -0.020
        0.01    0.269137    1.15861       0.74541               0.77766   -0.016
        0.1     0.243555    1.43818       0.72580               0.85233   -0.004
        0.25    0.221940    1.96357       0.72009               0.90568   0.001
        0.5     0.202712    3.05534       0.71897               0.94477   0.010
        1       0.185478    6.15694       0.71965               0.97365   0.022
        2       0.174270    16.4131       0.72052               0.98975   0.033
        4       0.169136    54.0301       0.72093               0.99663   0.041

    Accuracy of ``alpha_1``: ``+-3e-5`` at ``c = 1`` (measured rule by rule, above) and at ``c =
    0.01`` and at ``c = 1e-4`` (below: "The accuracy at small c"). The other
    rows are the default rules too (``notebooks/_deep_attention_table.py``;
    wall time on two cores, 2026-12-04, one run each, times varying by 10-20% from run to run: 8 to
    9 s for ``c >= 0.5``, about 20 s at ``c = 0.25`` and 0.1, 34 s at ``c = 0.01``, 37 to 42 s at
    ``5e-3``, 32 to 41 s at ``2e-3``, 38 s at ``1e-3`` and 44 to 52 s at ``1e-4``, with the lighter
    rules in ``z_2*`` below ``c = 0.01`` (:data:`_STAIR_LIGHT_Z2`; 61, 70, 75 and 84 s without them,
    and 142 s at ``1e-4`` on 2026-12-02, before the kernel summed in single precision); below ``c =
    0.5`` the inner rule in
    ``z_1`` is the graded one and ``eta`` has 8 nodes per axis, and the outer rule has ``(12, 16)``
    nodes in ``(zeta, a)`` for ``0.1 <= c < 0.5``, 16 per coordinate for ``0.01 <= c < 0.1`` and 20
    below, each measured against finer ones: the comment of ``_STAIR_OUTER``).
    There the direct forms depart from the Nishimori ones by 1.3e-5 to 2.3e-5 (up to 3e-4 before the
    corrections below). The rule in ``z_2*`` with 8 nodes per panel instead of 6 (``n_gl=8``) moves
    ``alpha_1`` by +2.1e-5 at ``c = 0.25`` (0.720116), +8.9e-6 at ``c = 0.1``, +8.8e-7 at ``c =
    0.01`` (2026-12-02; at ``c = 1`` about +4e-6, from the growth rate's +2e-5 above): at ``c =
    0.25`` that rule's error takes most of the ``+-3e-5``.
    At ``c = 0.1`` (with the inner rules before the corrections below): 24 outer nodes per
    coordinate moved ``alpha_1`` by -3e-6; 6 ``eta`` nodes per axis instead of 8 by -7.3e-5, with
    the direct forms 8e-5 away; with 8 they agreed to 1e-5. There the ``eta`` rule, whose scale
    ``sqrt(q (1 - q))`` is twice that at ``c = 1``, was the main error, and the departure of the
    direct forms from the Nishimori ones measured it; at ``c = 1`` that departure is the direct
    forms' own error (1.1e-4, against 1e-5 for the Nishimori forms).

    Two inner rules corrected (2026-12-02). Below ``c = 0.5`` the node averages of the
    outer rule (one per teacher ``z_1*``) were rough, and each outer rule sampled that roughness
    differently: at ``c = 1e-4``, 16, 20, 24 and 32 outer nodes per coordinate gave 0.75864,
    0.75834, 0.75851, 0.75862, and composite outer rules (panels at the integrand's knees)
    0.75854 to 0.75858, all with a common bias. Measured at single teacher nodes (``c = 1e-4``, ``q
    = 0.753``, ``K_2^N`` against refined rules):

    - the rule in ``z_2*``: at teacher nodes off their singular line (``g* = 1 - s_1* - s_2* >>
      c``), ``h_1 - h_2 = -sqrt 2 (c + g*) D`` and a student ``z_1`` near its own singular line stays
      plausible while ``|h_1 - h_2| <~ c``: a feature at ``D ~ c / g*``, which the first panel
      (0.2) missed by 1.5e-3 at ``g* = 0.01-0.03``, 1.5e-4 at 0.1. The ``D`` axis is now graded
      down to ``2 c / (c + g*)`` for each teacher node (:func:`_z2_levels`; 2e-6);
    - the inner rule in ``delta``: 4 Gauss-Legendre nodes per panel were 1.6e-3 off, node to node
      of either sign; now 6 (7e-5; 8: 1e-6).

    Each moved ``alpha_1(1e-4)`` by about -5e-5. With both, 12, 16, 20 and 24 outer nodes per
    coordinate give 0.75830, 0.75854, 0.75846, 0.75847 (the direct forms 0.75861, 0.75850,
    0.75848, 0.75850), and every inner rule refined at once (12 ``eta`` nodes per axis, 96 in ``mu``,
    9 per panel in ``delta``; 20 outer) gives 0.758480, the direct forms 0.758478 (891 s), and the
    outer rule is 20 nodes per coordinate below ``c = 0.01`` (16 leave 7e-5 at ``c = 1e-4``; fewer
    nodes from ``c = 0.01`` on, since 2026-12-02); the composite rule with 6 nodes
    per panel now gives 0.75856 (direct 0.75877), worse than the tensor rules. At ``c >= 0.5`` the
    inner rule is the tensor one and every level is 0: those rows are unchanged, bit for bit.
    Before the outer rule in softmax coordinates (2026-12-01) the table held a tensor Gauss-Hermite
    rule in ``z_1*`` (graded below ``c = 0.5``) and lighter rules below ``c = 0.5``: 0.71941 at ``c
    = 1``, 8e-4 low at ``c = 0.1`` and 1.4e-3 low at ``c = 1e-4``.

    The accuracy at small ``c`` (measured 2026-12-02 in two later sessions). With the default inner
    rules, 32 outer nodes per coordinate gave ``alpha_1(1e-4) = 0.75857``, 1.1e-4 above the
    default's 0.75846, and for a while ``+-1e-4`` was stated. The scatter came from the inner rule
    in ``mu``, sampled differently by each outer rule, not from the outer rule:

    - The inner rule in ``mu`` (64 Gauss-Hermite nodes, spacing about 0.28) aliases where the
      student's posterior lies on the edge branch (``delta >~ 1``, ``s`` near a vertex): there the
      likelihood changes with ``log(c + g)``, on the scale ``~ 1 / delta`` in ``mu``. Against a
      composite rule in ``mu`` (panels of width ``0.75 / max(1, delta)``, 4 nodes each, out to
      ``mu^2 + delta^2 / 4 = 40``: converged to 1e-6, at 3.5 to 4 times the cost) single node
      averages at ``c = 1e-4``, ``q = 0.7557`` are off by up to 1.7e-2 (``G``) and 1.3e-2
      (``K_2^N``), at teachers with mass too (``|z_1*| = 3.8``), and at ``c = 0.01`` by up to
      3.6e-3 and 6.5e-3 (an earlier text said 1e-6 at the nodes with mass: that holds only where
      the posterior lies in the band). Along a line of fixed ``a`` near an edge these errors
      alternate in sign from node to node, while the converged node averages are smooth.
    - The errors mostly cancel at a given outer rule: the composite inner rule moves
      ``alpha_1(1e-4)`` by +9e-6 at 20 outer nodes, -1.0e-5 at 16, and ``alpha_1(0.01)`` by 5e-7 at
      16. But they do not cancel at every outer rule: with the composite inner rule, 16, 24 and 32
      outer nodes per coordinate give ``alpha_1(1e-4)`` 5.9e-5, 1.2e-5 and 1.2e-5 above 20 nodes
      (24 and 32 agree to 1e-6), where the default inner rule gave 8e-5, 1e-5 and 1.1e-4: the
      32-node value 0.75857 (and the composite outer rule's 0.75856 above) was the inner rule's
      error.

    (Each shift: the node sums at ``q = 0.7557`` with both rules, turned into a shift of the root
    with the coarse rules' slopes of ``alpha_q`` and of the growth rate in ``q``.) So
    ``alpha_1(1e-4) = 0.75848``: the default 0.758460 plus 9e-6 (inner) plus 1.2e-5 (outer),
    in agreement with every inner rule refined at once above (0.758480). The default rules are
    2.1e-5 low: ``+-3e-5`` holds at ``c = 1e-4`` as at ``c = 0.01`` (there 16, 20, 24 and 32 outer
    nodes give 0.745407, 0.745404, 0.745421, 0.745409). Since 2026-12-04 the rule in ``z_2*`` is
    lighter below ``c = 0.01`` (:data:`_STAIR_LIGHT_Z2`): at ``c = 1e-4`` it moves ``alpha_1`` by
    +2.5e-6 with 20 outer nodes per coordinate (0.7584626) and with 24 (0.7584696 against
    0.7584670), so the defaults are now 1.8e-5 low there. Two outer rules tried on the way and not
    taken: least squares on the nodes with mass (ill-conditioned: condition numbers 1e6 to 1e17,
    sums of ``|w|`` up to 6e4), and a rule confined to the support (``a`` within the range where
    ``|z_1*| <= 8`` at each ``zeta``), which made smooth functions of ``s`` less polynomial (7e-5
    against 1e-9 on the test integrand of ``tests/equations/test_softmax_rule.py``).
    Three cheaper routes measured at ``c = 1e-4``, ``q = 0.7557`` (2026-12-03) and not taken. (1)
    The ``mu`` axis of the rule in ``z_2*`` on a Gauss rule of the half-normal weight (the integrand
    shows no kink at ``mu = 0`` on a grid of step 0.05): with 8, 12, 16, 24 and 32 nodes instead of
    the 36 graded ones, ``K_2^N`` is 4.07366, 4.07583, 4.07717, 4.07832 and 4.07859 against 4.07847,
    and the growth rate is off by 1e-3, 6e-4, 3e-4, 4e-5 and -3e-5: it converges only algebraically
    (along single lines of fixed ``D``, ``K_2^N`` with 24 nodes is 3e-4 to 3.5e-3 off where the
    default is 1e-5 to 1e-4 from panels 0.05 wide). (2) The outer average over ``(h, omega_2)``
    instead of the teacher, ``h`` on :func:`_h_rule_graded`, ``omega_2`` on a tensor Gauss-Hermite
    rule whose nodes share the posterior sums as the ``eta`` nodes do: 20 to 40 s a point, but
    ``K_2`` is 1% to 2% off (4.1636, 4.1089 and 4.1868 with 32 / 12, 32 / 16 and 64 / 12 nodes in
    ``g`` / ``omega_2``, against 4.0785), the slow convergence in ``omega_2`` of route ``"h"`` of
    :func:`deep_subbranch`. (3) An inner rule in the student's softmax weights placed by the
    observation: for ``h_2 > h_1``, ``z_2 = A(s)^{-1} h = h / (1 + c) + r^2 (-a, 1 - a)`` with ``a =
    s_1 / (s_1 + s_2)`` and ``r^2 = (h_2 - h_1)(s_1 + s_2) / ((1 + c)(1 + c - s_1 - s_2))``, and the
    posterior of ``z_1`` given ``(h, omega_2)`` has, in ``z_2``, the weight ``N(z_2; omega_2, v)
    rho(s) / (z_22 - z_21)^2`` (``det A`` cancels; ``rho`` the density of ``s``,
    :mod:`equations._softmax_rule`) on a right triangle whose legs (``s_1 = 0``, ``s_2 = 0``) meet
    at ``h / (1 + c)`` and whose hypotenuse ``z_22 - z_21 = (h_2 - h_1) / c`` is the singular line
    ``s_1 + s_2 = 1`` (the posterior averages agree with the grid in ``z_1`` refined twice, to 1e-6
    at one observation, and converge toward it at others). A tensor rule in ``(r, arccos a^{1/2})``
    over the Gaussian's footprint converged only algebraically (6400 nodes 4e-4 off in
    ``E[z_11^2]``, 32 640 nodes 8e-5, at a teacher with ``s*`` near the corner ``s = 0``): ``rho``
    is singular at the legs, the corner and the hypotenuse, which such a rule must grade toward as
    the grid in ``z_1`` does.

    ``alpha_2`` decreases with ``c`` over the whole range (to 1/6 as ``c -> inf``, to 0.276555 as
    ``c -> 0``); ``alpha_1`` barely depends on ``c`` for ``c >= 0.5`` (0.72) and rises a little at
    small skips (0.726 at ``c = 0.1``, 0.745 at 0.01, 0.758 at 1e-4), where the root ``q*`` moves
    down to 0.76; the ``Q_12`` rate stays far below one (it changes sign at small ``c``).

    Small skips. ``det A = (1 + c)(c + 1 - s_1 - s_2)`` with ``1 - s_1 - s_2 = sinh(delta^2 / 2) / (2
    cosh(u_1 / 2) cosh(u_2 / 2)) = delta^2 / 4 + O(delta^4)``, ``delta = z_12 - z_11``, ``u_1 = z_11
    delta``, ``u_2 = -z_12 delta`` (computed so, without the cancellation of ``1 - s_1 - s_2``). In
    the band ``|delta| <~ 2 sqrt(c)`` around the line ``z_11 = z_12``, ``A ~ 1 1^T / 2 + c I`` maps
    almost everything onto ``h_1 = h_2``: ``h_1 - h_2 = (det A / (1 + c)) (z_21 - z_22)``. So the
    posterior weight ``N(A^{-1} h; 0, I) / |det A|`` of ``z_1`` varies on the scale ``sqrt(c)`` (and
    ``sqrt|h_1 - h_2|``) in ``delta``, and the density of ``e = h_1 - h_2`` has a spike of width ``~
    c`` and mass ``~ sqrt(c)`` at 0 (``|e|^{-1/2}`` at ``c = 0``); tensor Gauss-Hermite rules in
    ``z_1`` and ``h`` miss both. Below ``c = 0.5`` the rules are graded instead: ``z_1`` (inner, and
    the teacher's ``z_1*`` of the teacher routes) in ``(delta >= 0, mu = (z_11 + z_12) / 2)``,
    composite Gauss-Legendre panels in ``delta`` from the width ``0.1 sqrt(c)`` doubling to 1,
    Gauss-Hermite in ``mu`` (:func:`_z1_grid_graded`); ``h`` in ``(e >= 0, g = h_1 + h_2)``, panels
    in ``e`` from ``0.1 c``, Gauss-Hermite in ``g`` (:func:`_h_rule_graded`). Measured for
    ``alpha_2`` and ``alpha^(0)_1``: against the rules refined by half (96 nodes) 2e-8 for ``c`` in
    ``[1e-4, 0.25]``; the inner posterior against nested adaptive quadrature (scipy) on the ridge
    ``h_1 = h_2`` to 1e-10; ``alpha_2`` at ``c = 1e-3`` against adaptive quadrature over ``h``
    (scipy ``quad``, 32 inner nodes) to 1e-6; the teacher route on graded rules (16 nodes in
    ``mu*``, 32 in ``mu``) to 7.6e-5 at ``c = 0.01`` (0.269158 against 0.269137) and 1.3e-4 at ``c =
    1e-4`` (0.276130 against 0.276094); at ``c = 0.5`` and 1 the graded rules converge to 1e-14 and
    agree with the tensor rules to 1.6e-7 and 1.5e-8 (``alpha_2(0.5) = 0.20271184``, the tensor
    rule's 0.20271188 the less accurate one).

    The limit ``c -> 0``. At ``c = 0``, ``A = softmax(z_1 z_1^T)`` is singular only on the null set
    ``z_11 = z_12``, so ``z_2 = A^{-1} h`` is still determined by ``(z_1, h)`` almost surely and the
    thresholds have a limit, computed on the graded rules at ``c = 0`` (64 nodes, panels from 1e-12
    in ``e`` and 1e-6 in ``delta``: ``int p(h) dh = 1 - 3e-7``, and 0.2765551 against 0.2765553 with
    panels from 1e-10 and 1e-5): ``alpha_2(0) = 0.276555``, ``alpha^(0)_1(0) = 1.12714``. The
    approach is like ``sqrt(c)``: ``alpha_2(0) - alpha_2(c) = 0.042 sqrt(c) + 0.4 c + ...`` (fitted
    to ``c = 1e-4, 1e-3``; it predicts ``c = 3e-4`` to 1%), the probability of the band where ``det
    A ~ c``.

Published thresholds. The authors' ``data/alpha_critical.csv`` lists, at ``c = 1``, ``alpha_1 =
0.7936`` and ``alpha_2 = 0.1436``. The latter violates the Jensen bound ``alpha_2 >= 1/6`` of
this very state evolution; ours is ``0.185478`` (the rule in ``h`` converged to 2e-8, 64
against 96 nodes per axis; the nonlinear map's departure from zero, :func:`deep_subbranch` at
``q = 1e-6``, agrees to 5e-6; the outer average over the teacher instead of ``h`` to 3e-5), and the
authors' own state-evolution points (``data/BO_2w.csv``: ``Q_22`` rising linearly from about
0.18) agree with ours, not with the file. Their ``alpha_1`` is the staircase threshold on the
``Q_22`` branch (their ``Q_11`` is 0 at ``alpha = 0.80`` and 0.19 at ``0.833``), not
``alpha^(0)_1``; ours (:func:`deep_staircase`) is 0.71965, 9% lower. Their state evolution
regularises ``V -> V + 1e-3 I`` (``BO_2w.py``), 3% of ``V_22`` at ``q = 0.97``: it lowers ``K_2``
and moves the sub-branch by about that much (their ``Q_22 = 0.9736`` at ``alpha = 0.7333``; ours
``q = 0.9735`` at 0.7189), and near the threshold the growth rate of ``Q_11`` is close to one, so
that a damped Monte-Carlo iteration of finite length leaves ``Q_11`` at its noise level beyond
``alpha_1``; we have not reproduced their value. Over ``c`` the same file lists ``(alpha_1,
alpha_2)`` = (0.3183, 0.1954) at ``c = 1e-4``, (0.3325, 0.1894) at 0.01, (0.4225, 0.1914) at 0.1,
(0.7552, 0.1864) at 0.5 and (0.1963, 0.0827) at 4: its ``alpha_2`` is non-monotone and below the
Jensen bound 1/6 at ``c = 4``, ours decreases from 0.2761 to 0.1691 (table above); its ``alpha_1``
drops toward ``alpha_2`` at small ``c`` while our staircase threshold stays near 0.72-0.76 (at ``c
= 0.01`` the growth rate of ``Q_11`` along our sub-branch is, on coarse rules, 0.41 at ``q =
0.3``, 0.57 at 0.5 and crosses one only at ``q* = 0.78``).

The full state evolution (all of ``Q``, 2 x 2) is :func:`deep_state_evolution`: quasi-Monte Carlo
over the teacher's ``(Z*, omega)`` (8 coordinates) with a Gauss-Hermite rule in ``z_1`` inside,
deterministic for a given seed, three digits at best (0.17% scatter over seeds with ``2^14``
points, about a second): the posterior averages vary over the teacher by about their own size,
so four digits would need some ``10^8`` points, and tensor rules over the 6 to 8 outer
dimensions cost minutes per evaluation. The registered target (``equations.get("sequence_multi_index",
target="deep_attention", skip=c, alpha=...)``, :class:`_DeepAttentionSE`) iterates this map and
says so: its fixed points carry three digits, its thresholds by their own rules (:func:`deep_linearisation`,
:func:`deep_staircase`, through :func:`layer_thresholds`) four or more. As an independent integrator it checks the
sub-branch routes: at ``q = 0.5`` it gave ``K_2 = 2.4718 +- 0.0018`` where both routes then gave
2.4875-2.4887, 0.7% high from their coarse rules in ``omega_2`` (:func:`deep_subbranch`, now 2.4710
with 8 ``eta`` nodes per axis). Finite instances: Bayes-optimal GAMP, :meth:`DeepAttention.simulate`
(:mod:`equations._simulate.gamp_deep_attention`), follows the sub-branch (``Q_22`` on
:func:`deep_subbranch`'s curve, ``Q_11`` at its noise level below the staircase ``alpha_1``) and
learns the first layer past ``alpha_1``. The positional / semantic dot-product attention of Cui, Behrens, Krzakala, Zdeborova
(NeurIPS 2024), an empirical-risk model, is :mod:`equations.attention` (``dot_product_attention``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from fixedpoint._jit import njit_compiled

from fixedpoint.matrices import pack, psd_violation, sym_names, unpack

from ._registry import parameter_table, register
from ._softmax_rule import softmax_rule
from .glm_bayes import _real

__all__ = ["SequenceMultiIndex", "DeepAttention", "layer_thresholds", "deep_linearisation", "deep_subbranch",
           "deep_staircase", "deep_state_evolution"]

_TARGETS = ("attention", "scores", "deep_attention")
#: sequence lengths accepted per target (attention: the softmax inversion and label MSE of L = 2)
_LENGTHS = {"attention": (2,), "scores": tuple(range(1, 9)), "deep_attention": (2,)}
_L_ALLOWED = tuple(sorted(set().union(*_LENGTHS.values())))
#: uninformed start Q = _EPS_UNINFORMED, informed 1 - _EPS_INFORMED (as multi_index)
_EPS_UNINFORMED = 1e-6
_EPS_INFORMED = 1e-6
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: Gauss-Legendre order per panel of the graded rules
_N_GL = 10
#: Gauss-Hermite nodes per axis of the attention label MSE (measured against 120: 6e-7 relative at
#: Q = 0, where the softmax's argument z_1 (z_2 - z_1) varies most over the rule; 1e-9 at Q >= 0.5)
_N_MSE = 64
#: V below this is perfect recovery (Q_hat = inf)
_V_ZERO = 1e-300


# ----------------------------------------------------------------------------- one layer


@functools.lru_cache(maxsize=4)
def _unit_legendre(n: int):
    """Gauss-Legendre rule on ``[0, 1]``."""
    x, w = np.polynomial.legendre.leggauss(n)
    x = 0.5 * (x + 1.0)
    w = 0.5 * w
    x.flags.writeable = False
    w.flags.writeable = False
    return x, w


@functools.lru_cache(maxsize=4)
def _hermite_rule(n: int):
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    x.flags.writeable = False
    w.flags.writeable = False
    return x, w


@njit_compiled(cache=True)
def _log1pexp_neg2(x):
    """``log cosh x - x + log 2 = log(1 + exp(-2 x))``, stable for every ``x``."""
    if x >= 0.0:
        return math.log1p(math.exp(-2.0 * x))
    return -2.0 * x + math.log1p(math.exp(2.0 * x))


@njit_compiled(cache=True)
def _graded_panels(lo, hi, c, h, wmax, edges):
    """Breakpoints of ``[lo, hi]`` graded geometrically toward ``c`` in ``[lo, hi]``: panels of
    width ``h, 2h, 4h, ...`` (at most ``wmax``) on either side of ``c``, written into ``edges``;
    returns their number. A last panel shorter than a quarter of its neighbour is merged. ``h``
    is floored at ``1e-12 (hi - lo)``, so that ``2 (41 + (hi - lo) / wmax) + 6`` entries suffice;
    the panels stop short of ``hi`` rather than overflow ``edges``."""
    cap = edges.size - 3          # (numba has no bounds checks: never write past the buffer)
    h = max(h, 1e-12 * (hi - lo))
    nl = 0
    w = h
    e = c
    # left of c: collect from near to far, then reverse
    while True:
        e = e - w
        if e <= lo + 0.25 * w or nl >= cap // 2:
            break
        edges[nl] = e
        nl += 1
        w = min(2.0 * w, wmax)
    for i in range(nl // 2):
        tmp = edges[i]
        edges[i] = edges[nl - 1 - i]
        edges[nl - 1 - i] = tmp
    # shift right by one to make room for lo
    for i in range(nl, 0, -1):
        edges[i] = edges[i - 1]
    edges[0] = lo
    n = nl + 1
    if lo < c < hi:
        edges[n] = c
        n += 1
    w = h
    e = c
    while True:
        e = e + w
        if e >= hi - 0.25 * w or n >= cap:
            break
        if e > lo:
            edges[n] = e
            n += 1
        w = min(2.0 * w, wmax)
    edges[n] = hi
    n += 1
    return n


@njit_compiled(cache=True)
def _sign_symmetric_se(Q, V, L, gl_x, gl_w):
    """``(E |g_out|^2, E[log cosh x - x])`` of the observation ``{a, -a}``, ``a ~ N(omega, V I_L)``,
    ``omega ~ N(0, Q I_L)``, in the reduced coordinates ``(r, u_1)`` (module docstring), with
    composite Gauss-Legendre rules ``(gl_x, gl_w)`` on ``[0, 1]``: in ``r`` (density ``chi_L``)
    graded toward ``r = 0`` down to ``0.05 sqrt(V / Q)``, in ``u_1`` graded toward the point
    ``u_1 = -r sqrt(Q / V)`` where ``x = a.omega / V`` changes sign, down to a tenth of the width
    ``sqrt(V / Q) / r`` of the sign's posterior transition (``x`` is linear in ``u_1``)."""
    if Q <= 0.0:
        return 0.0, 0.0
    sq = math.sqrt(Q)
    sv = math.sqrt(V)
    sqv = math.sqrt(Q * V)
    lognorm = (1.0 - 0.5 * L) * math.log(2.0) - math.lgamma(0.5 * L)   # chi_L density constant
    redges = np.empty(512)
    uedges = np.empty(512)
    rmax = 13.0 if L <= 4 else 15.0
    nr = _graded_panels(0.0, rmax, 0.0, min(0.5, 0.05 * math.sqrt(V / Q)), 0.5, redges)
    g2 = 0.0
    lc = 0.0
    ng = gl_x.size
    for pr in range(nr - 1):
        ra = redges[pr]
        rw = redges[pr + 1] - ra
        for ir in range(ng):
            r = ra + rw * gl_x[ir]
            if r <= 0.0:
                continue
            dens = math.exp(lognorm + (L - 1) * math.log(r) - 0.5 * r * r)
            wr = rw * gl_w[ir] * dens
            B = r * sq / sv
            cu = -B
            hu = min(0.5, 0.1 / B)
            if cu < -12.0:
                cu = -12.0
            nu = _graded_panels(-12.0, 12.0, cu, hu, 0.5, uedges)
            acc_g = 0.0
            acc_l = 0.0
            for pu in range(nu - 1):
                ua = uedges[pu]
                uw = uedges[pu + 1] - ua
                for iu in range(ng):
                    u = ua + uw * gl_x[iu]
                    wu = uw * gl_w[iu] * _INV_SQRT_2PI * math.exp(-0.5 * u * u)
                    x = (Q * r * r + sqv * r * u) / V
                    # 1 - tanh(x) and tanh(x) without cancellation
                    if x >= 0.0:
                        e = math.exp(-2.0 * x)
                        omt = 2.0 * e / (1.0 + e)
                    else:
                        e = math.exp(2.0 * x)
                        omt = 2.0 / (1.0 + e)
                    t = 1.0 - omt
                    c1 = -sq * r * omt / V + u * t / sv
                    acc_g += wu * (c1 * c1 + (L - 1) * t * t / V)
                    acc_l += wu * _log1pexp_neg2(x)
            g2 += wr * acc_g
            lc += wr * acc_l
    return g2, lc - math.log(2.0)


@njit_compiled(cache=True)
def _softmax2_mse(Q, V, x, w):
    """``E ||y - E[y | omega]||_F^2`` for ``y = softmax(z z^T)``, ``L = 2``, ``z ~ N(omega, V I)``,
    ``omega ~ N(0, Q I)``: ``4 (E y_12^2 - E_omega E[y_12 | omega]^2)`` (the two off-diagonal
    entries are exchanged by the token swap, the diagonal ones are ``1 -`` them), tensor
    Gauss-Hermite ``(x, w)`` (an even number of symmetric nodes) in each of the four coordinates;
    ``E[y | omega]`` is even in ``omega``, so half the outer nodes are summed, twice."""
    sq = math.sqrt(Q)
    sv = math.sqrt(V)
    n = x.size
    m2 = 0.0
    mean2 = 0.0
    for i in range(n // 2):
        for j in range(n):
            o1 = sq * x[i]
            o2 = sq * x[j]
            acc = 0.0
            acc2 = 0.0
            for k in range(n):
                z1 = o1 + sv * x[k]
                for m in range(n):
                    z2 = o2 + sv * x[m]
                    u = z1 * (z2 - z1)
                    y = 1.0 / (1.0 + math.exp(-u)) if u > -700.0 else 0.0
                    acc += w[k] * w[m] * y
                    acc2 += w[k] * w[m] * y * y
            ww = 2.0 * w[i] * w[j]
            m2 += ww * acc2
            mean2 += ww * acc * acc
    return 4.0 * (m2 - mean2)


class _StateNames:
    """The packed overlap: ``("Q[0,0]",)`` (one block, ``1 x 1``, so that ``sol["Q"]`` is a matrix as
    in multi_index), ``Q[0,0], Q[0,1], Q[1,1]`` for ``deep_attention`` (a block per layer); on the
    class, the default target's."""

    def __get__(self, obj, cls):
        return sym_names("Q", 2 if obj is not None and obj.target == "deep_attention" else 1)


@register
@dataclass(frozen=True)
class SequenceMultiIndex:
    """Bayes-optimal sequence multi-index model with a tied attention target (state: ``Q``).

    Parameters
    ----------
    target : {"attention", "scores", "deep_attention"}
        ``attention``: one tied softmax attention layer ``y = softmax(z z^T)`` (``L = 2``);
        ``scores``: ``y = z z^T`` (any ``L``; ``L = 1`` is noiseless phase retrieval);
        ``deep_attention``: two tied attention layers with a skip connection (``L = 2``, a block
        of ``Q`` per layer; module docstring): its full state evolution by quasi-Monte Carlo,
        three digits (:class:`_DeepAttentionSE`), its layer thresholds to four or more by their
        own rules (:func:`layer_thresholds`).
    L : int
        Sequence length (number of tokens), 1 to 8 (``attention``, ``deep_attention``: 2).
    alpha : float
        Sample ratio ``n / d > 0``.
    noise : float
        Variance of Gaussian noise on each token's pre-activation (``>= 0``; ``deep_attention``:
        0, noiseless labels).
    skip : float
        ``deep_attention`` only: the skip-connection strength ``c`` (``A(z) = softmax(z z^T) + c
        I``), in ``[0.5, 10]`` for the full map (its inner rule; :func:`layer_thresholds` of
        :class:`DeepAttention` reaches ``c = 1e-4``).
    log2_points : int
        ``deep_attention`` only: ``2^log2_points`` quasi-Monte Carlo points of the outer average
        (10 to 20; the default 14: 0.17% scatter over seeds, about 1.6 s per evaluation).

    Notes
    -----
    Observables: ``overlap`` (``Q``), ``mse`` (``1 - Q``, per teacher entry), ``label_mse``
    (``E ||y - E[y | X, data]||_F^2`` of the Bayes-optimal prediction of a fresh output:
    closed form ``L (L + 1) V (2 Q + V)`` for ``scores``, a tensor Gauss-Hermite rule for
    ``attention``, accurate to 6e-7 relative), ``free_entropy``. ``sol["Q"]`` is the ``1 x 1`` matrix.

    Starts: ``"uninformed"`` (``Q = 1e-6``) and ``"informed"`` (``Q = 1 - 1e-6``).

    Examples
    --------
    >>> import equations, fixedpoint
    >>> m = equations.get("sequence_multi_index", target="attention", alpha=0.5)
    >>> fixedpoint.solve(m)["Q"]          # doctest: +SKIP
    """

    target: str = "attention"
    L: int = 2
    alpha: float = 0.3
    noise: float = 0.0
    skip: float = 1.0
    log2_points: int = 14

    name: ClassVar[str] = "sequence_multi_index"
    state_names: ClassVar[tuple[str, ...]] = _StateNames()
    labels: ClassVar[dict[str, str]] = {
        "alpha": r"$\alpha = n/d$", "noise": r"$\Delta$", "L": r"$L$", "overlap": r"overlap $Q$",
        "mse": "MSE", "label_mse": "label MSE", "free_entropy": r"free entropy $\phi$",
    }
    examples: ClassVar[tuple[dict, ...]] = (
        {"target": "attention", "L": 2, "alpha": 0.3},
        {"target": "scores", "L": 3, "alpha": 0.3, "noise": 0.2},
        # (2^10 points: 0.06 s an evaluation, the registry's tests and fuzz; the default 2^14 for use)
        {"target": "deep_attention", "skip": 1.0, "alpha": 0.5, "log2_points": 10},
    )

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, allowed values or range, and meaning (protocol member)."""
        return parameter_table(cls, {
            "target": {"allowed": _TARGETS, "doc": "attention: y = softmax(z z^T) (L = 2); scores: y = z z^T; "
                                                   "deep_attention: two tied layers with a skip (L = 2)"},
            "L": {"allowed": _L_ALLOWED, "doc": "sequence length (tokens); attention, deep_attention: 2"},
            "alpha": {"range": (0.0, None), "open": (True, True), "doc": "sample ratio n/d"},
            "noise": {"range": (0.0, None), "open": (False, True),
                      "doc": "variance of the noise on each token's pre-activation (deep_attention: 0)"},
            "skip": {"range": (_C_GRADED, _SKIP_RANGE[1]), "open": (False, False),
                     "doc": "deep_attention: skip-connection strength c"},
            "log2_points": {"allowed": tuple(range(10, 21)),
                            "doc": "deep_attention: log2 of the quasi-Monte Carlo points of the outer average"}})

    def __post_init__(self):
        if not isinstance(self.target, str) or self.target not in _TARGETS:
            raise ValueError(f"target must be one of {', '.join(_TARGETS)}, got {self.target!r}")
        L = self.L
        if isinstance(L, (float, np.floating)) and float(L).is_integer():
            L = int(L)
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or int(L) not in _LENGTHS[self.target]:
            raise ValueError(f"L (the sequence length) must be one of {_LENGTHS[self.target]} for the target "
                             f"{self.target!r}, got {self.L!r}")
        object.__setattr__(self, "L", int(L))
        alpha = _real("alpha", self.alpha)
        if not alpha > 0 or not math.isfinite(alpha):
            raise ValueError(f"alpha (the sample ratio n/d) must be > 0 and finite, got {alpha}")
        noise = _real("noise", self.noise)
        if not noise >= 0 or not math.isfinite(noise):
            raise ValueError(f"noise (a variance) must be >= 0 and finite, got {noise}")
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "noise", noise)
        self._check_deep()

    def _check_deep(self):
        """``skip`` and ``log2_points`` are ``deep_attention``'s; its labels are noiseless."""
        deep = self.target == "deep_attention"
        for name in ("skip", "log2_points"):
            value, default = getattr(self, name), self.__dataclass_fields__[name].default
            if not deep and value != default:
                raise ValueError(f"{name} applies to target='deep_attention' only, got {name}={value!r} for target "
                                 f"{self.target!r}")
        if not deep:
            return
        c = _check_skip(self.skip)
        if c < _C_GRADED:
            raise ValueError(f"skip must be >= {_C_GRADED} for the full state evolution of deep_attention, got {c}: "
                             "its inner rule in z_1 misses the nearly singular band |z_12 - z_11| <~ 2 sqrt(c) below; "
                             "the layer thresholds reach c = 1e-4: equations.sequence.layer_thresholds("
                             "equations.sequence.DeepAttention(skip=c))")
        object.__setattr__(self, "skip", c)
        n = self.log2_points
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 10 <= n <= 20:
            raise ValueError(f"log2_points must be an integer in [10, 20], got {n!r}")
        object.__setattr__(self, "log2_points", int(n))
        if self.noise != 0.0:
            raise ValueError(f"noise must be 0 for target='deep_attention' (its state evolution is that of noiseless "
                             f"labels), got {self.noise}")

    @property
    def _deep(self):
        """``deep_attention``'s state evolution (:class:`_DeepAttentionSE`), or ``None``."""
        if self.target != "deep_attention":
            return None
        return _DeepAttentionSE(self.skip, self.alpha, self.log2_points)

    # ------------------------------------------------------------------ protocol
    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        """``"uninformed"``: ``Q = 1e-6``; ``"informed"``: ``Q = 1 - 1e-6`` (``deep_attention``:
        :meth:`_DeepAttentionSE.initial_state`)."""
        if self._deep is not None:
            return self._deep.initial_state(start)
        if start == "uninformed":
            return np.array([_EPS_UNINFORMED])
        if start == "informed":
            return np.array([1.0 - _EPS_INFORMED])
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def trivial_state(self):
        """``Q = 0``: a fixed point for every alpha (``E[z | y] = 0`` by the sign symmetry)."""
        return np.zeros(len(self.state_names))

    def bounds(self):
        if self._deep is not None:
            return self._deep.bounds()
        return np.zeros(1), np.ones(1)

    def domain_violation(self, x):
        """Why ``x`` is outside the domain, or ``None`` (``deep_attention``: ``0 <= Q`` and ``I - Q``
        not below the inner rule's reach; the others: the bounds)."""
        if self._deep is not None:
            return self._deep.domain_violation(x)
        return None

    def residual_scale(self, x) -> np.ndarray:
        """``1 - Q``: resolved in relative terms near perfect recovery (noiseless labels); ones for
        ``deep_attention`` (kept away from it)."""
        if self._deep is not None:
            return np.ones(3)
        return np.array([1.0 - self._clip(x)])


    @staticmethod
    def _clip(x) -> float:
        return min(max(float(np.asarray(x, dtype=float).ravel()[0]), 0.0), 1.0)

    def _V(self, Q):
        return (1.0 - Q) + self.noise

    def _se(self, Q):
        """``(E |g|^2, Psi_out)`` at ``Q`` (``V = 1 - Q + noise > 0``)."""
        V = self._V(Q)
        g2, lc = _sign_symmetric_se(Q, V, self.L, *_unit_legendre(_N_GL))
        psi = -0.5 * self.L * math.log(2.0 * math.pi * math.e * V) + lc
        return g2, psi

    def Q_hat(self, Q) -> float:
        """``alpha E |g_out|^2`` at overlap ``Q`` (``inf`` at perfect recovery); one block only."""
        self._one_block("Q_hat")
        Q = min(max(float(Q), 0.0), 1.0)
        if self._V(Q) <= _V_ZERO:
            return math.inf
        return self.alpha * self._se(Q)[0]

    def _one_block(self, what):
        if self._deep is not None:
            raise ValueError(f"{what} is a one-block quantity; target='deep_attention' has a block per layer "
                             "(its state evolution: equations.sequence.deep_state_evolution)")

    def update(self, x) -> np.ndarray:
        """``Q -> Q_hat / (1 + Q_hat)``, ``Q_hat = alpha E |g_out|^2`` (NaN for a non-finite state);
        ``deep_attention``: :meth:`_DeepAttentionSE.update`."""
        if self._deep is not None:
            return self._deep.update(x)
        q = float(np.asarray(x, dtype=float).ravel()[0])
        if not math.isfinite(q):
            return np.array([math.nan])
        qh = self.Q_hat(self._clip(q))
        if qh == math.inf:
            return np.array([1.0])
        return np.array([qh / (1.0 + qh)])

    def jacobian(self, x) -> np.ndarray | None:
        """At ``Q = 0`` the exact ``alpha (L^2 + L) / (1 + noise)^2`` (module docstring; for
        ``deep_attention`` :meth:`_DeepAttentionSE.jacobian`); ``None`` elsewhere (finite
        differences only, which the engine takes itself)."""
        if self._deep is not None:
            return self._deep.jacobian(x)
        q = self._clip(x)
        if q == 0.0:
            return np.array([[self.alpha * self.L * (self.L + 1) / (1.0 + self.noise) ** 2]])
        return None

    def _divergence_exponent(self) -> float:
        """``(alpha L - 1) / 2`` for noiseless labels (``L`` continuous observations per sample,
        a Gaussian prior of information dimension 1), else 0; see :mod:`equations.glm_bayes`."""
        return 0.0 if self.noise > 0 else 0.5 * (self.alpha * self.L - 1.0)

    def free_entropy_divergence(self, x) -> float:
        """Coefficient of ``log(1 / (1 - Q))`` in the free entropy along the branch through ``x``:
        non-zero for noiseless labels at ``Q = 1``, or within ``1e-6`` of it when perfect recovery
        is attracting (``alpha L > 1``); 0 for ``deep_attention`` (its domain stays away from it)."""
        if self._deep is not None:
            return 0.0
        s = self._divergence_exponent()
        if s == 0.0:
            return 0.0
        V = 1.0 - self._clip(x)
        if V == 0.0 or (s > 0 and V <= _EPS_INFORMED):
            return s
        return 0.0

    def free_entropy(self, x) -> float:
        """``phi = -Q Q_hat / 2 + (Q_hat - log(1 + Q_hat)) / 2 + alpha Psi_out(Q)`` at ``Q_hat = alpha
        E |g|^2``; ``+-inf`` on the perfect-recovery branch of noiseless labels
        (``deep_attention``: :meth:`_DeepAttentionSE.free_entropy`)."""
        if self._deep is not None:
            return self._deep.free_entropy(x)
        s = self.free_entropy_divergence(x)
        if s != 0.0:
            return math.copysign(math.inf, s)
        Q = self._clip(x)
        if self._V(Q) <= _V_ZERO:
            return math.inf
        g2, psi = self._se(Q)
        return self.free_entropy_at(Q, self.alpha * g2)

    def free_entropy_at(self, Q, Q_hat) -> float:
        """The replica-symmetric potential at independent ``(Q, Q_hat)`` (its stationary points are
        the fixed points), ``0 <= Q < 1 + noise``, ``Q_hat >= 0`` (``deep_attention``: 2 x 2
        matrices, :meth:`_DeepAttentionSE.free_entropy_at`)."""
        if self._deep is not None:
            return self._deep.free_entropy_at(Q, Q_hat)
        Q = float(Q)
        Q_hat = float(Q_hat)
        _, psi = self._se(Q)
        return -0.5 * Q * Q_hat + 0.5 * (Q_hat - math.log1p(Q_hat)) + self.alpha * psi

    def label_mse(self, Q) -> float:
        """Bayes-optimal ``E ||y - E[y | X, data]||_F^2`` of a fresh output at overlap ``Q`` (one
        block)."""
        self._one_block("label_mse")
        Q = min(max(float(Q), 0.0), 1.0)
        V = self._V(Q)
        L = self.L
        if self.target == "scores":
            return L * (L + 1) * V * (2.0 * Q + V)
        x, w = _hermite_rule(_N_MSE)
        return float(_softmax2_mse(Q, V, x, w))

    def observable_names(self) -> tuple[str, ...]:
        """The keys of :meth:`observables`, in order (protocol member)."""
        if self._deep is not None:
            return self._deep.observable_names()
        return ("overlap", "mse", "label_mse", "free_entropy")

    def observables(self, x) -> dict[str, float]:
        if self._deep is not None:
            return self._deep.observables(x)
        Q = self._clip(x)
        out = {"overlap": Q, "mse": 1.0 - Q, "label_mse": self.label_mse(Q)}
        out["free_entropy"] = self.free_entropy(x)
        return out

    def simulate(self, d: int, seed: int) -> dict[str, float]:
        """GAMP on one instance of size ``d`` (:mod:`equations._simulate.gamp_sequence`;
        ``deep_attention``: :meth:`_DeepAttentionSE.simulate`)."""
        if self._deep is not None:
            return self._deep.simulate(d, seed)
        from ._simulate.gamp_sequence import simulate_sequence
        return simulate_sequence(self, d, seed)


# ----------------------------------------------------------------------------- deep attention

#: bounds of the skip strength c of deep_attention: c = 0 makes A(z_1) singular on z_11 = z_12;
#: below c = 0.5 the tensor rules lose accuracy (against 96 nodes per axis: alpha_2 off by 8e-4 at
#: c = 0.25, 5e-2 at c = 0.05) and the graded rules take over, measured down to c = 1e-4 (module
#: docstring, "Small skips"): smaller c is refused rather than answered unmeasured
_SKIP_RANGE = (1e-4, 10.0)
#: below this skip strength the rules in z_1 (inner and outer) and in h are the graded ones of
#: _z1_grid_graded / _h_rule_graded (panels toward the nearly singular line z_11 = z_12 and the
#: spike of the density of h_1 - h_2 at 0); at and above it the tensor Gauss-Hermite rules, whose
#: accuracy at c >= 0.5 is measured below
_C_GRADED = 0.5
#: first panels of the graded rules, in units of sqrt(c) (delta = z_12 - z_11) and of c (e = h_1 -
#: h_2): a tenth of the widths of the features (module docstring)
_DELTA_H0 = 0.1
_E_H0 = 0.1
#: default rules of the linearisation at Q = 0 (64 Gauss-Hermite nodes per axis of h and of z_1,
#: h scaled by _H_SCALE (1 + c)); measured against 96 nodes per axis for c in {0.5, 1, 2, 4,
#: 10}: alpha_2 to 2e-8 relative (1.6e-7 at c = 0.5), alpha^(0)_1 to 1.4e-7
_N_H = 64
_N_Z1 = 64
_H_SCALE = 1.0
#: first and widest panels of the graded rule in z_2* of the teacher route. Measured at q = 0.97,
#: c = 1 (K_2, Nishimori form; K_1 moves 100 times less): 6 nodes per panel from 0.2 are 2e-5 from
#: 8 nodes per panel and from 6 per panel from 0.0125 (which agree to 5e-7); the former 4 per
#: panel from 0.05 (up to 0.75) were 1.8e-4 off, 3 per panel 2e-4 and 4e-4 off (from 0.05 and
#: 0.025): the error sits in the first panels (a kink at D = 0), not in the width of the last
_Z2_H0 = 0.2
_Z2_WMAX = 1.0
#: from this |z| on, the panels of the rule in z_2* lose a node each (_teacher_z2_graded). Measured
#: with 6 nodes per panel (12 / 6 / 6 / 48 rules): the growth rate moves by 1e-8 at c = 1, q =
#: 0.9736 and at c = 0.1, q = 0.8523, for 27% fewer nodes and 20-40% less time; tapering from the third panel on instead
#: (6, 6, 6, 6, 4, 3, 2 nodes) moved it by 4e-7
_Z2_TAPER = 2.0
#: the D axis of the rule in z_2* is graded further toward D = 0 for teacher nodes whose softmax
#: weights are far from their singular line (_z2_levels): first panel at most _Z2_D_KAPPA c / (c +
#: g*), at most _Z2_MAX_LEVEL halvings of _Z2_H0, with _Z2_FINE_GL nodes in the panels narrower
#: than _Z2_H0 (3 nodes: 4e-6 at single nodes, 4: 2e-7, against 6)
_Z2_D_KAPPA = 2.0
_Z2_MAX_LEVEL = 16
_Z2_FINE_GL = 4
#: first panel of the graded rule in z_2* of the truth route of deep_linearisation below c = 0.5
_TRUTH_Z2_H0 = 0.1
#: default rules of the teacher route (deep_subbranch(route="truth")). The eta rule carries the
#: noise of omega_2 = q z_2* + sqrt(q (1 - q)) eta, largest at q = 1/2: there K_2 is 2.48871 with 4
#: nodes per axis (0.7% high), 2.47100 with 8, 2.47118 with 12, 2.47132 with 16 (c = 1); at the
#: staircase root q = 0.9736 the Nishimori forms move by 4e-5 from 4 to 8 nodes (all with the former
#: Gauss-Hermite rule in z_1*; the outer rule in softmax coordinates, 12 nodes per coordinate, gives
#: 2.47133 at q = 1/2 with 8 eta nodes)
_N_TEACHER = 12
_N_GL_Z2 = 6
_N_ETA = 8
_N_Z_STAIR = 48
#: default fine rules (n_teacher, n_gl, n_eta, n_z) of deep_staircase
_STAIR_FINE = (16, 6, 6, 64)
#: eta nodes per axis of the fine rules below c = 0.5: there the root q* is lower and the noise of
#: omega_2, sqrt(q (1 - q)), larger (twice that at c = 1 for c = 0.1), and 6 nodes left 7.3e-5 in
#: alpha_1 at c = 0.1 (8: the direct and Nishimori forms agree to 1e-5)
_STAIR_ETA_SMALL_C = 8
#: lighter fine rules in ``z_2*`` for deep_staircase at small skips, where the outer rule has 20
#: nodes per coordinate and the ``D`` axis its deepest grading, so that a fine evaluation cost 1.5
#: to 2.5 times one at ``c = 0.01``: below ``_STAIR_LIGHT_Z2[0][0]`` the ``mu`` axis is in panels of
#: width ``_STAIR_LIGHT_Z2[0][1]`` from 0 instead of graded from ``_Z2_H0`` (24 nodes on that axis
#: instead of 36), and below ``_STAIR_LIGHT_Z2[1][0]`` both axes have ``_STAIR_LIGHT_Z2[1][1]``
#: Gauss-Legendre nodes per panel instead of 6. Measured on ``alpha_1`` (2026-12-04), against the
#: rules above and against a refined rule in ``z_2*`` (8 nodes per panel, ``mu`` from 0.1):
#: - the ungraded ``mu`` axis: 4e-11 at ``c = 1e-4``, -3.7e-6 at ``1e-3``, -7.1e-6 at ``2e-3``,
#:   -1.1e-5 at ``5e-3`` (there the graded axis is 1.5e-6 from the refined rule, the ungraded
#:   9.7e-6) and -1.1e-5 at 0.01; where it stays graded, +2.4e-5 at 0.1, -6.3e-5 at 0.25, -3.4e-4
#:   at 1 (the feature near ``z_2* = 0`` of :func:`_teacher_z2_graded` narrows as ``c`` grows);
#: - with 5 nodes per panel as well: +2.5e-6 at ``c = 1e-4``, +4.9e-6 at ``1e-3``, but +1.55e-5
#:   from the refined rule at ``5e-3``, hence only below ``2e-3`` (alone at ``c = 1e-4``: +2.0e-6).
#: With them the fine evaluation costs 0.55 times as much at ``c = 1e-4``, 0.7 times at ``5e-3``.
#: The coarse rules keep the graded axis: their slopes carry the one step of deep_staircase (2.8e-3
#: in q at c = 1e-4), and the ungraded axis in them moved ``alpha_1(1e-4)`` by -9e-5 (with them as
#: they are, ``refine=True`` moves it by +2.9e-5)
_STAIR_LIGHT_Z2 = ((0.01, 1.0), (2e-3, 5))
#: the default fine outer rule of deep_staircase (nodes per coordinate of the rule in softmax
#: coordinates, or (n_zeta, n_a)), by skip: the first entry whose lower end c reaches. Measured:
#: - c >= 0.5: 16 (module docstring, rule by rule at c = 1);
#: - 0.1 <= c < 0.5: (12, 16). There the outer integrand is smooth in the coordinate zeta and needs
#:   more nodes only in a (its Legendre coefficients of degree 12 and more in zeta carry 2e-6 of K_1
#:   and K_2 at c = 0.1, those in a 3e-5). Integrating the interpolant of the 20 x 20 nodal averages
#:   (fine inner rules, at the root q*) with the smaller rule moves the growth rate by 5e-6 at c =
#:   0.1 and 2e-7 at c = 0.25 (16 x 16: 4e-6 and 1.4e-6), and alpha_1 itself moved by -2.4e-6 and
#:   -3.5e-6 from 20 x 20, for 192 nodes instead of 400;
#: - 0.01 <= c < 0.1: 16. At c = 0.01, 16, 20, 24 and 32 give alpha_1 = 0.745407, 0.745404,
#:   0.745421, 0.745409: the outer rules scatter by 1.5e-5 there (the integrand has structure on
#:   the two scales g ~ c and g ~ 1, and no anisotropic rule is better: (12, 16) is 6e-5 off in the
#:   growth rate), and 16 is as close to 32 as 20 is;
#: - below: 20. At c = 1e-4, with the inner rule in mu converged (module docstring, "The accuracy
#:   at small c"), 16, 24 and 32 give alpha_1 5.9e-5, 1.2e-5 and 1.2e-5 above 20 (24 and 32 agree
#:   to 1e-6); with the default inner rule 16, 20, 24, 32 give 0.75854, 0.75846, 0.75847, 0.75857,
#:   the last one off through the inner rule's aliasing, not the outer rule's.
_STAIR_OUTER = ((_C_GRADED, _STAIR_FINE[0]), (0.1, (12, 16)), (0.01, 16), (0.0, 20))


def _stair_outer_rule(c):
    """The default fine outer rule of :func:`deep_staircase` at skip ``c`` (:data:`_STAIR_OUTER`)."""
    return next(n for lo, n in _STAIR_OUTER if c >= lo)


#: rules (n_teacher, n_gl, n_eta, n_z) of the coarse root search of deep_staircase, and the step in
#: q of its slopes
_STAIR_COARSE = (8, 3, 3, 32)
#: below c = 0.5 the inner graded rule of the sub-branch (deep_subbranch route "truth",
#: deep_staircase) has n_z // _STAIR_PER_PANEL Gauss-Legendre nodes per panel in delta (at least
#: 3): 6 at n_z = 64. Measured at single teacher nodes (c = 1e-4, q = 0.753, K_2^N against 16 per
#: panel): 4 per panel (the default until 2026-12-02) 1.6e-3 off, node to node of either sign, 5
#: per panel 3e-4, 6 per panel 7e-5, 8 per panel 1e-6; smaller first panels or narrower last ones
#: do not help. The roughness of 4 per panel, sampled by the outer rule, made the outer rules
#: scatter by +-1.5e-4 in alpha_1 at c = 1e-4
_STAIR_PER_PANEL = 10
#: at most this many nodes per coordinate of the outer rule in softmax coordinates (its Lagrange
#: basis on Gauss-Legendre nodes; 24 already agree with 16 to 3e-5 in the growth rate)
_N_SOFTMAX_MAX = 64
_STAIR_DQ = 1e-3


@njit_compiled(cache=True, inline="always")
def _softmax_weights(z11, z12):
    """The off-diagonal weights of ``softmax_rows(z z^T)`` for two tokens: ``s_1 = [0, 1] =
    sigma(z_11 (z_12 - z_11))`` and ``s_2 = [1, 0] = sigma(z_12 (z_11 - z_12))`` (a row depends on one
    difference of logits); 0 where the logit is below -700 (``exp`` would overflow)."""
    dz = z12 - z11
    u1 = z11 * dz
    u2 = -z12 * dz
    s1 = 1.0 / (1.0 + math.exp(-u1)) if u1 > -700.0 else 0.0
    s2 = 1.0 / (1.0 + math.exp(-u2)) if u2 > -700.0 else 0.0
    return s1, s2


@njit_compiled(cache=True, inline="always")
def _softmax_weights_gap(z11, z12):
    """``(s_1, s_2, 1 - s_1 - s_2)`` (:func:`_softmax_weights`), the last computed without the
    cancellation where ``s_1 + s_2 -> 1`` (``z_11 = z_12``): ``1 - s_1 - s_2 = sigma(-u_1) -
    sigma(u_2) = sinh(delta^2 / 2) / (2 cosh(u_1 / 2) cosh(u_2 / 2))``, ``u_1 + u_2 = -delta^2``,
    ``delta = z_12 - z_11``, so that ``det A = (1 + c)(c + 1 - s_1 - s_2)`` keeps its relative
    accuracy down to ``c = 0``."""
    s1, s2 = _softmax_weights(z11, z12)
    dz = z12 - z11
    u1 = z11 * dz
    u2 = -z12 * dz
    if abs(u1) < 700.0 and abs(u2) < 700.0 and dz * dz < 1400.0:
        gap = math.sinh(0.5 * dz * dz) / (2.0 * math.cosh(0.5 * u1) * math.cosh(0.5 * u2))
    else:
        gap = 1.0 - s1 - s2
    return s1, s2, gap


@njit_compiled(cache=True)
def _attention_matrix_inverse(c, x, Ai, hz, Z1):
    """For ``z_1`` on the tensor grid ``x x x``: ``A(z_1)^{-1}`` (row-major into ``Ai``), ``1 /
    |det A(z_1)|`` (into ``hz``) and the nodes (into ``Z1``), ``A(z) = softmax(z z^T) + c I``."""
    n = x.size
    for k in range(n):
        for m in range(n):
            z11 = x[k]
            z12 = x[m]
            s1, s2 = _softmax_weights(z11, z12)
            a11 = 1.0 - s1 + c
            a12 = s1
            a21 = s2
            a22 = 1.0 - s2 + c
            det = a11 * a22 - a12 * a21
            t = k * n + m
            Ai[t, 0] = a22 / det
            Ai[t, 1] = -a12 / det
            Ai[t, 2] = -a21 / det
            Ai[t, 3] = a11 / det
            hz[t] = 1.0 / abs(det)
            Z1[t, 0] = z11
            Z1[t, 1] = z12


@njit_compiled(cache=True)
def _posterior_gaps(h1, h2, Ai, hz, Z1, wz):
    """``(P, G, K)`` at the output ``h`` of the deep target: ``P = sum_t wz hz N(z_2(t); 0, I)
    2 pi`` over the ``z_1`` grid (``z_2(t) = A(z_1(t))^{-1} h``), and the gaps ``G = E[z_1 z_1^T |
    h] - I``, ``K = E[z_2 z_2^T | h] - I`` as ``(11, 12, 22)`` triples (``P <= 0``: no mass)."""
    P = 0.0
    a11 = 0.0
    a12 = 0.0
    a22 = 0.0
    b11 = 0.0
    b12 = 0.0
    b22 = 0.0
    for t in range(hz.size):
        z21 = Ai[t, 0] * h1 + Ai[t, 1] * h2
        z22 = Ai[t, 2] * h1 + Ai[t, 3] * h2
        e = 0.5 * (z21 * z21 + z22 * z22)
        if e > 700.0:
            continue
        f = wz[t] * hz[t] * math.exp(-e)
        P += f
        a11 += f * Z1[t, 0] * Z1[t, 0]
        a12 += f * Z1[t, 0] * Z1[t, 1]
        a22 += f * Z1[t, 1] * Z1[t, 1]
        b11 += f * z21 * z21
        b12 += f * z21 * z22
        b22 += f * z22 * z22
    if P <= 0.0:
        return P, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    return P, (a11 / P - 1.0, a12 / P, a22 / P - 1.0), (b11 / P - 1.0, b12 / P, b22 / P - 1.0)


@njit_compiled(cache=True)
def _gap_products(G, K):
    """``(|G|_F^2, |K|_F^2, tr(G K))`` of two symmetric 2x2 matrices given as ``(11, 12, 22)``."""
    return (G[0] * G[0] + 2.0 * G[1] * G[1] + G[2] * G[2], K[0] * K[0] + 2.0 * K[1] * K[1] + K[2] * K[2],
            G[0] * K[0] + 2.0 * G[1] * K[1] + G[2] * K[2])


@njit_compiled(cache=True)
def _deep_subbranch_kernel(q, xh, wh, sh, xo, wo, Ai, hz, Z1, wz):
    """``(K_1, K_2, norm)`` on the invariant subspace ``Q_11 = Q_12 = 0``, ``Q_22 = q``: ``omega_2
    ~ N(0, q I_2)`` on the tensor rule ``sqrt(q) xo^2``, ``h`` as in :func:`_deep_linear_nodes_kernel`,
    ``z_1`` on the grid, ``z_2 = +-A(z_1)^{-1} h`` with ``N(z_2; omega_2, (1 - q) I)``."""
    v = 1.0 - q
    sq = math.sqrt(q)
    nh = xh.size
    no = xo.size
    nz = hz.size
    K1 = 0.0
    K2 = 0.0
    norm = 0.0
    for i in range(nh):
        for j in range(nh):
            h1 = sh * xh[i]
            h2 = sh * xh[j]
            wgt = wh[i] * wh[j] * 2.0 * math.pi * sh * sh * math.exp(0.5 * (xh[i] * xh[i] + xh[j] * xh[j]))
            for m in range(no):
                for k in range(no):
                    o1 = sq * xo[m]
                    o2 = sq * xo[k]
                    P = 0.0
                    a11 = 0.0
                    a12 = 0.0
                    a22 = 0.0
                    e1 = 0.0
                    e2 = 0.0
                    for t in range(nz):
                        b1 = Ai[t, 0] * h1 + Ai[t, 1] * h2
                        b2 = Ai[t, 2] * h1 + Ai[t, 3] * h2
                        ep = 0.5 * ((b1 - o1) ** 2 + (b2 - o2) ** 2) / v
                        em = 0.5 * ((b1 + o1) ** 2 + (b2 + o2) ** 2) / v
                        fp = math.exp(-ep) if ep < 700.0 else 0.0
                        fm = math.exp(-em) if em < 700.0 else 0.0
                        f = wz[t] * hz[t] * 0.5 * (fp + fm)
                        fd = wz[t] * hz[t] * 0.5 * (fp - fm)
                        P += f
                        a11 += f * Z1[t, 0] * Z1[t, 0]
                        a12 += f * Z1[t, 0] * Z1[t, 1]
                        a22 += f * Z1[t, 1] * Z1[t, 1]
                        e1 += fd * b1
                        e2 += fd * b2
                    if P <= 0.0:
                        continue
                    w = wgt * wo[m] * wo[k] * P / (2.0 * math.pi * v)
                    g11 = a11 / P - 1.0
                    g12 = a12 / P
                    g22 = a22 / P - 1.0
                    K1 += w * (g11 * g11 + 2.0 * g12 * g12 + g22 * g22)
                    d1 = e1 / P - o1
                    d2 = e2 / P - o2
                    K2 += w * (d1 * d1 + d2 * d2) / (v * v)
                    norm += w
    return K1, K2, norm


#: an inner node (and sign of ``z_2``) is skipped by :func:`_deep_subbranch_truth_kernel` where,
#: at every ``eta`` node of the rule, its weight times that node's weight (relative to the largest
#: ``eta`` weight) is below ``exp(-_PRUNE)`` of the reference node's weight (:func:`_posterior_scan`).
#: Each skipped node moves the ``eta`` average of a posterior average by at most ``exp(-_PRUNE)``
#: (1.1e-7) of its spread, and the errors shrink like ``exp(-_PRUNE)`` (the node averages of ``G``
#: at ten teacher nodes, ``c = 0.1``: 6e-5 at ``_PRUNE = 12``, 1.4e-6 at 16, 3e-8 at 20). Measured at eleven teacher
#: nodes (``c = 1e-4``, ``q = 0.753``, one per grading level of the rule in ``z_2*``) against
#: ``_PRUNE = 25`` (the value until 2026-12-02, itself 1.2e-9 from no skip): ``K_2^N`` moves by
#: 1e-7 relative, ``G`` by 1.5e-6, for 26% of the inner nodes kept instead of 38%; at ``c = 1``, ``q =
#: 0.9736``, 7e-8 and 1e-6, 18% kept instead of 28%. ``alpha_1`` (:func:`deep_staircase`) moved by
#: less than 1e-6 at ``c = 1e-4``, 0.1 and 1, where the rules' own error is 3e-5
_PRUNE = 16.0
#: ``log2(e)`` and ``log(2)`` in two parts (Cody and Waite's reduction) for :func:`_exp_pm`, and the
#: number whose addition rounds a double to an integer held in its low mantissa bits (``1.5 * 2^52``)
_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_SHIFTER = 6755399441055744.0
_SHIFTER_BITS = int(np.array([_SHIFTER]).view(np.int64)[0])
#: the posterior sums of the teacher-route kernel are single-precision products summed in blocks of
#: this many inner nodes, each block's sum added to a double (:func:`_tilted_sums`)
_SUM_BLOCK = 512
#: below this posterior mass (in units of the largest node weight at that ``eta`` node) the
#: single-precision sums of an ``eta`` node are recomputed in double precision
#: (:func:`_posterior_sums_double`): the weights there would reach the subnormal range of single
#: precision (below ``1.2e-38``) before ``1e-8`` of the largest (measured: the largest weight of an
#: ``eta`` node, relative to the shifts of :func:`_posterior_fill`, is at least ``exp(-56)`` over
#: 2400 teacher pairs at ``c = 1e-4`` and ``c = 1``; no recomputation happened in a whole evaluation)
_P_SINGLE_MIN = 1e-30


@njit_compiled(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _top_pass(B1, B2, r1, r2, kap, x0, x1, x2, x3, l0, l1, l2, l3, TP1, TP2, TM1, TM2, first):
    """``top(|U|) = max_j (l_j + |U| x_j)`` over four ``eta`` nodes for the four ``U`` of each inner
    node (both axes, both signs of ``z_2``: ``z_2 - r = +-b - r``), into ``TP1 ... TM2``, or their
    maximum with what is there unless ``first`` (:func:`_posterior_scan`)."""
    for t in range(B1.size):
        ap1 = abs(kap * (B1[t] - r1))
        ap2 = abs(kap * (B2[t] - r2))
        am1 = abs(kap * (B1[t] + r1))
        am2 = abs(kap * (B2[t] + r2))
        tp1 = max(max(l0 + ap1 * x0, l1 + ap1 * x1), max(l2 + ap1 * x2, l3 + ap1 * x3))
        tp2 = max(max(l0 + ap2 * x0, l1 + ap2 * x1), max(l2 + ap2 * x2, l3 + ap2 * x3))
        tm1 = max(max(l0 + am1 * x0, l1 + am1 * x1), max(l2 + am1 * x2, l3 + am1 * x3))
        tm2 = max(max(l0 + am2 * x0, l1 + am2 * x1), max(l2 + am2 * x2, l3 + am2 * x3))
        if not first:
            tp1 = max(tp1, TP1[t])
            tp2 = max(tp2, TP2[t])
            tm1 = max(tm1, TM1[t])
            tm2 = max(tm2, TM2[t])
        TP1[t] = tp1
        TP2[t] = tp2
        TM1[t] = tm1
        TM2[t] = tm2


@njit_compiled(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _posterior_scan(h1, h2, m1, m2, v, kap, xe, lwe, AiT, lb, R, idx):
    """The inner nodes and signs of ``z_2`` that carry weight, for one observation ``h`` and
    ``omega_2 = m + sqrt(q v) eta`` over the ``eta`` nodes ``xe x xe`` (symmetric about 0).

    Node ``t`` with sign ``+-`` has ``z_2 = +-A^{-1} h`` and offset ``d = z_2 - m``; at ``eta`` its
    log weight is ``lb_t - |d|^2 / 2v + kap d.eta`` (``kap = sqrt(q / v)``, up to terms common to
    all nodes). Against the reference ``r``, the ``z_2`` of largest weight at ``eta = 0``, the log
    weight at the ``eta`` node ``(k, l)``, less the reference's there, is ``e_0 + U_1 x_k + U_2
    x_l`` (``e_0`` the difference at ``eta = 0``, ``U = kap (z_2 - r)``). A node is skipped where
    that plus ``lwe_k + lwe_l`` (the log ``eta`` weights less the largest) is below ``-_PRUNE`` at
    every ``(k, l)``: the maximum over ``(k, l)`` is ``top(U_1) + top(U_2)``, ``top(U) = max_k
    (lwe_k + |U| x_k)`` over the nodes ``x_k >= 0`` (the rule is symmetric).

    ``AiT`` holds the entries of ``A^{-1}`` as rows (``(4, nz)``: contiguous loads). Passes that the
    compiler vectorises, or without branches: ``z_2 = A^{-1} h`` and the two signs'
    log weights at ``eta = 0`` (rows 0 to 3 of the scratch ``R``, shape ``(8, nz)``), their maximum,
    the four ``top`` (rows 4 to 7, one ``eta`` node per pass), and the list of the kept ``2 t + sign`` in ``idx`` (length at least ``2 nz + 1``), written whether kept or not
    and counted only if kept (a branch here was mispredicted half the time). Returns ``(n, r_1, r_2,
    e_max)``: the number kept, the reference and its log weight."""
    nz = lb.size
    ne = xe.size
    half = 0.5 / v
    mm = m1 * m1 + m2 * m2
    B1, B2, EP, EM = R[0], R[1], R[2], R[3]
    a11, a12, a21, a22 = AiT[0], AiT[1], AiT[2], AiT[3]
    for t in range(nz):
        b1 = a11[t] * h1 + a12[t] * h2
        b2 = a21[t] * h1 + a22[t] * h2
        bb = b1 * b1 + b2 * b2 + mm
        bm = 2.0 * (b1 * m1 + b2 * m2)
        B1[t] = b1
        B2[t] = b2
        EP[t] = lb[t] - (bb - bm) * half     # |+b - m|^2 = bb - bm
        EM[t] = lb[t] - (bb + bm) * half     # |-b - m|^2 = bb + bm
    best = -np.inf
    for t in range(nz):
        best = max(best, max(EP[t], EM[t]))
    r1 = r2 = 0.0
    for t in range(nz):
        if EP[t] == best or EM[t] == best:
            sg = 1.0 if EP[t] == best else -1.0
            r1, r2 = sg * B1[t], sg * B2[t]
            break
    # top(|U|) over the nodes x >= 0 of the symmetric eta rule, four nodes per pass over t (padded
    # with weight 0): one pass for up to 8 eta nodes per axis
    TP1, TP2, TM1, TM2 = R[4], R[5], R[6], R[7]
    xg = np.zeros(4)
    lg = np.empty(4)
    for g in range(ne // 2, ne, 4):
        for j in range(4):
            lg[j] = lwe[g + j] if g + j < ne else -np.inf
            xg[j] = xe[g + j] if g + j < ne else 0.0
        _top_pass(B1, B2, r1, r2, kap, xg[0], xg[1], xg[2], xg[3], lg[0], lg[1], lg[2], lg[3], TP1, TP2, TM1, TM2,
                  g == ne // 2)
    n = 0
    for t in range(nz):
        idx[n] = 2 * t
        n += EP[t] - best + TP1[t] + TP2[t] >= -_PRUNE
        idx[n] = 2 * t + 1
        n += EM[t] - best + TM1[t] + TM2[t] >= -_PRUNE
    return n, r1, r2, best


@njit_compiled(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _exp_pm(u, x, n, outp, outm, kf, bp, bm):
    """``outp[:n] <- exp(x u[:n])`` and ``outm[:n] <- exp(-x u[:n])``, arguments clamped to ``+-700``,
    to ``1e-10`` relative, from one polynomial: ``exp(+-y) = 2^(+-t) (E(r^2) +- r O(r^2))``, ``t =
    round(y / log 2)``, ``r = y - t log 2`` (``|r| <= log(2) / 2``; the product ``t log 2`` in two
    parts so that ``r`` is exact), ``E`` and ``O`` the even and odd parts of the Taylor polynomial of
    degree 9 (remainder ``0.35^10 / 10! < 1e-10``). ``2^(+-t)`` is written into the exponent bits of
    ``bp``, ``bm`` (int64 scratch of at least ``n``): the rounding ``y / log 2 + 1.5 2^52`` leaves ``t``
    in the low bits of ``kf`` (float scratch), so that no conversion to an integer is needed (AVX2 has
    none for doubles to int64), and every loop vectorises."""
    for j in range(n):
        y = min(max(u[j] * x, -700.0), 700.0)
        kk = y * _LOG2E + _SHIFTER
        t = kk - _SHIFTER
        r = (y - t * _LN2_HI) - t * _LN2_LO
        r2 = r * r
        E = 1.0 / 40320.0
        E = E * r2 + 1.0 / 720.0
        E = E * r2 + 1.0 / 24.0
        E = E * r2 + 0.5
        E = E * r2 + 1.0
        O = 1.0 / 362880.0
        O = O * r2 + 1.0 / 5040.0
        O = O * r2 + 1.0 / 120.0
        O = O * r2 + 1.0 / 6.0
        O = O * r2 + 1.0
        rO = r * O
        outp[j] = E + rO
        outm[j] = E - rO
        kf[j] = kk
    ib = kf.view(np.int64)
    for j in range(n):
        it = ib[j] - _SHIFTER_BITS
        bp[j] = (it + 1023) << 52
        bm[j] = (1023 - it) << 52
    sp = bp.view(np.float64)
    sm = bm.view(np.float64)
    for j in range(n):
        outp[j] *= sp[j]
        outm[j] *= sm[j]


@njit_compiled(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _single_rows(ew, with_ew, ep, em, cp, cm, rowp, rowm, n):
    """``rowp[:n] <- ew ep cp``, ``rowm[:n] <- ew em cm`` in single precision (without ``ew`` unless
    ``with_ew``)."""
    if with_ew:
        for j in range(n):
            rowp[j] = np.float32(ew[j] * ep[j] * cp)
            rowm[j] = np.float32(ew[j] * em[j] * cm)
    else:
        for j in range(n):
            rowp[j] = np.float32(ep[j] * cp)
            rowm[j] = np.float32(em[j] * cm)


@njit_compiled(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _posterior_fill(n, idx, R, best, r1, r2, kap, Z1, xe, E, G, W, S, bits):
    """The single-precision factors of the posterior sums of the ``n`` nodes listed by
    :func:`_posterior_scan`: ``E`` (double, shape ``(3, >= n)``) receives ``e_0, U_1, U_2``; ``G``
    (single, ``(8, >= n)``) the quantities averaged, ``z_11^2, z_11 z_12, z_12^2``, ``d = z_2 - r``,
    ``|d|^2`` and ``sum_m z_1l z_1m d_m`` (``l = 1, 2``), offsets from the reference ``r`` so that
    ``Cov(z_2)`` is not a difference of large numbers; ``W`` (single, ``(2 ne, >= n)``) the weights
    ``exp(e_0 + U_1 x_k - c_k)`` (rows ``k``) and ``exp(U_2 x_l - c'_l)`` (rows ``ne + l``), ``c_k``
    and ``c'_l`` their largest exponents over the nodes, so that every weight is at most 1 and the
    products stay within single precision (:data:`_P_SINGLE_MIN`). The shifts are common to all
    nodes at an ``eta`` node and cancel in its posterior averages. ``S`` is double scratch of at
    least ``5 n``, ``bits`` int64 scratch of at least ``n``."""
    ne = xe.size
    B1, B2, EP, EM = R[0], R[1], R[2], R[3]
    e0s, u1s, u2s = E[0], E[1], E[2]
    for j in range(n):
        t = idx[j] >> 1
        neg = idx[j] & 1
        sg = 1.0 - 2.0 * neg
        d1 = sg * B1[t] - r1
        d2 = sg * B2[t] - r2
        e0s[j] = (EM[t] if neg else EP[t]) - best
        u1s[j] = kap * d1
        u2s[j] = kap * d2
        y11 = Z1[t, 0] * Z1[t, 0]
        y12 = Z1[t, 0] * Z1[t, 1]
        y22 = Z1[t, 1] * Z1[t, 1]
        G[0, j] = y11
        G[1, j] = y12
        G[2, j] = y22
        G[3, j] = d1
        G[4, j] = d2
        G[5, j] = d1 * d1 + d2 * d2
        G[6, j] = y11 * d1 + y12 * d2
        G[7, j] = y12 * d1 + y22 * d2
    ew, ep, em, kf = S[:n], S[n:2 * n], S[2 * n:3 * n], S[3 * n:4 * n]
    bm = S[4 * n:5 * n].view(np.int64)
    bp = bits[:n]
    _exp_pm(e0s, 1.0, n, ew, em, kf, bp, bm)
    h = ne // 2
    for k in range(h, ne):      # the node x_k >= 0 and its mirror -x_k (the same one if x_k = 0)
        x = xe[k]
        c1p = c1m = c2p = c2m = -np.inf
        for j in range(n):
            c1p = max(c1p, e0s[j] + u1s[j] * x)
            c1m = max(c1m, e0s[j] - u1s[j] * x)
            c2p = max(c2p, u2s[j] * x)
            c2m = max(c2m, -u2s[j] * x)
        _exp_pm(u1s, x, n, ep, em, kf, bp, bm)
        _single_rows(ew, True, ep, em, math.exp(-c1p), math.exp(-c1m), W[k], W[ne - 1 - k], n)
        _exp_pm(u2s, x, n, ep, em, kf, bp, bm)
        _single_rows(ew, False, ep, em, math.exp(-c2p), math.exp(-c2m), W[ne + k], W[2 * ne - 1 - k], n)


@njit_compiled(cache=True, nogil=True, fastmath={"reassoc", "contract"}, inline="always")
def _node_sums(wk, wl, G, i0, i1):
    """The nine sums over the nodes ``i0 <= i < i1`` at one ``eta`` node: ``sum wk wl`` and ``sum
    G[j] wk wl`` (:func:`_tilted_sums`), in single precision, nine running sums in registers."""
    g0, g1, g2, g3 = G[0, i0:i1], G[1, i0:i1], G[2, i0:i1], G[3, i0:i1]
    g4, g5, g6, g7 = G[4, i0:i1], G[5, i0:i1], G[6, i0:i1], G[7, i0:i1]
    xk, xl = wk[i0:i1], wl[i0:i1]
    z = np.float32(0.0)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = z
    for i in range(i1 - i0):
        p = xk[i] * xl[i]
        a0 += p
        a1 += g0[i] * p
        a2 += g1[i] * p
        a3 += g2[i] * p
        a4 += g3[i] * p
        a5 += g4[i] * p
        a6 += g5[i] * p
        a7 += g6[i] * p
        a8 += g7[i] * p
    return a0, a1, a2, a3, a4, a5, a6, a7, a8


@njit_compiled(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _tilted_sums(W, G, n, ne, acc):
    """``acc[0, k ne + l] = sum_i W[k, i] W[ne + l, i]`` and ``acc[1 + j, k ne + l] = sum_i G[j, i]
    W[k, i] W[ne + l, i]`` over the first ``n`` columns (the posterior sums at each ``eta`` node
    ``(k, l)``; ``W`` and ``G`` single precision, from :func:`_posterior_fill`; ``acc`` double).

    One ``eta`` node per pass along contiguous rows, so that the compiler vectorises it (eight
    single-precision lanes; ``reassoc``: the running sums are split across the lanes) with its nine
    running sums in registers (two nodes per pass, eighteen sums, spilled: 1.4 times slower), over
    blocks of :data:`_SUM_BLOCK` nodes whose sums are added in double precision (the relative
    rounding error of a sum of positive terms grows with their number: 3e-8 against 3e-7 for 4349
    nodes in one block)."""
    acc[:, :] = 0.0
    for i0 in range(0, n, _SUM_BLOCK):
        i1 = min(n, i0 + _SUM_BLOCK)
        for k in range(ne):
            for l in range(ne):
                a = _node_sums(W[k], W[ne + l], G, i0, i1)
                r = k * ne + l
                for j in range(9):
                    acc[j, r] += a[j]


@njit_compiled(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _posterior_sums_double(k, l, n, idx, R, r1, r2, Z1, xe, E, out):
    """The nine sums of :func:`_tilted_sums` at the ``eta`` node ``(k, l)`` alone, in double
    precision throughout, the weights relative to the largest there: the fallback where the
    single-precision sums lose accuracy (:data:`_P_SINGLE_MIN`), and their reference in the tests."""
    B1, B2 = R[0], R[1]
    e0s, u1s, u2s = E[0], E[1], E[2]
    xk, xl = xe[k], xe[l]
    top = -np.inf
    for j in range(n):
        top = max(top, e0s[j] + u1s[j] * xk + u2s[j] * xl)
    out[:] = 0.0
    for j in range(n):
        w = math.exp(e0s[j] + u1s[j] * xk + u2s[j] * xl - top)
        t = idx[j] >> 1
        sg = 1.0 - 2.0 * (idx[j] & 1)
        d1 = sg * B1[t] - r1
        d2 = sg * B2[t] - r2
        y11 = Z1[t, 0] * Z1[t, 0]
        y12 = Z1[t, 0] * Z1[t, 1]
        y22 = Z1[t, 1] * Z1[t, 1]
        out[0] += w
        out[1] += w * y11
        out[2] += w * y12
        out[3] += w * y22
        out[4] += w * d1
        out[5] += w * d2
        out[6] += w * (d1 * d1 + d2 * d2)
        out[7] += w * (y11 * d1 + y12 * d2)
        out[8] += w * (y12 * d1 + y22 * d2)


@njit_compiled(cache=True, nogil=True)
def _deep_subbranch_truth_kernel(q, c, Zs, Z2, w2, xe, we, Ai, hz, Z1, wz, out, double=False):
    """The integrand of ``(K_1, K_2)`` on the invariant subspace ``Q_11 = Q_12 = 0``, ``Q_22 = q``
    at each teacher's ``z_1*`` of ``Zs``, averaged over the rest of the teacher: row ``a`` of
    ``out`` receives ``(|G|_F^2, |g_2|^2, K_2^N, K_12, G_11, G_12, G_22)`` averaged over ``z_2* ~
    N(0, I)`` on ``(Z2, w2)`` and ``omega_2 = q z_2* + sqrt(q (1 - q)) eta``, ``eta ~ N(0,
    I)`` on the tensor rule ``(xe, we)^2`` (the joint law of ``(omega_2, z_2*)``), ``h = A(z_1*)
    z_2*``; the posterior of ``z_1`` given ``(+-h, omega_2)`` on the precomputed grid ``(Ai, hz,
    Z1, wz)`` as in :func:`_deep_subbranch_kernel`. Over ``h`` the observation's density is a
    blurred triangle (``h = A(s) omega_2 + O(sqrt(1 - q))``, ``s`` the two softmax weights), whose
    edges of width ``sqrt(1 - q) (1 + c)`` a tensor rule in ``h`` does not resolve once ``q`` is
    close to 1; over the teacher there is no such edge (the layers in ``z_1*`` are left to the
    outer rule, :func:`_truth_K`).

    The ``eta`` nodes share ``h``: with ``d = +-A^{-1} h - q z_2*`` the inner weight
    ``exp(-|d - sqrt(q v) eta|^2 / 2v)`` factors into ``exp(-|d|^2 / 2v) exp(k d_1 eta_1) exp(k
    d_2 eta_2)`` (``k = sqrt(q / v)``; the common ``exp(-q |eta|^2 / 2)`` cancels in the posterior
    averages), so that the nine sums of every ``eta`` node are outer products of two vectors per
    inner node: :func:`_posterior_scan` keeps the nodes that carry weight, :func:`_posterior_fill`
    writes the two vectors' exponentials and :func:`_tilted_sums` adds the products up, in single
    precision (node averages within 3e-8 of double precision at ``c = 1e-4``); an ``eta`` node whose
    mass falls below :data:`_P_SINGLE_MIN` is recomputed in double precision
    (:func:`_posterior_sums_double`), and so is every one with ``double`` (the reference of the
    tests, ten times slower).

    The outer rule in ``z_1*`` is applied by the caller (:func:`_truth_K`), so that the Nishimori
    form ``E tr(G (z_1* z_1*^T - I))`` takes ``z_1* z_1*^T`` into its weights (the rule in softmax
    coordinates, :mod:`equations._softmax_rule`): only the node averages of ``G`` are returned."""
    v = 1.0 - q
    sqv = math.sqrt(q * v)
    kap = sqv / v
    ne = xe.size
    nz = hz.size
    for j in range(ne):
        if xe[j] != -xe[ne - 1 - j]:
            raise ValueError("the eta rule must be symmetric about 0 (_posterior_fill)")
    lwe = np.log(we / we.max())
    lb = np.log(wz * hz)
    AiT = np.ascontiguousarray(Ai.T)
    out[:, :] = 0.0
    acc = np.zeros((9, ne * ne))
    R = np.empty((8, nz))
    idx = np.empty(2 * nz + 1, dtype=np.int64)
    E = np.empty((3, 2 * nz))
    G = np.empty((8, 2 * nz), dtype=np.float32)
    W = np.empty((2 * ne, 2 * nz), dtype=np.float32)
    S = np.empty(10 * nz)
    bits = np.empty(2 * nz, dtype=np.int64)
    fb = np.empty(9)
    for a in range(Zs.shape[0]):
        s1, s2 = _softmax_weights(Zs[a, 0], Zs[a, 1])
        A11 = 1.0 - s1 + c
        A22 = 1.0 - s2 + c
        for b in range(w2.size):
            t1 = Z2[b, 0]
            t2 = Z2[b, 1]
            m1 = q * t1
            m2 = q * t2
            n, r1, r2, best = _posterior_scan(A11 * t1 + s1 * t2, s2 * t1 + A22 * t2, m1, m2, v, kap, xe, lwe, AiT,
                                              lb, R, idx)
            _posterior_fill(n, idx, R, best, r1, r2, kap, Z1, xe, E, G, W, S, bits)
            if not double:
                _tilted_sums(W, G, n, ne, acc)
            for k in range(ne):
                for l in range(ne):
                    r = k * ne + l
                    if double or not acc[0, r] > _P_SINGLE_MIN:
                        _posterior_sums_double(k, l, n, idx, R, r1, r2, Z1, xe, E, fb)
                        for j in range(9):
                            acc[j, r] = fb[j]
                    P = acc[0, r]
                    w = w2[b] * we[k] * we[l]
                    y11 = acc[1, r] / P
                    y12 = acc[2, r] / P
                    y22 = acc[3, r] / P
                    g11 = y11 - 1.0
                    g12 = y12
                    g22 = y22 - 1.0
                    out[a, 0] += w * (g11 * g11 + 2.0 * g12 * g12 + g22 * g22)
                    # the sums of z_2 are offsets from the reference r (_posterior_fill)
                    f1 = acc[4, r] / P
                    f2 = acc[5, r] / P
                    e1 = r1 + f1
                    e2 = r2 + f2
                    o1 = m1 + sqv * xe[k]
                    o2 = m2 + sqv * xe[l]
                    d1 = e1 - o1
                    d2 = e2 - o2
                    out[a, 1] += w * (d1 * d1 + d2 * d2) / (v * v)
                    # Nishimori form (2 - E tr Cov(z_2 | y) / v) / v; that of K_1 needs G alone
                    out[a, 2] += w * (2.0 - (acc[6, r] / P - f1 * f1 - f2 * f2) / v) / v
                    # Q_12 direction: e.(E z_2 - T) + e.G omega_2 / q, e = E z_2 - omega_2 (= d),
                    # T_l = sum_m E[z_1l z_1m (r_m + (z_2 - r)_m)]
                    T1 = acc[7, r] / P + y11 * r1 + y12 * r2
                    T2 = acc[8, r] / P + y12 * r1 + y22 * r2
                    out[a, 3] += w * (d1 * (e1 - T1) + d2 * (e2 - T2)
                                      + (d1 * (g11 * o1 + g12 * o2) + d2 * (g12 * o1 + g22 * o2)) / q) / (v * v)
                    out[a, 4] += w * g11
                    out[a, 5] += w * g12
                    out[a, 6] += w * g22


@functools.lru_cache(maxsize=32)
def _z1_grid(c: float, n: int):
    x, w = _hermite_rule(n)
    Ai = np.empty((n * n, 4))
    hz = np.empty(n * n)
    Z1 = np.empty((n * n, 2))
    _attention_matrix_inverse(c, x, Ai, hz, Z1)
    wz = np.outer(w, w).ravel()
    for a in (Ai, hz, Z1, wz):
        a.flags.writeable = False
    return Ai, hz, Z1, wz


@functools.lru_cache(maxsize=32)
def _z1_grid_half(c: float, n: int):
    """:func:`_z1_grid` on the half ``i < n / 2`` of the tensor rule, weights doubled: ``A(z_1)``,
    ``1 / |det A|`` and ``z_1 z_1^T`` are even in ``z_1`` (nodes of weight below ``1e-18`` of the
    largest dropped)."""
    Ai, hz, Z1, wz = _z1_grid(c, n)
    keep = (np.arange(n * n) // n < n // 2) & (wz > 1e-18 * wz.max())
    out = tuple(np.ascontiguousarray(a[keep]) for a in (Ai, hz, Z1)) + (2.0 * wz[keep],)
    for a in out:
        a.flags.writeable = False
    return out


@njit_compiled(cache=True)
def _attention_matrix_inverse_nodes(c, Z1, Ai, hz):
    """:func:`_attention_matrix_inverse` at the listed nodes ``Z1`` (``n x 2``) instead of a tensor
    grid, with ``det A = (1 + c)(c + 1 - s_1 - s_2)`` free of cancellation where ``s_1 + s_2 -> 1``
    (:func:`_softmax_weights_gap`): it keeps its relative accuracy down to ``c = 0``."""
    for t in range(Z1.shape[0]):
        s1, s2, gap = _softmax_weights_gap(Z1[t, 0], Z1[t, 1])
        a11 = 1.0 - s1 + c
        a22 = 1.0 - s2 + c
        det = (1.0 + c) * (c + gap)
        Ai[t, 0] = a22 / det
        Ai[t, 1] = -s1 / det
        Ai[t, 2] = -s2 / det
        Ai[t, 3] = a11 / det
        hz[t] = 1.0 / abs(det)


@functools.lru_cache(maxsize=16)
def _z1_grid_graded(c: float, n_mu: int, n_gl: int, h0: float, wmax: float = 1.0, dmax: float = 10.0):
    """The inner rule in ``z_1`` for small ``c``: coordinates ``delta = z_12 - z_11 ~ N(0, 2)`` and
    ``mu = (z_11 + z_12) / 2 ~ N(0, 1/2)`` (``dz_11 dz_12 = d delta d mu``), ``delta >= 0`` only
    with weight 2 (the posterior is even in ``z_1``, which maps ``(delta, mu)`` to ``-(delta,
    mu)``), on composite Gauss-Legendre panels (``n_gl`` nodes) graded toward ``delta = 0`` from the
    width ``h0`` (doubling up to ``wmax``), cut at ``dmax``; ``mu`` on ``n_mu`` Gauss-Hermite nodes.
    The whole line ``z_11 = z_12`` is where ``A(z_1)`` is nearly singular (``det A = (1 + c)(c +
    delta^2 / 4 + O(delta^4))``): there ``N(A^{-1} h; 0, I) / |det A|`` varies on the scale
    ``sqrt(c)`` in ``delta`` (and ``sqrt(|h_1 - h_2|)``), which the graded panels resolve. Returns
    ``(Ai, hz, Z1, wz)`` as :func:`_z1_grid_half` (nodes of weight below ``1e-18`` of the largest
    dropped)."""
    gx, gw = _unit_legendre(n_gl)
    edges = np.empty(512)
    n = _graded_panels(0.0, dmax, 0.0, h0, wmax, edges)
    e = edges[:n]
    d = (e[:-1, None] + np.diff(e)[:, None] * gx).ravel()
    wd = (np.diff(e)[:, None] * gw).ravel() * 2.0 * np.exp(-0.25 * d * d) / math.sqrt(4.0 * math.pi)
    xm, wm = _hermite_rule(n_mu)
    mu = xm / math.sqrt(2.0)
    D, M = np.meshgrid(d, mu, indexing="ij")
    Z1 = np.ascontiguousarray(np.stack([(M - 0.5 * D).ravel(), (M + 0.5 * D).ravel()], 1))
    wz = np.outer(wd, wm).ravel()
    keep = wz > 1e-18 * wz.max()
    Z1 = np.ascontiguousarray(Z1[keep])
    wz = np.ascontiguousarray(wz[keep])
    Ai = np.empty((Z1.shape[0], 4))
    hz = np.empty(Z1.shape[0])
    _attention_matrix_inverse_nodes(float(c), Z1, Ai, hz)
    out = (Ai, hz, Z1, wz)
    for a in out:
        a.flags.writeable = False
    return out


@functools.lru_cache(maxsize=16)
def _tensor_nodes(n: int, scale: float = 1.0, density: bool = False):
    """The tensor Gauss-Hermite rule of ``N(0, scale^2 I_2)`` as listed nodes ``(X, W)`` (``n^2 x 2``
    and ``n^2``, read-only), the form the ``*_nodes_kernel`` averages take. ``density=True``: the
    weights of ``int dh`` instead (``W / N(h; 0, scale^2 I)``), as for an outer integral over ``h``
    whose integrand carries the density ``p(h)`` itself."""
    x, w = _hermite_rule(n)
    i, j = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    X = np.ascontiguousarray(np.column_stack([scale * x[i], scale * x[j]]))
    W = w[i] * w[j]
    if density:
        W = W * 2.0 * math.pi * scale * scale * np.exp(0.5 * (x[i] ** 2 + x[j] ** 2))
    W = np.ascontiguousarray(W)
    X.flags.writeable = False
    W.flags.writeable = False
    return X, W


@njit_compiled(cache=True)
def _deep_linear_nodes_kernel(H, Wh, Ai, hz, Z1, wz):
    """``(F_11, F_22, F_12, norm)`` at ``Q = 0``: ``F_kk = E_h ||E[z_k z_k^T | h] - I||_F^2``,
    ``F_12 = E_h tr(G_11 G_22)``, ``norm = int p(h) dh`` (1 up to the rule's error), with ``h`` on
    the listed outer nodes ``H`` (``n x 2``) with the weights ``Wh`` of ``int dh`` (not of a
    Gaussian: :func:`_tensor_nodes` with ``density=True``, or :func:`_h_rule_graded`), ``z_1`` on
    the precomputed grid (weights ``wz``)."""
    F11 = 0.0
    F22 = 0.0
    F12 = 0.0
    norm = 0.0
    for i in range(Wh.size):
        P, G, K = _posterior_gaps(H[i, 0], H[i, 1], Ai, hz, Z1, wz)
        if P <= 0.0:
            continue
        w = Wh[i] * P / (2.0 * math.pi)
        f11, f22, f12 = _gap_products(G, K)
        F11 += w * f11
        F22 += w * f22
        F12 += w * f12
        norm += w
    return F11, F22, F12, norm


@njit_compiled(cache=True)
def _deep_truth_nodes_kernel(Zs, ws, Z2, w2, c, Ai, hz, Z1, wz):
    """The same ``(F_11, F_22, F_12)`` as :func:`_deep_linear_nodes_kernel`, averaged over the truth
    ``(z_1, z_2)`` instead of over ``h`` (``h = A(z_1) z_2`` computed at each node): ``z_1*`` on
    the listed nodes ``(Zs, ws)``, ``z_2*`` on ``(Z2, w2)`` (the tensor rule of :func:`_tensor_nodes`
    for both, or the graded rules of :func:`_teacher_z1_rule` and :func:`_teacher_z2_graded`): an
    outer integrator independent of the one over ``h``."""
    F11 = 0.0
    F22 = 0.0
    F12 = 0.0
    for a in range(ws.size):
        z11 = Zs[a, 0]
        z12 = Zs[a, 1]
        s1, s2 = _softmax_weights(z11, z12)
        for b in range(w2.size):
            w = ws[a] * w2[b]
            h1 = (1.0 - s1 + c) * Z2[b, 0] + s1 * Z2[b, 1]
            h2 = s2 * Z2[b, 0] + (1.0 - s2 + c) * Z2[b, 1]
            _, G, K = _posterior_gaps(h1, h2, Ai, hz, Z1, wz)
            f11, f22, f12 = _gap_products(G, K)
            F11 += w * f11
            F22 += w * f22
            F12 += w * f12
    return F11, F22, F12


@functools.lru_cache(maxsize=16)
def _h_rule_graded(c: float, n_g: int, n_gl: int, h0: float, wmax: float):
    """Outer rule in ``h`` for small ``c``, in ``e = h_1 - h_2 >= 0`` (weight 2: the token swap maps
    ``e`` to ``-e`` and leaves ``||E[z z^T | h] - I||``, ``tr(G_11 G_22)`` unchanged) and ``g = h_1 +
    h_2`` (``dh = de dg / 2``). Given ``z_1``, ``e = kappa (z_21 - z_22)`` with ``kappa = det A / (1 +
    c) >= c``: the density of ``e`` has a spike of width ``~ c`` at 0 (``e^{-1/2}`` at ``c = 0``),
    resolved by composite Gauss-Legendre panels graded toward 0 from ``h0`` (doubling to ``wmax``,
    cut at ``12 (1 + c)``); ``g = (1 + c)(z_21 + z_22) + (s_2 - s_1)(z_21 - z_22)`` has a variance
    at most ``2 (1 + c)^2 + 2``, the scale of its Gauss-Hermite rule (``n_g`` nodes; ``int dg f =
    E[f / N(g; 0, sg^2)]``)."""
    gx, gw = _unit_legendre(n_gl)
    edges = np.empty(512)
    n = _graded_panels(0.0, 12.0 * (1.0 + c), 0.0, h0, wmax, edges)
    ed = edges[:n]
    e = (ed[:-1, None] + np.diff(ed)[:, None] * gx).ravel()
    we = (np.diff(ed)[:, None] * gw).ravel() * 2.0
    sg = math.sqrt(2.0 * (1.0 + c) ** 2 + 2.0)
    xg, wg = _hermite_rule(n_g)
    g = sg * xg
    wgg = wg * math.sqrt(2.0 * math.pi) * sg * np.exp(0.5 * xg * xg)
    E, Gm = np.meshgrid(e, g, indexing="ij")
    H = np.ascontiguousarray(np.stack([0.5 * (Gm + E).ravel(), 0.5 * (Gm - E).ravel()], 1))
    Wh = 0.5 * np.outer(we, wgg).ravel()
    for a in (H, Wh):
        a.flags.writeable = False
    return H, Wh


@functools.lru_cache(maxsize=16)
def _teacher_rules(n_teacher: int):
    """The outer rule in ``z_1*`` of the truth route of :func:`deep_linearisation` for ``c >= 0.5``
    (:func:`_teacher_z1_rule`): the half ``i < n / 2`` of a tensor Gauss-Hermite rule (``z_1* ->
    -z_1*`` leaves the posterior of ``z_1 z_1^T`` unchanged), without the nodes of weight below
    ``1e-12`` of the largest (together 6e-13 of the mass at 24 nodes per axis, and a third of the
    nodes)."""
    x, w = _hermite_rule(n_teacher)
    half = n_teacher // 2
    X, Y = np.meshgrid(x[:half], x, indexing="ij")
    Zs = np.stack([X.ravel(), Y.ravel()], 1)
    ws = 2.0 * np.outer(w[:half], w).ravel()
    keep = ws > 1e-12 * ws.max()
    Zs = np.ascontiguousarray(Zs[keep])
    ws = np.ascontiguousarray(ws[keep])
    ws.flags.writeable = False
    Zs.flags.writeable = False
    return Zs, ws


@functools.lru_cache(maxsize=64)
def _teacher_z2_graded(n_gl: int, h0: float, level: int = 0, mu_h0: float | None = None):
    """``z_2*`` in rotated coordinates ``mu = (z_21 + z_22) / sqrt 2 >= 0`` and ``D = (z_22 - z_21) /
    sqrt 2 >= 0`` (weight 4: ``(z_2*, eta) -> -(z_2*, eta)`` maps ``(h, omega_2)`` to ``-(h,
    omega_2)``, the same observation up to the sign of ``z_2``; ``(z_21, z_22) -> (-z_22, -z_21)``
    with the token swap of ``z_1*`` and ``eta`` leaves the average unchanged), each on composite
    Gauss-Legendre panels (``n_gl`` nodes) graded toward 0 from width ``h0`` (doubling up to
    ``_Z2_WMAX``), cut at 5. Two
    features of width ``~ sqrt(1 - q) (1 + c) / c`` sit there: at ``D = 0`` ``h = A(s) z_2*``
    stops depending on the softmax weights ``s`` (``A(s) t = (1 + c) t + (t_2 - t_1) (s_1,
    -s_2)``: no information on ``z_1``), and near ``z_2* = 0`` the sign of ``z_2`` is ambiguous
    (``A(s') (-omega_2) = h`` has a solution ``s'`` in the simplex only within ``O(sqrt(1 - q))``
    of ``D = 0``). Panels from ``_Z2_TAPER`` on carry one node fewer each than the one before
    (at least 3): their Gaussian mass is small (0.016, 7e-4, 1e-5 for the default panels, ``[2.4,
    3.4]``, ``[3.4, 4.4]``, ``[4.4, 5]``).

    ``level > 0`` grades the ``D`` axis further, from ``h0 / 2^level``, with
    ``_Z2_FINE_GL`` nodes in the panels narrower than ``h0``: a third feature, at ``D ~ c / g*``
    (:func:`_z2_levels`). ``mu_h0`` (default ``h0``) is the first panel of the ``mu`` axis: at small
    skips ``1.0`` (panels of width 1 from 0, no grading; :data:`_STAIR_LIGHT_Z2`)."""
    def axis(first):
        edges = np.empty(256)
        n = _graded_panels(0.0, 5.0, 0.0, first, _Z2_WMAX, edges)
        e = edges[:n]
        x, w = [], []
        m = n_gl
        for i in range(n - 1):
            if e[i] >= _Z2_TAPER:
                m = max(3, m - 1)
            gx, gw = _unit_legendre(m if e[i + 1] - e[i] >= h0 * (1.0 - 1e-12) else min(m, _Z2_FINE_GL))
            x.append(e[i] + (e[i + 1] - e[i]) * gx)
            w.append((e[i + 1] - e[i]) * gw)
        x = np.concatenate(x)
        return x, np.concatenate(w) * 2.0 * _INV_SQRT_2PI * np.exp(-0.5 * x * x)

    d, wd = axis(h0 * 0.5 ** int(level))
    m, wm = axis(h0 if mu_h0 is None else mu_h0)
    D, M = np.meshgrid(d, m, indexing="ij")
    Z2 = np.ascontiguousarray(np.stack([((M - D) / math.sqrt(2.0)).ravel(), ((M + D) / math.sqrt(2.0)).ravel()], 1))
    w2 = np.outer(wd, wm).ravel()
    for a in (Z2, w2):
        a.flags.writeable = False
    return Z2, w2


def _z2_levels(c, Zs):
    """The grading level of the ``D`` axis of :func:`_teacher_z2_graded` that each teacher's ``z_1*``
    (rows of ``Zs``) needs. With ``g* = 1 - s_1* - s_2*``, ``h_1 - h_2 = -sqrt 2 (c + g*) D``, and a
    student ``z_1`` near its own singular line (``det A(z_1) ~ c``) stays plausible only while
    ``|h_1 - h_2| <~ c``: below ``D ~ c / (c + g*)`` the posterior gains that component, whose
    ``Cov(z_2)`` is large. Measured at ``c = 1e-4``, ``q = 0.753`` (``K_2^N`` at single nodes):
    converged once the first panel is below about ``2.5 c / g*``, and 1.5e-3 off (``g* = 0.01``,
    0.03), 1.5e-4 (0.1), 2e-5 (0.3) with the plain first panel 0.2; 2e-6 with ``h0 / 2^level <=
    _Z2_D_KAPPA c / (c + g*)`` and 4 nodes in the narrow panels. For ``c >= 0.5`` the level is 0."""
    g = np.array([_softmax_weights_gap(z11, z12)[2] for z11, z12 in Zs])
    need = _Z2_D_KAPPA * c / (c + g)
    return np.clip(np.ceil(np.log2(_Z2_H0 / need)), 0, _Z2_MAX_LEVEL).astype(np.int64)


def _check_workers(workers):
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or not 1 <= workers <= 64:
        raise ValueError(f"workers (threads for the outer average) must be an integer in [1, 64], got {workers!r}")
    return int(workers)


def _check_skip(skip):
    c = _real("skip", skip)
    lo, hi = _SKIP_RANGE
    if not lo <= c <= hi:
        why = (f"below {lo:g} the accuracy of the rules graded toward the nearly singular line z_11 = z_12 "
               f"(det A(z_1) >= c (1 + c)) has not been measured; alpha_2 tends to 0.276555 as c -> 0"
               if c < lo else f"above {hi:g} the rules have not been measured (alpha_2 -> 1/6 as c -> inf)")
        raise ValueError(f"skip (the skip-connection strength c) must be in [{lo:g}, {hi:g}], got {c}: {why}")
    return c


def _n_gl_graded(n):
    """Gauss-Legendre nodes per panel of a graded rule that stands for ``n`` Gauss-Hermite nodes."""
    return max(3, n // 8)


def _inner_grid(c, n_z, per_panel=8):
    """The half inner rule in ``z_1`` at skip ``c``: the tensor one of :func:`_z1_grid_half` for ``c
    >= _C_GRADED``, else the graded one of :func:`_z1_grid_graded` (``n_z`` Gauss-Hermite nodes in
    ``mu``, ``max(3, n_z // per_panel)`` Gauss-Legendre nodes per panel in ``delta``)."""
    if c >= _C_GRADED:
        return _z1_grid_half(c, n_z)
    return _z1_grid_graded(c, n_z, max(3, n_z // per_panel), _DELTA_H0 * math.sqrt(c))


def _teacher_z1_rule(c, n_teacher):
    """The outer rule in ``z_1*`` of the truth route of :func:`deep_linearisation` (the sub-branch's
    is :func:`equations._softmax_rule.softmax_rule`): :func:`_teacher_rules` for ``c >=
    _C_GRADED``, else the nodes and weights of :func:`_z1_grid_graded` (the same graded
    coordinates; the outer integrand has the feature of width ``sqrt(c)`` along ``z_11* = z_12*``
    too), without the nodes of weight below ``1e-12`` of the largest."""
    if c >= _C_GRADED:
        return _teacher_rules(n_teacher)
    _, _, Z, w = _z1_grid_graded(c, n_teacher, _n_gl_graded(n_teacher), _DELTA_H0 * math.sqrt(c))
    keep = w > 1e-12 * w.max()
    return np.ascontiguousarray(Z[keep]), np.ascontiguousarray(w[keep])


def deep_linearisation(skip: float, *, n_h: int = _N_H, n_z: int = _N_Z1, route: str = "h") -> dict:
    """The linearised state evolution of ``deep_attention`` at ``Q = 0`` (module docstring).

    Parameters
    ----------
    skip : float
        Skip-connection strength ``c`` of ``A(z) = softmax(z z^T) + c I``.
    n_h, n_z : int
        Gauss-Hermite nodes per axis of the outer and inner (``z_1``) rules. Below ``c = 0.5`` the
        rules are graded (module docstring, "Small skips"): ``n_h`` Gauss-Hermite nodes in ``g = h_1
        + h_2`` and ``max(3, n_h // 8)`` Gauss-Legendre nodes per panel in ``e = h_1 - h_2``
        (:func:`_h_rule_graded`), ``n_z`` Gauss-Hermite nodes in ``mu = (z_11 + z_12) / 2`` and
        ``max(3, n_z // 8)`` per panel in ``delta = z_12 - z_11`` (:func:`_z1_grid_graded`).
    route : {"h", "truth"}
        Outer average over the observation ``h`` (a tensor rule scaled by ``(1 + c)``; graded
        below ``c = 0.5``), or over the teacher's ``(z_1, z_2) ~ N(0, I_4)`` (``n_h`` nodes per
        axis of a 4-dimensional tensor rule; below ``c = 0.5``: ``z_1*`` on the graded rule with
        ``n_h`` nodes in ``mu``, ``z_2*`` on the graded rule of :func:`_teacher_z2_graded`, tens of
        seconds): two independent integrators of the same numbers.

    Returns
    -------
    dict
        ``F11``, ``F22``, ``F12`` (``E ||G_11||^2``, ``E ||G_22||^2``, ``E tr(G_11 G_22)``) and the
        thresholds ``alpha_1 = 1 / F11``, ``alpha_2 = 1 / F22``, ``alpha_12 = 1 / F12``.
    """
    c = _check_skip(skip)
    if route not in ("h", "truth"):
        raise ValueError(f"route must be 'h' or 'truth', got {route!r}")
    for name, v in (("n_h", n_h), ("n_z", n_z)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 8 <= v <= 400:
            raise ValueError(f"{name} must be an integer in [8, 400], got {v!r}")
    n_h, n_z = int(n_h), int(n_z)
    if c >= _C_GRADED:
        inner = _z1_grid(c, n_z)
        if route == "h":
            # h on the tensor rule of N(0, ((1 + c) _H_SCALE)^2 I), weights of int dh
            F11, F22, F12, _ = _deep_linear_nodes_kernel(*_tensor_nodes(n_h, _H_SCALE * (1.0 + c), True), *inner)
        else:
            # the truth (z_1, z_2) ~ N(0, I_4) on the tensor rule: an outer integrator independent of h's
            Z, W = _tensor_nodes(n_h)
            F11, F22, F12 = _deep_truth_nodes_kernel(Z, W, Z, W, c, *inner)
    elif route == "h":
        H, Wh = _h_rule_graded(c, n_h, _n_gl_graded(n_h), _E_H0 * c, 0.5 * (1.0 + c))
        F11, F22, F12, _ = _deep_linear_nodes_kernel(H, Wh, *_inner_grid(c, n_z))
    else:
        Zs, ws = _teacher_z1_rule(c, n_h)
        Z2, w2 = _teacher_z2_graded(_n_gl_graded(n_h), _TRUTH_Z2_H0)
        F11, F22, F12 = _deep_truth_nodes_kernel(Zs, ws, Z2, w2, c, *_inner_grid(c, n_z))
    return {"F11": F11, "F22": F22, "F12": F12, "alpha_1": 1.0 / F11, "alpha_2": 1.0 / F22,
            "alpha_12": 1.0 / F12}


def deep_subbranch(skip: float, q: float, *, route: str = "truth", n_h: int = 32, n_omega: int = 12, n_z: int = _N_Z_STAIR,
                   n_teacher: int = _N_TEACHER, n_gl: int = _N_GL_Z2, n_eta: int = _N_ETA, workers: int = 1) -> dict:
    """``(K_1, K_2)`` of ``deep_attention`` on the invariant subspace ``Q_11 = Q_12 = 0``, ``Q_22 =
    q`` (module docstring): ``alpha K_2(q) / (1 + alpha K_2(q))`` is the sub-branch map of
    ``Q_22``, and ``alpha K_1(q)`` the growth rate of ``Q_11`` there.

    Parameters
    ----------
    skip : float
        Skip-connection strength ``c``.
    q : float
        ``Q_22`` in ``(0, 1)``.
    route : {"h", "truth"}
        ``"h"``: outer average over ``(h, omega_2)``, tensor Gauss-Hermite rules in ``h`` (``n_h``
        per axis) and ``omega_2`` (``n_omega``); refused below ``c = 0.5`` (the density of ``h_1 -
        h_2`` has a spike of width ``~ c`` at 0 that the tensor rule misses). ``"truth"``: outer
        average over the teacher ``(z_1*, z_2*)`` and ``eta`` (``omega_2 = q z_2* + sqrt(q (1 - q))
        eta``, :func:`_deep_subbranch_truth_kernel`): ``z_1*`` on the rule in softmax coordinates
        (``n_teacher`` Gauss-Legendre nodes per coordinate, :mod:`equations._softmax_rule`),
        Gauss-Hermite in ``eta`` (``n_eta``), ``z_2*`` in rotated coordinates on composite Gauss-Legendre
        rules (``n_gl`` nodes per panel) graded toward ``z_21 = z_22`` and ``z_2* = 0``
        (:func:`_teacher_z2_graded`). It also returns the Nishimori forms ``K1_nishimori = E tr(G
        (z_1* z_1*^T - I))`` and ``K2_nishimori = (2 - E tr Cov(z_2 | y, omega_2) / v) / v``
        (``v = 1 - q``), equal to ``K1``, ``K2`` in exact arithmetic: their difference measures
        the rules' error. Near ``q = 1`` they vary less over the teacher than ``E ||G||^2`` and
        ``E |g_2|^2`` and converge faster; near ``q = 0`` the second one cancels (``K_2 = O(q)``).
    n_z : int
        Gauss-Hermite nodes per axis of the inner rule in ``z_1`` (both routes; ``"truth"`` uses
        the half ``z_11 < 0`` of it, the posterior being even in ``z_1``).
    workers : int
        Route ``"truth"``: threads over which the outer ``z_1*`` nodes are split.

    Notes
    -----
    Accuracy at ``c = 1``, ``q = 0.5``, where the noise of ``omega_2`` is largest (``K_2``, against
    2.4712 +- 2e-4: the teacher route with 8, 12 and 16 ``eta`` nodes per axis, 2.47100, 2.47118,
    2.47132, and the full state evolution :func:`deep_state_evolution` by quasi-Monte Carlo,
    2.4718 +- 0.0018 over six seeds of ``2^14`` points, an independent integrator). Route
    ``"truth"`` (default, 12 / 6 / 8 / 48): 2.47133, 1e-4 (8 nodes per coordinate of the outer
    rule in softmax coordinates give the same to 1e-6; the former Gauss-Hermite rule in ``z_1*``
    gave 2.47100); with 4 ``eta`` nodes per axis (the default until 2026-12-01) 2.4887, 0.7% high. Route ``"h"`` (32 / 12 / 48): 2.4875, 0.66% high; 20
    ``omega_2`` nodes per axis 2.4748, still 0.15% (the integrand's features in ``omega_2``, where
    the sign of ``h`` is ambiguous, converge slowly on Gauss-Hermite nodes). The two routes once
    agreed to 1e-4 at these rules, each off by the same 0.7%: their ``h`` and ``z_1`` rules were
    refined, the ``omega_2`` rules not. Route ``"h"`` also degrades as ``1 - q`` shrinks: the
    density of ``h`` given ``omega_2`` is a triangle blurred on the scale ``sqrt(1 - q) (1 + c)``,
    which the tensor rule in ``h`` does not resolve (``K_2`` off by 1-3% at ``q = 0.9``). Route
    ``"truth"`` near ``q = 1``: the module docstring has its convergence at ``q = 0.97`` (12 outer
    nodes per coordinate there: 1.2e-4 in the growth rate from 16). Cost of the default rules:
    about 10 s of CPU per call at ``q = 0.5``, 5 s at ``q = 0.97`` (43-48 s before the kernel's
    pruning, 2026-12-01, 20 s and 11 s before its bound of 2026-12-02, :data:`_PRUNE`; two threads
    halve the wall time: ``workers``), route ``"h"`` about 10 s.

    Returns
    -------
    dict with ``K1``, ``K2``, ``alpha_q`` (the ``alpha`` at which ``q`` is the sub-branch's fixed
    point, ``q / ((1 - q) K_2)``) and ``growth_1`` (``alpha_q K_1``: above 1, ``Q_11`` grows there);
    route ``"truth"`` adds ``K1_nishimori``, ``K2_nishimori``, ``K12`` (``dQ_hat_12 / dQ_12`` over
    ``alpha``, module docstring) and ``lambda_12 = alpha_q (1 - q) K_12`` (the rate of ``Q_12``).
    """
    c = _check_skip(skip)
    q = _real("q", q)
    if not 0.0 < q < 1.0:
        raise ValueError(f"q (the overlap Q_22) must be in (0, 1), got {q}")
    if route not in ("h", "truth"):
        raise ValueError(f"route must be 'h' or 'truth', got {route!r}")
    for name, v in (("n_h", n_h), ("n_omega", n_omega), ("n_z", n_z), ("n_teacher", n_teacher), ("n_gl", n_gl),
                    ("n_eta", n_eta)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 3 <= v <= 400:
            raise ValueError(f"{name} must be an integer in [3, 400], got {v!r}")
    workers = _check_workers(workers)
    if route == "truth" and n_z % 2:
        raise ValueError(f"n_z must be even for route 'truth' (the inner rule is folded in half), got {n_z}")
    if route == "truth" and n_teacher > _N_SOFTMAX_MAX:
        raise ValueError(f"n_teacher (nodes per coordinate of the outer rule in softmax coordinates) must be at most "
                         f"{_N_SOFTMAX_MAX} for route 'truth', got {n_teacher}")
    if route == "h" and c < _C_GRADED:
        raise ValueError(f"route 'h' of deep_subbranch is refused for skip c = {c} < {_C_GRADED}: its tensor rule "
                         f"in h misses the spike of the density of h_1 - h_2 at 0 (width ~ c); use route='truth'")
    if route == "h":
        Ai, hz, Z1, wz = _z1_grid(c, int(n_z))
        xh, wh = _hermite_rule(int(n_h))
        xo, wo = _hermite_rule(int(n_omega))
        K1, K2, _ = _deep_subbranch_kernel(q, xh, wh, _H_SCALE * (1.0 + c), xo, wo, Ai, hz, Z1, wz)
        extra = {}
    else:
        K1, K2, N1, N2, K12 = _truth_K(c, q, int(n_teacher), int(n_gl), int(n_eta), int(n_z), workers)
        # lambda_12 = alpha_q (1 - q) K_12 with the alpha_q returned (direct form): q K_12 / K_2
        extra = {"K1_nishimori": N1, "K2_nishimori": N2, "K12": K12, "lambda_12": q * K12 / K2}
    alpha_q = q / ((1.0 - q) * K2)
    return {"K1": K1, "K2": K2, "alpha_q": alpha_q, "growth_1": alpha_q * K1, **extra}


def deep_state_evolution(skip: float, Q, *, log2_points: int = 14, n_z: int = 32, seed: int = 0,
                         workers: int = 2) -> dict:
    """The state evolution of ``deep_attention`` at any overlap ``Q`` (2 x 2), by quasi-Monte Carlo
    over the teacher (:mod:`equations._deep_se`): ``Q_hat / alpha = E sum_l g_l g_l^T`` and
    ``Psi_out``, so that ``Q -> Q_hat (I + Q_hat)^{-1}`` is the map of the full state evolution.

    An independent integrator of the sub-branch routes (:func:`deep_subbranch`) and the only one
    off the invariant subspace ``Q_11 = Q_12 = 0``; not accurate enough for a registered target
    (below).

    Parameters
    ----------
    skip : float
        Skip-connection strength ``c``, at least 0.5 (the inner rule is a tensor Gauss-Hermite rule
        in ``z_1``, which misses the nearly singular band ``|z_12 - z_11| <~ 2 sqrt(c)`` below;
        module docstring, "Small skips").
    Q : array_like, 2 x 2
        Symmetric, ``0 <= Q`` and ``V = I - Q`` with eigenvalues at least ``1e-3``.
    log2_points : int
        ``2^log2_points`` scrambled Sobol points (8 standard normal coordinates: the teacher's ``Z*``
        and the noise of ``omega``), each with its antithetic image; 10 to 20.
    n_z : int
        Gauss-Hermite nodes per axis of the inner rule in ``z_1``, 8 to 128.
    seed : int
        Seed of the scrambling: the map is deterministic for a given seed.
    workers : int
        Threads sharing the outer points.

    Returns
    -------
    dict
        ``A`` (``E sum_l g_l g_l^T``, 2 x 2, the direct form: exactly zero in the first row and
        column on the invariant subspace, as the true map), ``A_nishimori`` (``2 V^{-1} - V^{-1} E[sum_l
        Cov(Z_l | y, omega)] V^{-1}``, equal to ``A`` in expectation: their difference is a measure of
        the outer rule's error), ``psi_out`` (``E log Z_out``, the density of ``h`` folded over its
        sign) and ``top_share`` (the largest share of ``Z_out`` that one inner node carries, over the
        points: near one, the inner rule no longer resolves the posterior of ``z_1``; raise ``n_z``).

    Notes
    -----
    Accuracy at ``c = 1`` (measured). The outer rule: over seeds, ``A_22`` at ``Q = diag(0, 0.5)``
    scatters by 0.17% with ``2^14`` points (six seeds: 2.4718 +- 0.0018 against the converged
    teacher route's 2.4712; plain Monte Carlo with ``2^18`` points 2.4674 +- 0.005): the
    integrand, a posterior average given a label, varies over the teacher by about its own size
    (per-point standard deviation 2.8 for a mean of 2.5), so four digits would take some ``10^8``
    points. At ``Q = diag(0, 0.9736)`` (the staircase root) 51.32 for the teacher route's 51.27
    (0.1%) with ``n_z = 64``; ``n_z = 32`` is 0.2% off there (``top_share`` 0.5), and enough at ``Q =
    diag(0, 0.5)`` (``n_z = 48`` agrees to 1e-5) and at ``Q = [[0.3, 0.1], [0.1, 0.8]]`` (24 and 48
    agree to 3e-6). Cost: about 1 s per ``2^14`` points at ``n_z = 32`` on two idle cores (scaling
    with ``2^log2_points n_z^2``). So three digits at best: enough to follow the state evolution off
    the sub-branch and to check the sub-branch routes (it exposed the 0.7% bias of their former
    ``omega_2`` rules), not for thresholds of four digits, which :func:`deep_linearisation` and
    :func:`deep_staircase` compute by their own rules.
    """
    from ._deep_se import deep_state_evolution as _se

    c = _check_skip(skip)
    if c < _C_GRADED:
        raise ValueError(f"skip must be >= {_C_GRADED} for deep_state_evolution, got {c}: its inner rule in z_1 is "
                         "a tensor Gauss-Hermite rule, which misses the nearly singular band |z_12 - z_11| <~ 2 "
                         "sqrt(c) (the sub-branch routes grade toward it: deep_subbranch(route='truth'))")
    Q = np.asarray(Q, dtype=float)
    if Q.shape != (2, 2) or not np.all(np.isfinite(Q)) or abs(Q[0, 1] - Q[1, 0]) > 1e-12 * (1.0 + abs(Q[0, 1])):
        raise ValueError(f"Q must be a finite symmetric 2 x 2 matrix, got {Q.tolist()}")
    lam = np.linalg.eigvalsh(0.5 * (Q + Q.T))
    if lam[0] < -1e-12 or lam[1] > 1.0 - 1e-3:
        raise ValueError(f"Q must satisfy 0 <= Q and I - Q >= 1e-3 I (the inner rule is measured down to V_22 = 0.026, "
                         f"where n_z = 64 is needed: top_share), got eigenvalues {lam.tolist()}")
    for name, v, lo, hi in (("log2_points", log2_points, 10, 20), ("n_z", n_z, 8, 128), ("seed", seed, 0, 2 ** 31)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
            raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {v!r}")
    workers = _check_workers(workers)
    r = _se(Q, c, int(log2_points), int(n_z), int(seed), workers)
    return {"A": r["A"], "A_nishimori": r["A_nishimori"], "psi_out": r["psi"], "top_share": r["top_share"]}


def _truth_K(c, q, n_teacher, n_gl, n_eta, n_z, workers=1, mu_h0=None):
    """``(K_1, K_2, K_1^N, K_2^N, K_12)`` of :func:`_deep_subbranch_truth_kernel`: the outer rule in
    ``z_1*`` is that of :func:`equations._softmax_rule.softmax_rule` (``n_teacher`` Gauss-Legendre
    nodes per coordinate of the simplex of the softmax weights, or a pair ``(n_zeta, n_a)``), the
    rule in ``z_2*`` that of :func:`_teacher_z2_graded` at the level of :func:`_z2_levels` for each
    ``z_1*`` node (its ``mu`` axis from the first panel ``mu_h0``, default :data:`_Z2_H0`), the
    others the default placement. The ``z_1*`` nodes are split into ``workers`` chunks per level,
    computed in threads (the kernel releases the GIL)."""
    Zs, W = softmax_rule(c, n_teacher)
    xe, we = _hermite_rule(n_eta)
    inner = _inner_grid(c, n_z, _STAIR_PER_PANEL)
    F = np.empty((Zs.shape[0], 7))
    workers = max(1, min(int(workers), Zs.shape[0]))
    levels = _z2_levels(c, Zs)
    # per level, interleaved chunks (a node's cost barely depends on where it is within a level)
    tasks = []
    for level in np.unique(levels):
        idx = np.flatnonzero(levels == level)
        tasks += [(idx[i::workers], int(level)) for i in range(min(workers, idx.size))]

    def run(task):
        idx, level = task
        Z2, w2 = _teacher_z2_graded(n_gl, _Z2_H0, level, mu_h0)
        part = np.empty((idx.size, 7))
        _deep_subbranch_truth_kernel(q, c, np.ascontiguousarray(Zs[idx]), Z2, w2, xe, we, *inner, part)
        F[idx] = part

    if workers == 1:
        for task in tasks:
            run(task)
    else:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, tasks))
    w, w11, w12, w22 = W
    K1, K2, N2, K12 = (float(w @ F[:, k]) for k in range(4))
    # E tr(G (z_1* z_1*^T - I)) = E[G_11 (z_11^2 - 1) + 2 G_12 z_11 z_12 + G_22 (z_12^2 - 1)]
    N1 = float(w11 @ F[:, 4] + 2.0 * (w12 @ F[:, 5]) + w22 @ F[:, 6])
    return K1, K2, N1, N2, K12


def deep_staircase(skip: float = 1.0, *, bracket=None, n_teacher: int | None = None,
                   n_gl: int | None = None, n_eta: int | None = None, n_z: int = _STAIR_FINE[3],
                   mu_h0: float | None = None, xtol: float = 1e-5, coarse=_STAIR_COARSE, refine: bool = False,
                   workers: int = 2) -> dict:
    """The staircase threshold of the first layer of ``deep_attention``: the ``alpha`` at which
    ``Q_11`` leaves zero on the branch ``Q_11 = Q_12 = 0``, ``Q_22 = q*(alpha) > 0`` (module
    docstring): the root of ``alpha_q(q) K_1(q) = 1`` along the sub-branch, with ``alpha_q(q) = q
    / ((1 - q) K_2(q))``. ``K_1, K_2`` are the Nishimori forms of :func:`deep_subbranch` (route
    ``"truth"``), the faster-converging ones at ``q`` near 1.

    The root is found in two stages: Brent's method in ``q`` within ``bracket`` with the ``coarse``
    rules, then one evaluation of the fine rules at that root and a step to the fine rules' root
    along the quadratic model of the growth rate and of ``alpha_q`` whose first and second
    derivatives are the coarse rules' (differences over ``+-1e-3`` in ``q``; both curve like ``1 /
    (1 - q)``). The step is small (5e-4 in ``q`` at ``c = 1``), so the coarse derivatives' error
    (a few per cent) enters ``alpha_1`` at about ``4e-5`` (measured with ``refine=True``, which adds
    a second fine evaluation at the predicted root and a step with the fine rules' own secant).

    Parameters
    ----------
    skip : float
        Skip-connection strength ``c``.
    bracket : (float, float) or None
        Interval of ``q = Q_22`` holding the root; ``None`` (default): the neighbours on the grid
        ``0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998`` between which the growth
        rate crosses one, found with the ``coarse`` rules walking from the grid point below the root
        expected at that ``c`` (:data:`_STAIR_QSTAR`, the table of the module docstring; two coarse
        evaluations when it is right, more when not, the same bracket either way). The growth
        rate ``alpha_q K_1`` is 0.36 at ``q = 0.9`` and 0.92 at ``q = 0.97`` for ``c = 1``; with
        coarse rules (8 / 4 / 4 / 32 nodes) it crosses one near ``q = 0.945`` for ``c = 0.5`` and
        ``q = 0.989`` for ``c = 2``, at ``alpha`` close to 0.72 in both cases.
    n_teacher, n_gl, n_eta, n_z : int
        Fine rules of :func:`deep_subbranch` (route ``"truth"``): Gauss-Legendre nodes per
        coordinate of the simplex of the softmax weights of ``z_1*``, an integer or a pair ``(n_zeta,
        n_a)`` (:mod:`equations._softmax_rule`; ``None``: 16 for ``c >= 0.5``, ``(12, 16)`` for ``0.1
        <= c < 0.5``, 16 for ``0.01 <= c < 0.1``, 20 below), Gauss-Legendre
        nodes per panel in ``z_2*`` (with the ``D`` axis graded further for each ``z_1*``,
        :func:`_z2_levels`; ``None``: 6, and 5 below ``c = 2e-3``, :data:`_STAIR_LIGHT_Z2`),
        Gauss-Hermite nodes per axis in ``eta`` (``None``: 6 for ``c >= 0.5``,
        8 below) and in the inner ``z_1``. Below ``c = 0.5`` the inner rule in ``z_1`` is the
        graded one (module docstring, "Small skips"): ``n_z`` Gauss-Hermite nodes in ``mu``, ``max(3,
        n_z // 10)`` Gauss-Legendre nodes per panel in ``delta``; an evaluation then costs about
        ten times more than at ``c = 1`` with the same numbers.
    mu_h0 : float or None
        First panel of the ``mu = (z_21 + z_22) / sqrt 2`` axis of the fine rule in ``z_2*``
        (:func:`_teacher_z2_graded`), in ``[0.01, 1]``; ``None``: 0.2 (graded toward ``mu = 0``), and 1
        (panels of width 1, no grading) below ``c = 0.01`` (:data:`_STAIR_LIGHT_Z2`).
    xtol : float
        Tolerance of the root in ``q`` (of the coarse search; of Brent's on the fine rules if
        ``coarse`` is None).
    coarse : (int, int, int, int) or None
        The same four rules for the root search. ``None``: Brent's method on the fine rules
        themselves (the old way: about eight fine evaluations instead of one).
    refine : bool
        A second fine evaluation (see above).
    workers : int
        Threads over which each evaluation's outer ``z_1*`` nodes are split (the kernel releases
        the GIL).

    Returns
    -------
    dict
        ``alpha_1`` (the staircase threshold), ``q`` (``Q_22`` there), ``K1``, ``K2`` (Nishimori
        forms, at the last fine evaluation ``q_eval``), ``alpha_1_direct`` and ``growth_direct``
        (``alpha_q`` and the growth rate from the direct forms ``E ||G||^2``, ``E |g_2|^2`` at
        ``q_eval``, moved by the same step; the growth is 1 in exact arithmetic: their departure
        measures the rules' error), ``lambda_12`` (the rate of the ``Q_12`` direction at
        ``q_eval``, module docstring), ``newton_step`` (the last step in ``q``),
        ``coarse_evaluations`` and ``alpha_1_one_step``, ``q_one_step`` (the root after the first
        fine evaluation: with ``refine=True``, their difference from ``alpha_1``, ``q`` measures
        the error of the coarse derivatives).

    Notes
    -----
    Accuracy and cost: see the module docstring (``alpha_1 = 0.71965 +- 3e-5`` at ``c = 1``, under
    10 s on two cores; ``0.75846`` (``0.75848 +- 1e-5`` with converged rules) at ``c = 1e-4``, about
    45 s; 20 to 35 s for ``0.01 <= c < 0.5``, 30 to 40 s for ``1e-3 <= c < 0.01``). The accuracy
    has been measured rule by rule at ``c = 1`` and ``1e-4``, the outer rule also at ``c = 0.25``
    and 0.01, the lighter rules in ``z_2*`` of small skips at ``c = 1e-4``, ``1e-3``, ``2e-3`` and
    ``5e-3`` (:data:`_STAIR_LIGHT_Z2`; other ``c``: the module docstring's table and the indicators
    there); a ``bracket`` that does not hold
    the (coarse) root raises ``ValueError``, and so does a growth rate that does not cross one on
    the grid when ``bracket`` is None. The derivatives of the coarse rules are differences over
    ``+-1e-3`` in ``q`` (less within ``1e-3`` of 0 or 1), wherever the bracket lies.
    """
    c = _check_skip(skip)
    if bracket is not None:
        lo, hi = (float(b) for b in bracket)
        if not 0.0 < lo < hi < 1.0:
            raise ValueError(f"bracket must be 0 < lo < hi < 1, got {bracket!r}")
    workers = _check_workers(workers)
    if n_eta is None:
        n_eta = _STAIR_FINE[2] if c >= _C_GRADED else _STAIR_ETA_SMALL_C
    if n_teacher is None:
        n_teacher = _stair_outer_rule(c)
    (mu_below, mu_light), (gl_below, gl_light) = _STAIR_LIGHT_Z2
    if n_gl is None:
        n_gl = gl_light if c < gl_below else _STAIR_FINE[1]
    if mu_h0 is None:
        mu_h0 = mu_light if c < mu_below else _Z2_H0
    else:
        mu_h0 = _real("mu_h0", mu_h0)
        if not 0.01 <= mu_h0 <= 1.0:
            raise ValueError(f"mu_h0 (the first panel of the mu axis of the rule in z_2*) must be in [0.01, 1], "
                             f"got {mu_h0}")
    fine = _check_rules("n_teacher, n_gl, n_eta, n_z", (n_teacher, n_gl, n_eta, n_z))
    if coarse is not None:
        coarse = _check_rules("coarse", coarse)
    from scipy.optimize import brentq  # here, not at import: a solve never needs scipy.optimize

    def evaluate(q, rules):
        # the coarse rules keep the graded mu axis (_STAIR_LIGHT_Z2)
        K1, K2, N1, N2, K12 = _truth_K(c, q, *rules, workers, mu_h0 if rules is fine else None)
        a = q / ((1.0 - q) * N2)
        return a, a * N1, (K1, K2, N1, N2, K12)

    search = coarse if coarse is not None else fine
    cache = {}
    if bracket is None:
        lo, hi = _staircase_bracket(lambda q: evaluate(q, search), cache, _stair_start(c))

    def root(rules):
        if rules is not search:
            cache.clear()

        def f(q):
            if q not in cache:
                cache[q] = evaluate(q, rules)
            return cache[q][1] - 1.0

        flo, fhi = f(lo), f(hi)
        if not flo < 0.0 < fhi:
            raise ValueError(f"bracket {(lo, hi)!r} does not hold the staircase root (growth - 1 = {flo:.3g}, "
                             f"{fhi:.3g})")
        q = brentq(f, lo, hi, xtol=xtol, rtol=1e-12)
        if q not in cache:
            f(q)
        return q, cache[q], len(cache)

    if coarse is None:
        q, (a, g, K), n_eval = root(fine)
        q_eval, step, a_slope, g_slope, a_curv, g_curv = q, 0.0, 0.0, 0.0, 0.0, 0.0
        one_step = (a, q)
    else:
        qc, (a0, g0, _), n_eval = root(coarse)
        # first and second derivatives of alpha_q and of the growth rate along the sub-branch, from
        # the coarse rules (differences over +-_STAIR_DQ): they only multiply the small step from
        # the coarse root to the fine one (both curve like 1 / (1 - q): a plain Newton step from a
        # root 7e-4 away in q is 1e-4 off in alpha_1)
        dq = min(_STAIR_DQ, 0.5 * qc, 0.5 * (1.0 - qc))
        (ap, gp, _), (am, gm, _) = evaluate(qc + dq, coarse), evaluate(qc - dq, coarse)
        a_slope, g_slope = (ap - am) / (2.0 * dq), (gp - gm) / (2.0 * dq)
        a_curv, g_curv = (ap - 2.0 * a0 + am) / dq ** 2, (gp - 2.0 * g0 + gm) / dq ** 2
        q_eval = qc
        a, g, K = evaluate(q_eval, fine)
        step = 0.0
        for _ in range(8):      # root of the quadratic model g + g' s + g'' s^2 / 2 = 1 (a contraction)
            step = (1.0 - g - 0.5 * g_curv * step * step) / g_slope
        q, a = q_eval + step, a + a_slope * step + 0.5 * a_curv * step * step
        n_eval += 2
        one_step = (a, q)
        if refine and step != 0.0:
            # a second evaluation of the fine rules at the predicted root: the slopes there are
            # the fine rules' own secants (plus the coarse curvature's half step), and the last
            # step is a few per cent of the first
            a1, g1 = a - a_slope * step - 0.5 * a_curv * step * step, g
            a2, g2, K = evaluate(q, fine)
            g_slope = (g2 - g1) / step + 0.5 * g_curv * step
            a_slope = (a2 - a1) / step + 0.5 * a_curv * step
            q_eval, step = q, (1.0 - g2) / g_slope
            q, a = q_eval + step, a2 + a_slope * step
            a_curv = g_curv = 0.0
    K1, K2, N1, N2, K12 = K
    # the direct forms at the evaluation point, moved by the same Newton step
    a_d = q_eval / ((1.0 - q_eval) * K2)
    da, dg = (a_slope + 0.5 * a_curv * step) * step, (g_slope + 0.5 * g_curv * step) * step
    return {"alpha_1": a, "q": q, "K1": N1, "K2": N2, "q_eval": q_eval,
            "alpha_1_direct": a_d + da, "growth_direct": a_d * K1 + dg,
            "lambda_12": q_eval * K12 / N2, "newton_step": step, "coarse_evaluations": n_eval,
            "alpha_1_one_step": one_step[0], "q_one_step": one_step[1]}


#: the q grid on which deep_staircase looks for the bracket of its root when none is given: the
#: root q* moves with c (0.945 at c = 0.5, 0.974 at 1, 0.989 at 2, lower for small c)
_STAIR_QGRID = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998)
#: the staircase root q* at some skips (the table of the module docstring): where the search for
#: the bracket starts (_stair_start), nothing more
_STAIR_QSTAR = ((1e-4, 0.7557), (1e-3, 0.7598), (0.01, 0.7777), (0.1, 0.8523), (0.25, 0.9057), (0.5, 0.9448),
                (1.0, 0.9737), (2.0, 0.9898), (4.0, 0.9966))


def _stair_start(c):
    """The point of :data:`_STAIR_QGRID` just below the root expected at skip ``c`` (interpolated in
    ``log c`` on :data:`_STAIR_QSTAR`, held constant outside), where :func:`_staircase_bracket`
    starts walking: its first two evaluations then bracket the root."""
    cs, qs = zip(*_STAIR_QSTAR)
    guess = float(np.interp(math.log(c), np.log(cs), qs))
    return max((g for g in _STAIR_QGRID if g < guess), default=_STAIR_QGRID[0])


def _staircase_bracket(evaluate, cache, start=0.9):
    """The two neighbours of :data:`_STAIR_QGRID` between which the growth rate ``alpha_q K_1``
    (second entry of ``evaluate(q)``, which is stored in ``cache``) crosses one, found by walking
    from the grid point ``start`` up or down the grid (the growth rate increases along the
    sub-branch)."""
    grid = _STAIR_QGRID
    i = grid.index(start)

    def growth(k):
        q = grid[k]
        if q not in cache:
            cache[q] = evaluate(q)
        return cache[q][1]

    if growth(i) < 1.0:
        while i + 1 < len(grid) and growth(i + 1) < 1.0:
            i += 1
        if i + 1 == len(grid):
            raise ValueError(f"the staircase growth rate stays below one up to q = {grid[-1]} (pass a bracket)")
        return grid[i], grid[i + 1]
    while i > 0 and growth(i - 1) >= 1.0:
        i -= 1
    if i == 0:
        raise ValueError(f"the staircase growth rate is above one already at q = {grid[0]} (pass a bracket)")
    return grid[i - 1], grid[i]


def _check_rules(name, rules):
    """``(n_teacher, n_gl, n_eta, n_z)`` as integers, ``n_teacher`` an integer or a pair ``(n_zeta,
    n_a)`` (nodes per coordinate of the outer rule in softmax coordinates)."""
    def integer(v):
        return not isinstance(v, bool) and isinstance(v, (int, np.integer)) and 3 <= v <= 400

    rules = tuple(rules)
    outer = tuple(rules[0]) if rules and isinstance(rules[0], (tuple, list)) else None
    if (len(rules) != 4 or not all(integer(v) for v in rules[1:])
            or not (integer(rules[0]) if outer is None else len(outer) == 2 and all(integer(v) for v in outer))):
        raise ValueError(f"{name} must be four integers in [3, 400] (n_teacher, n_gl, n_eta, n_z; n_teacher may "
                         f"be a pair (n_zeta, n_a)), got {rules!r}")
    if rules[3] % 2:
        raise ValueError(f"{name}: n_z must be even (the inner rule is folded in half), got {rules!r}")
    if max(outer or (rules[0],)) > _N_SOFTMAX_MAX:
        raise ValueError(f"{name}: n_teacher (nodes per coordinate of the outer rule in softmax coordinates) must "
                         f"be at most {_N_SOFTMAX_MAX}, got {rules!r}")
    first = int(rules[0]) if outer is None else tuple(int(v) for v in outer)
    return (first,) + tuple(int(v) for v in rules[1:])


@dataclass(frozen=True)
class DeepAttention:
    """Two tied attention layers with a skip connection (``p = 2``, ``L = 2``): the parameters of
    the ``deep_attention`` target, for :func:`layer_thresholds` (its full state evolution is not
    implemented, only the linearisation at ``Q = 0`` and the sub-branch ``Q_11 = Q_12 = 0``:
    :func:`deep_subbranch`, :func:`deep_staircase`; module docstring).

    Parameters
    ----------
    skip : float
        Skip-connection strength ``c`` (``A(z) = softmax(z z^T) + c I``), in ``[1e-4, 10]``.
    alpha : float
        Sample ratio (not used by the thresholds; used by :meth:`simulate`, GAMP).
    """

    skip: float = 1.0
    alpha: float = 1.0
    L: int = 2

    def __post_init__(self):
        object.__setattr__(self, "skip", _check_skip(self.skip))
        alpha = _real("alpha", self.alpha)
        if not alpha > 0:
            raise ValueError(f"alpha (the sample ratio n/d) must be > 0, got {alpha}")
        object.__setattr__(self, "alpha", alpha)
        if self.L != 2:
            raise ValueError(f"L must be 2 for deep_attention, got {self.L!r}")

    def simulate(self, d: int, seed: int, **options) -> dict:
        """Bayes-optimal GAMP on one instance of size ``d`` (``n = round(alpha d)``), started
        uninformed: :func:`equations._simulate.gamp_deep_attention.simulate_deep_attention`
        (``options`` are passed to it)."""
        from ._simulate.gamp_deep_attention import simulate_deep_attention
        return simulate_deep_attention(self.skip, self.alpha, d, seed, **options)


#: deep_attention's registered map: Gauss-Hermite nodes per axis of its inner rule in z_1. Its
#: error is largest where the second layer is nearly learned (V_22 small). Against 128 nodes (the
#: same outer points for each): at Q = diag(0, q), 32 nodes are 0.23% / 0.5% off in A_22 at q =
#: 0.974 / 0.98 (against 96), 64 nodes 0.3% at q = 0.99, 96 nodes 1.4e-4 at 0.99 and 0.4% at
#: 0.995; at Q = diag(0.3, 0.99) 96 nodes are 1e-4 off in A_11 and A_22; at V = 0.02 I, 32 and 64
#: agree to 1e-8
_N_Z_DEEP = 96
#: smallest eigenvalue of V = I - Q at which deep_attention's map is evaluated: the inner rule's
#: reach at _N_Z_DEEP nodes (above: 1.4e-4 at V_22 = 0.01); the informed start sits at twice it
_V_MIN_DEEP = 0.01


@functools.lru_cache(maxsize=16)
def _deep_se_at(skip, log2_points, q11, q12, q22):
    """:func:`deep_state_evolution` at the packed overlap, cached (read-only ``A``): the observables
    and the free entropy of a solved point reuse the solver's last evaluations (a second each)."""
    from fixedpoint.protocol import thread_budget

    r = deep_state_evolution(skip, [[q11, q12], [q12, q22]], log2_points=log2_points, n_z=_N_Z_DEEP,
                             workers=thread_budget(2))
    A = 0.5 * (r["A"] + r["A"].T)
    A.flags.writeable = False
    return A, float(r["psi_out"]), float(r["top_share"])


@functools.lru_cache(maxsize=8)
def _deep_linear(skip):
    return deep_linearisation(skip)


@dataclass(frozen=True)
class _DeepAttentionSE:
    """The full state evolution of ``deep_attention`` (the registered target of
    :class:`SequenceMultiIndex`) on the packed overlap ``(Q_11, Q_12, Q_22)``, layer 1 first.

    ``Q_hat = alpha A(Q)``, ``A = E sum_l g_l g_l^T`` by :func:`deep_state_evolution` (quasi-Monte
    Carlo over the teacher, ``2^log2_points`` scrambled Sobol points with antithetic images, fixed
    seed 0: a deterministic map; 96 Gauss-Hermite nodes per axis of ``z_1`` inside), then the
    Gaussian prior's ``Q = Q_hat (I + Q_hat)^{-1}``; the free entropy ``-tr(Q Q_hat) / 2 + (tr Q_hat
    - log det(I + Q_hat)) / 2 + alpha Psi_out(Q)`` (Aubin et al. 2018 for the committee form;
    Troiani, Cui, Dandi, Krzakala, Zdeborova 2025, Sec. 4, for this target), ``Psi_out = E log Z_out``
    up to a constant independent of ``Q``.

    Accuracy: three digits, the outer rule's (0.17% scatter of ``A_22`` over seeds at ``Q =
    diag(0, 0.5)`` with ``2^14`` points; twice that with ``2^12``, four times with ``2^10``); the
    inner rule's is ``1.4e-4`` or better down to ``V = 0.01`` (``_N_Z_DEEP``). The
    linear response of ``Q_11`` on the sub-branch, which decides the first layer's threshold,
    scatters more: the ``alpha`` where its rate reaches one is 0.7249 with ``2^12`` points, 0.7173
    with ``2^14``, against 0.71965 from the staircase's own rules (``notebooks/_deep_attention_curve.py``),
    so thresholds read off this map carry about 0.5%. A small ``Q_12`` is
    resolved in absolute, not relative, terms: at ``Q = [[0.3, 0.1], [0.1, 0.6]]`` with ``2^10``
    points the map's ``Q_12`` moved by ``2e-3`` (20%) under ``Q_12 -> -Q_12``, which flips it
    exactly in the true map; this is why the model declares no symmetry. Below ``V = 0.01`` (either
    eigenvalue of ``I - Q``) the map is not evaluated: the state is outside the domain
    (:meth:`domain_violation`), which the engine reports; this bounds the reach of the informed
    branch near perfect recovery (``alpha`` near 1). The layer thresholds carry more digits by
    their own rules (:func:`layer_thresholds`); the Jacobian at ``Q = 0`` is the exact
    linearisation (:func:`deep_linearisation`, six digits), to which this map's own agrees to its
    accuracy, so ``fixedpoint.threshold(model, "alpha", ..., kind="stability")`` gives ``alpha_2``.
    Cost: about 1.6 s per evaluation at ``2^14`` points on two idle cores (proportional to
    ``2^log2_points``: 0.1 s at ``2^10``).
    """

    skip: float
    alpha: float
    log2_points: int

    def initial_state(self, start="uninformed"):
        """``"uninformed"``: ``Q = 1e-6 I``; ``"informed"``: ``Q = (1 - 0.02) I`` (twice the map's
        ``V`` limit from perfect recovery)."""
        if start == "uninformed":
            return pack(_EPS_UNINFORMED * np.eye(2))
        if start == "informed":
            return pack((1.0 - 2.0 * _V_MIN_DEEP) * np.eye(2))
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    @staticmethod
    def bounds():
        return np.array([0.0, -1.0, 0.0]), np.array([1.0, 1.0, 1.0])

    @staticmethod
    def domain_violation(x):
        Q = unpack(np.asarray(x, dtype=float).ravel(), 2)
        why = psd_violation(Q, upper=1.0 - _V_MIN_DEEP, name="Q")
        if why is not None and "exceeds" in why:
            why += (f" (I - Q below {_V_MIN_DEEP:g}: deep_attention's inner rule is not measured closer to perfect "
                    "recovery; alpha is near or past 1)")
        return why

    def _at(self, x):
        Q = unpack(np.asarray(x, dtype=float).ravel(), 2)
        A, psi, _ = _deep_se_at(self.skip, self.log2_points, float(Q[0, 0]), float(Q[0, 1]), float(Q[1, 1]))
        return Q, A, psi

    def update(self, x):
        """``Q -> Q_hat (I + Q_hat)^{-1}``, ``Q_hat = alpha A(Q)``; NaN outside the domain (a probe of
        the engine's finite differences or root finders; the solver itself stays inside)."""
        x = np.asarray(x, dtype=float).ravel()
        if not np.all(np.isfinite(x)) or self.domain_violation(x) is not None:
            return np.full(3, math.nan)
        _, A, _ = self._at(x)
        Q_hat = self.alpha * A
        return pack(Q_hat @ np.linalg.inv(np.eye(2) + Q_hat))

    def jacobian(self, x):
        """At ``Q = 0``: ``alpha diag(F11, F12, F22)`` in the packed entries (the linearised operator
        is diagonal in the entries of ``Q``; :func:`deep_linearisation`); ``None`` elsewhere."""
        x = np.asarray(x, dtype=float).ravel()
        if not np.all(x == 0.0):
            return None
        lin = _deep_linear(self.skip)
        return self.alpha * np.diag([lin["F11"], lin["F12"], lin["F22"]])

    def free_entropy_at(self, Q, Q_hat):
        Q = np.asarray(Q, dtype=float)
        Q_hat = np.asarray(Q_hat, dtype=float)
        _, psi, _ = _deep_se_at(self.skip, self.log2_points, float(Q[0, 0]), float(Q[0, 1]), float(Q[1, 1]))
        _, logdet = np.linalg.slogdet(np.eye(2) + Q_hat)
        return float(-0.5 * np.sum(Q * Q_hat) + 0.5 * (np.trace(Q_hat) - logdet) + self.alpha * psi)

    def free_entropy(self, x):
        if self.domain_violation(x) is not None:
            return math.nan
        Q, A, _ = self._at(x)
        return self.free_entropy_at(Q, self.alpha * A)

    @staticmethod
    def observable_names():
        return ("overlap_1", "overlap_2", "overlap_12", "mse", "free_entropy")

    def observables(self, x):
        """The layers' overlaps ``Q_11``, ``Q_22``, ``Q_12``; ``mse`` (``1 - tr(Q) / 2``, per teacher
        entry, both layers); ``free_entropy``."""
        Q = unpack(np.asarray(x, dtype=float).ravel(), 2)
        return {"overlap_1": float(Q[0, 0]), "overlap_2": float(Q[1, 1]), "overlap_12": float(Q[0, 1]),
                "mse": float(1.0 - 0.5 * np.trace(Q)), "free_entropy": float(self.free_entropy(x))}

    def simulate(self, d, seed):
        """Bayes-optimal GAMP (:meth:`DeepAttention.simulate`), its overlaps as :meth:`observables`
        names them (each row's sign fixed so that ``Q_kk >= 0``); no free entropy."""
        r = DeepAttention(skip=self.skip, alpha=self.alpha).simulate(d, seed)
        return {"overlap_1": r["Q_11"], "overlap_2": r["Q_22"], "overlap_12": r["Q_12"],
                "mse": 0.5 * (r["mse_1"] + r["mse_2"])}


def layer_thresholds(model, *, staircase: bool | None = None, **rules) -> dict:
    """Weak-learnability threshold in ``alpha`` of each layer's block of ``Q``: the ``alpha`` at
    which that block leaves zero along the state evolution's path from ``Q = 0``.

    Parameters
    ----------
    model : SequenceMultiIndex or DeepAttention
        ``target="deep_attention"`` of the registered model is :class:`DeepAttention` with its
        ``skip``.
    staircase : bool or None
        ``deep_attention`` only. ``None`` (default) or ``True``: the first layer's threshold is
        the staircase threshold :func:`deep_staircase` (``rules`` are passed to it), where
        ``Q_11`` leaves zero on the branch where the second layer is learned: the first layer's
        threshold on the path the state evolution takes, since the second layer is learned
        first. About a minute of CPU at ``c = 1``, 11-17 minutes below ``c = 0.5`` (module
        docstring, with the accuracy per ``c``). ``False``: ``alpha^(0)_1``, where ``Q = 0``
        itself loses stability along ``Q_11`` (:func:`deep_linearisation`, six digits, under a
        second; 6.157 at ``c = 1`` against the staircase 0.71965): not where ``Q_11`` becomes
        non-zero, since ``Q_22`` has left zero long before.

    Returns
    -------
    dict
        ``{1: alpha_1}`` for one layer (``(1 + noise)^2 / (L^2 + L)``); ``{1: alpha_1, 2:
        alpha_2}`` for ``deep_attention``, with ``alpha_2`` the instability of ``Q = 0`` along
        ``Q_22`` (:func:`deep_linearisation`, 64 nodes per axis: six digits or better) and
        ``alpha_1`` as ``staircase`` says. The smaller is the layer learned first: the second,
        for every ``c`` tested (``alpha_2 < alpha_1``).
    """
    if isinstance(model, SequenceMultiIndex) and model.target == "deep_attention":
        model = DeepAttention(skip=model.skip, alpha=model.alpha)
    if isinstance(model, SequenceMultiIndex):
        if staircase or rules:
            raise ValueError("staircase and its rules apply to deep_attention (DeepAttention) only")
        return {1: (1.0 + model.noise) ** 2 / (model.L * (model.L + 1))}
    if isinstance(model, DeepAttention):
        staircase = True if staircase is None else staircase
        if rules and not staircase:
            raise ValueError(f"rules {sorted(rules)} are those of deep_staircase: they do not apply with "
                             "staircase=False")
        lin = deep_linearisation(model.skip)
        if staircase:
            return {1: deep_staircase(model.skip, **rules)["alpha_1"], 2: lin["alpha_2"]}
        return {1: lin["alpha_1"], 2: lin["alpha_2"]}
    raise ValueError(f"model must be a SequenceMultiIndex or a DeepAttention, got {type(model).__name__}")

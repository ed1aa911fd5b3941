"""The parameter meanings DESIGN.md names ("What rho means"), checked on the models themselves."""

import pytest

import equations
import fixedpoint as fp


@pytest.mark.parametrize("prior", ["sparse_rademacher", "gauss_bernoulli"])
def test_rho_is_the_density_with_unit_second_moment_in_spiked_wigner(prior):
    # strong signal: the overlap m = E[x xhat] tends to E x^2, which is 1 whatever the density
    sol = fp.solve(equations.get("spiked_wigner", prior=prior, rho=0.2, snr=1e4), start="informed")
    assert sol["overlap"] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("prior", ["sparse_rademacher", "gauss_bernoulli"])
def test_rho_is_the_density_and_the_second_moment_in_glm_bayes(prior):
    # many samples of a nearly noiseless linear channel: q = E[w* w_hat] tends to E w*^2 = rho
    sol = fp.solve(equations.get("glm_bayes", prior=prior, channel="linear", rho=0.2, alpha=50.0, noise=1e-6),
                   start="informed")
    assert sol["overlap"] == pytest.approx(0.2, rel=1e-3)


def test_rho_is_the_teachers_second_moment_in_glm_erm():
    # ridge with many samples and no noise recovers the teacher: m -> q -> E w*^2 = rho
    sol = fp.solve(equations.get("glm_erm", loss="square", channel="linear", alpha=50.0, reg=1e-6, rho=0.2))
    assert sol["m"] == pytest.approx(0.2, rel=1e-3) and sol["q"] == pytest.approx(0.2, rel=1e-3)


def test_each_family_says_what_rho_means_in_its_catalogue():
    docs = {name: equations.MODELS[name].parameters()["rho"]["doc"] for name in ("spiked_wigner", "glm_bayes", "glm_erm")}
    assert "E x^2 = 1" in docs["spiked_wigner"]
    assert "E w*^2" in docs["glm_erm"]

"""Gaussian mixtures: one family, one module per problem.

- :mod:`equations.mixtures.classification`: two-cluster classification, by empirical risk
  minimisation (``gmm_erm``) and Bayes-optimally (``gmm_bayes``).

Importing the package registers every model of the family.
"""

from __future__ import annotations

from .classification import GMMERM, GMMBayes

__all__ = ["GMMERM", "GMMBayes"]

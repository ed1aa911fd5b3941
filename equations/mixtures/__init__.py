"""Gaussian mixtures: one family, one module per problem.

- :mod:`equations.mixtures.classification`: two-cluster classification, by empirical risk
  minimisation (``gmm_erm``) and Bayes-optimally (``gmm_bayes``).
- :mod:`equations.mixtures.clustering`: Bayes-optimal subspace clustering of ``k`` clusters with
  sparse means (``subspace_clustering``).

Importing the package registers every model of the family.
"""

from __future__ import annotations

from .classification import GMMERM, GMMBayes
from .clustering import SubspaceClustering

__all__ = ["GMMERM", "GMMBayes", "SubspaceClustering"]

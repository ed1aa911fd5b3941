"""Gaussian mixtures: one family, one module per problem.

- :mod:`equations.mixtures.classification`: two-cluster classification, by empirical risk
  minimisation (``gmm_erm``) and Bayes-optimally (``gmm_bayes``).
- :mod:`equations.mixtures.single_index`: ERM on a mixture of K clouds with single-index labels,
  and its single-Gaussian equivalent (``mixture_single_index``).
- :mod:`equations.mixtures.clustering`: Bayes-optimal subspace clustering of ``k`` clusters with
  sparse means (``subspace_clustering``).

Importing the package registers every model of the family.
"""

from __future__ import annotations

from .classification import GMMERM, GMMBayes
from .clustering import SubspaceClustering
from .single_index import MixtureSingleIndex

__all__ = ["GMMERM", "GMMBayes", "MixtureSingleIndex", "SubspaceClustering"]

"""RBMs and DBNs with scikit-learn estimators over deepbelief's Rust core.

Estimators follow scikit-learn's conventions: the constructor stores its
parameters, ``fit`` returns ``self``, learned attributes end in ``_``.
"""

from deepbelief.dbn import DBN, DBNClassifier
from deepbelief.rbm import BernoulliRBM, GaussianRBM

__all__ = ["BernoulliRBM", "DBN", "DBNClassifier", "GaussianRBM"]

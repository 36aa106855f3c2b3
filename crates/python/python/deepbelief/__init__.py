"""RBMs and DBNs with scikit-learn estimators over deepbelief's Rust core.

Estimators follow scikit-learn's conventions: the constructor stores its
parameters, ``fit`` returns ``self``, learned attributes end in ``_``.
Every estimator takes ``device="flex"`` (CPU) or ``"wgpu"`` (GPU), saves
and loads the Rust side's safetensors files, and pickles through them.
"""

from deepbelief.dbn import DBN, DBNClassifier
from deepbelief.generative import GenerativeDBN
from deepbelief.rbm import BernoulliRBM, GaussianRBM

__all__ = ["BernoulliRBM", "DBN", "DBNClassifier", "GaussianRBM", "GenerativeDBN"]

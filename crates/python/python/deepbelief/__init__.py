"""RBMs and DBNs with scikit-learn estimators over deepbelief's Rust core.

Estimators follow scikit-learn's conventions: the constructor stores its
parameters, ``fit`` returns ``self``, learned attributes end in ``_``.
Every estimator takes ``device="flex"`` (CPU) or ``"wgpu"`` (GPU), saves
and loads the Rust side's safetensors files, and pickles through them.

``set_flush_subnormals(True)`` makes the CPU treat floats below 1.2e-38
as zero on the calling thread (numpy's arithmetic there included) and the
native core's workers, as the ``deepbelief`` command does by default: a
net trained to a tiny loss makes such values, and x86 CPUs compute with
them many times slower. It returns whether the CPU has the setting (x86-64).
"""

from deepbelief._native import set_flush_subnormals, subnormals_flushed
from deepbelief.dbn import DBN, DBNClassifier
from deepbelief.generative import GenerativeDBN
from deepbelief.rbm import BernoulliRBM, GaussianRBM

__all__ = [
    "BernoulliRBM",
    "DBN",
    "DBNClassifier",
    "GaussianRBM",
    "GenerativeDBN",
    "set_flush_subnormals",
    "subnormals_flushed",
]

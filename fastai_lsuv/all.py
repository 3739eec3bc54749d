"What a fastai user needs, as with `fastai.vision.all`: `from fastai_lsuv.all import *`"
# The MNIST study (fastai_lsuv.study) and the test oracles (fastai_lsuv.reference's lsuv_init_course, forward_order,
# target_stats) are imported by path: the study's names (`ConvLayer`, `init_cnn`, ...) would shadow fastai's.
from .core import LSUVStatus, Batches, lsuv_targets
from .reference import lsuv_module
from .api import lsuv_init
from .callback import LSUVCallback, lsuv_batch, lsuv_done  # and the `Learner.lsuv_init` patch
from .plot import plot_lsuv_stats  # and the `LSUVCallback.plot_stats` patch

__all__ = ['LSUVCallback', 'lsuv_init', 'lsuv_module', 'lsuv_targets', 'lsuv_batch', 'lsuv_done', 'LSUVStatus', 'Batches',
           'plot_lsuv_stats']

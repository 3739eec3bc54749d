"Everything a user needs: `from fastai_lsuv.all import *`, as with `fastai.vision.all`"
# the MNIST study lives in fastai_lsuv.study, imported by path
from .core import *
from .callback import *
from .plot import *

"Everything a user needs: `from fastai_lsuv.all import *`, as with `fastai.vision.all`"
# fastai_lsuv.course is left out: its 07a `ConvLayer` and `init_cnn` would hide fastai's own after `from fastai.vision.all import *`
from .core import *
from .reference import *
from .api import *
from .callback import *
from .plot import *
from .data import *
from .reproduce import *

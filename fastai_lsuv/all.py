"Everything a user needs: `from fastai_lsuv.all import *`, as with `fastai.vision.all`"
from .core import *
from .callback import *
from .course import *
from .data import *
from .reproduce import *

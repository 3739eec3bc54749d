__version__ = "0.1.0"

import warnings
# Two notes fastai's imports trigger in its dependencies, which no user of this package can act on: fastai.layers
# decorates functions with torch.jit.script (deprecated by torch), and fastai.tabular sets a pandas option that pandas 3
# deprecates. Only these messages, only from where they are raised, are hidden.
warnings.filterwarnings('ignore', message=r'`torch\.jit\.script` is deprecated', category=FutureWarning, module=r'torch\.jit')
warnings.filterwarnings('ignore', message=r"The 'mode\.chained_assignment' option is deprecated", module=r'fastai\.tabular')

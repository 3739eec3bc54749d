"`from fastai_lsuv.all import *` gives a fastai user the API, and nothing from the MNIST study, the test oracles or the internals"
from fastai.learner import Learner

def test_star_import_is_the_api():
    ns = {}
    exec('from fastai_lsuv.all import *', ns)
    names = set(ns)-{'__builtins__'}
    assert len(names)<=15, sorted(names)
    assert {'LSUVCallback', 'lsuv_init', 'lsuv_module', 'lsuv_batch', 'plot_lsuv_stats', 'Batches', 'LSUVStatus'} <= names, sorted(names)
    oracles,study = {'lsuv_init_course', 'forward_order', 'target_stats'},{'load_mnist', 'mnist_dls', 'ConvLayer', 'init_cnn', 'lsuv_07a'}
    assert not names & (oracles|study), sorted(names & (oracles|study))
    assert not [n for n in names if n.startswith('_')]
    # what the library calls for itself (argument checks, the pre-init `pre_init='orthogonal'` selects) stays in its module
    assert not names & {'check_lsuv_args', 'orthogonal_init_'}, sorted(names)
    # the patches come with it
    assert hasattr(Learner, 'lsuv_init') and hasattr(ns['LSUVCallback'], 'plot_stats')

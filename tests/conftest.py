"What every test file shares: one torch thread, as the notebooks get under `nbdev-test`, and a `Learner` factory"
import os
os.environ['IN_TEST'] = '1'  # nbdev's flag for a test run, which `pin_test_threads` reads (nbdev-test sets it too)
import pytest
from fastai_lsuv.test_utils import pin_test_threads, synth_learner

pin_test_threads()

@pytest.fixture
def learner(tmp_path):
    "`synth_learner` that saves its models under the test's `tmp_path`"
    def make(cbs=None, **kwargs): return synth_learner(cbs=cbs, path=tmp_path, **kwargs)
    return make

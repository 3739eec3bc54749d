"Property test: `lsuv_init` on random small architectures gives finite weights, meets the tolerance or leaves a module as it was, and changes nothing else"
import random, warnings
import numpy as np, torch
from torch import nn
from hypothesis import given, settings, strategies as st
from fastcore.test import test_eq as check_eq
from fastai_lsuv.api import lsuv_init
from fastai_lsuv.reference import target_stats

torch.set_num_threads(1)

activations = [lambda: nn.ReLU(inplace=True), nn.ReLU, lambda: nn.LeakyReLU(0.1, inplace=True), nn.GELU, nn.Tanh, lambda: None]

@st.composite
def architectures(draw):
    "A random small conv or linear network, and a batch for it"
    conv,depth = draw(st.booleans()),draw(st.integers(1, 4))
    widths = draw(st.lists(st.integers(1, 12), min_size=depth, max_size=depth))
    bias,norm,dropout = draw(st.booleans()),draw(st.booleans()),draw(st.booleans())
    act = draw(st.sampled_from(activations))
    seed,training = draw(st.integers(0, 2**16)),draw(st.booleans())
    torch.manual_seed(seed)
    layers,c = [],3
    for w in widths:
        layers.append(nn.Conv2d(c, w, 3, padding=1, bias=bias) if conv else nn.Linear(c, w, bias=bias))
        if norm: layers.append(nn.BatchNorm2d(w) if conv else nn.BatchNorm1d(w))
        if (a:=act()) is not None: layers.append(a)
        if dropout: layers.append(nn.Dropout(0.3))
        c = w
    model = nn.Sequential(*layers).train(training)
    xb = torch.randn(8, 3, 6, 6) if conv else torch.randn(16, 3)
    return model, xb*draw(st.sampled_from([0.01, 1., 50.]))

def rng_states(): return random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state()

@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(architectures())
def test_lsuv_init_properties(arch):
    model,xb = arch
    tol = 1e-3
    buffers = {k:v.clone() for k,v in model.named_buffers()}
    flags,rng = [m.training for m in model.modules()],rng_states()
    params = {k:v.detach().clone() for k,v in model.named_parameters()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        stats = lsuv_init(model, xb, tol=tol)
    warned = {str(w.message).split("'")[1] for w in caught if str(w.message).startswith('LSUV: ')}
    check_eq(warned, set(stats.module[stats.status.isin(['dead', 'insensitive'])]))
    assert all(torch.isfinite(p).all() for p in model.parameters())
    for k,v in model.named_buffers(): assert torch.equal(v, buffers[k]), k
    assert [m.training for m in model.modules()]==flags
    py,np_,cpu = rng_states()
    assert py==rng[0] and (np_==rng[1]).all() and torch.equal(cpu, rng[2])
    measured = target_stats(model, xb)
    for name,status in zip(stats['module'], stats['status']):
        assert status in ('ok', 'no bias', 'dead', 'insensitive'), (name, status)
        if status in ('dead', 'insensitive'):
            # left exactly as it was: an output that does not answer to the weight (tiny inputs, a bias-dominated output)
            for k in ('weight', 'bias'):
                if f'{name}.{k}' in params: assert torch.equal(model.get_parameter(f'{name}.{k}'), params[f'{name}.{k}']), name
            continue
        mean,std = measured[name]
        assert abs(std-1)<=tol, (name, std)
        if status=='ok': assert abs(mean)<=tol, (name, mean)

"LSUV on bad batches and bad layers: clear errors and warnings, finite weights, and a model left exactly as it was on failure"
import contextlib, copy, re, warnings
import pytest, torch
from torch import nn
from fastcore.test import test_eq as check_eq
from fastai.data.core import DataLoaders
from fastai.learner import Learner
from fastai.losses import CrossEntropyLossFlat
from fastai.torch_core import set_seed, get_model
from fastai.callback.core import Callback
from fastai.callback.rnn import ModelResetter, RNNCallback
from fastai.text.models.awdlstm import AWD_LSTM, awd_lstm_lm_config
from fastai.text.models.core import get_language_model
from fastai_lsuv.all import *

torch.set_num_threads(1)

def tensor_dls(x, y, bs=16):
    n = len(x)*3//4
    return DataLoaders.from_dsets(list(zip(x[:n], y[:n])), list(zip(x[n:], y[n:])), bs=bs, shuffle=True)

def mlp_dls(n=64, n_in=4, seed=0, x=None):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_in, generator=g) if x is None else x
    return tensor_dls(x, torch.randint(0, 2, (n,), generator=g))

def fit_learner(model, dls=None, cbs=None, seed=0):
    set_seed(seed)
    return Learner(dls or mlp_dls(seed=seed), model, loss_func=CrossEntropyLossFlat(), cbs=cbs)

def fit(learn, n_epoch=1, **kwargs):
    with learn.no_bar(), learn.no_logging(): learn.fit(n_epoch, 1e-3, **kwargs)

def snapshot(model):
    "Everything LSUV could change: parameters, buffers and every module's training flag"
    model = get_model(model)
    return ({k:v.detach().clone() for k,v in model.state_dict(keep_vars=True).items()},
            [(n, m.training) for n,m in model.named_modules()])

def assert_unchanged(model, snap):
    state,flags = snapshot(model)
    assert state.keys()==snap[0].keys()
    for k in state: assert torch.equal(state[k], snap[0][k]), k
    assert flags==snap[1]

def all_finite(model): return all(torch.isfinite(p).all() for p in model.parameters())

class Probe(Callback):
    "The model's parameters and buffers right after LSUV's turn in `before_fit`"
    order = -4
    def before_fit(self): self.snap = snapshot(self.model)

def bn_mlp(): return nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))

@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_batch(bad):
    x = torch.randn(64, 4); x[:, 2] = bad
    model = bn_mlp()
    model[3].eval()
    learn = fit_learner(model, mlp_dls(x=x), cbs=LSUVCallback())
    before = snapshot(learn.model)
    with pytest.raises(ValueError, match='NaN or inf'): fit(learn)
    assert_unchanged(learn.model, before)
    assert not lsuv_done(learn.model)

def dead_relu_mlp():
    "The first layer's outputs are all negative on positive inputs, so the ReLU after it kills everything downstream"
    model = nn.Sequential(nn.Linear(4, 8, bias=False), nn.ReLU(), nn.Linear(8, 8, bias=False), nn.ReLU(), nn.Linear(8, 2, bias=False))
    with torch.no_grad(): model[0].weight.copy_(-model[0].weight.abs())
    return model

def test_dead_relu():
    g = torch.Generator().manual_seed(0)
    learn = fit_learner(dead_relu_mlp(), mlp_dls(x=torch.rand(64, 4, generator=g)+0.1), cbs=(lsuv:=LSUVCallback()))
    dead = {n:p.detach().clone() for n,p in learn.model.named_parameters() if not n.startswith('0.')}
    with pytest.warns(UserWarning, match="has a constant output") as caught: fit(learn, cbs=(probe:=Probe()))
    check_eq(sorted(str(w.message).split("'")[1] for w in caught if 'constant output' in str(w.message)), ['2', '4'])
    check_eq(list(lsuv.stats['status']), ['no bias', 'dead', 'dead'])
    for n,p in dead.items(): assert torch.equal(probe.snap[0][n], p), n
    assert all(torch.isfinite(v).all() for v in probe.snap[0].values())
    assert lsuv.stats[['mean','std']].notna().all().all() and all_finite(learn.model)

def test_all_zero_batch():
    model = nn.Sequential(nn.Linear(4, 8, bias=False), nn.ReLU(), nn.Linear(8, 2, bias=False))
    learn = fit_learner(model, mlp_dls(x=torch.zeros(64, 4)), cbs=(lsuv:=LSUVCallback()))
    before = snapshot(learn.model)
    with pytest.warns(UserWarning, match='constant output'): fit(learn, cbs=(probe:=Probe()))
    check_eq(list(lsuv.stats['status']), ['dead', 'dead'])
    for k,v in probe.snap[0].items(): assert torch.equal(v, before[0][k]), k

class ClampedLinear(nn.Linear):
    "A linear layer whose output is clamped to [-0.5, 0.5]: its std can never reach 1"
    def forward(self, x): return super().forward(x).clamp(-0.5, 0.5)

def test_not_converged():
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), ClampedLinear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    learn = fit_learner(model, cbs=(lsuv:=LSUVCallback(max_iter=5)))
    with pytest.warns(UserWarning, match=r"module '2' did not converge in 5 iterations"): fit(learn, cbs=(probe:=Probe()))
    check_eq(list(lsuv.stats['status']), ['ok', 'not converged', 'ok'])
    assert all(torch.isfinite(v).all() for v in probe.snap[0].values())
    # the rest of the model was still processed, after the clamped layer too
    last = lsuv.stats.iloc[2]
    assert abs(last['std']-1)<=1e-3 and abs(last['mean'])<=1e-3

def test_modules_matching_nothing():
    learn = fit_learner(bn_mlp(), cbs=(lsuv:=LSUVCallback(modules=nn.Conv2d)))
    before = snapshot(learn.model)
    with pytest.warns(UserWarning, match='matches no module'): fit(learn, cbs=(probe:=Probe()))
    check_eq(len(lsuv.stats), 0)
    for k,v in probe.snap[0].items(): assert torch.equal(v, before[0][k]), k

class Attention(nn.Module):
    "`qkv`'s weight is used functionally, as in Swin; attention's projections run without a module call; `spare` never runs"
    def __init__(self, n_in=4, d=8):
        super().__init__()
        self.embed,self.qkv,self.head,self.spare = nn.Linear(n_in, d),nn.Linear(d, d),nn.Linear(d, 2),nn.Linear(d, d)
        self.attn = nn.MultiheadAttention(d, 2, batch_first=True)
    def forward(self, x):
        h = torch.nn.functional.linear(self.embed(x), self.qkv.weight, self.qkv.bias)
        return self.head(self.attn(h, h, h, need_weights=False)[0].mean(1))

def test_module_never_run():
    g = torch.Generator().manual_seed(0)
    learn = fit_learner(Attention(), mlp_dls(x=torch.randn(64, 5, 4, generator=g)), cbs=(lsuv:=LSUVCallback()))
    spare = learn.model.spare.weight.detach().clone()
    with pytest.warns(UserWarning, match="module 'spare' did not run") as record: fit(learn, cbs=(probe:=Probe()))
    assert not [w for w in record if 'qkv' in str(w.message) or 'in_proj' in str(w.message)]
    status = dict(zip(lsuv.stats['module'], lsuv.stats['status']))
    # qkv is measured at the `F.linear` taking its weight, the packed in-projection and out_proj on attention's own ops
    check_eq(status, {'embed':'ok', 'qkv':'ok', 'attn.in_proj':'ok', 'attn.out_proj':'ok', 'head':'ok', 'spare':'not run'})
    assert torch.equal(probe.snap[0]['spare.weight'], spare)

def lm_learner(cbs, vocab_sz=30, n=48, seq=12):
    "A fastai AWD-LSTM language model (decoder weight tied to the embedding) on random tokens"
    set_seed(0)
    config = {**awd_lstm_lm_config, 'emb_sz':16, 'n_hid':24, 'n_layers':2}
    model = get_language_model(AWD_LSTM, vocab_sz, config=config)
    tokens = torch.randint(0, vocab_sz, (n, seq+1))
    return Learner(tensor_dls(tokens[:, :-1], tokens[:, 1:], bs=8), model, loss_func=CrossEntropyLossFlat(),
                   cbs=[ModelResetter(), RNNCallback(), *cbs])

@pytest.mark.parametrize('modules', [None, (nn.Embedding, nn.Linear)])
def test_tied_weights(modules):
    learn = lm_learner([lsuv:=LSUVCallback(modules=modules)])
    encoder,decoder = learn.model[0].encoder,learn.model[1].decoder
    assert decoder.weight is encoder.weight
    tied = encoder.weight.detach().clone()
    # by default the tied decoder is no target and an LSTM's weights are not `weight`: an empty table, never a silent one
    with contextlib.nullcontext() if modules else pytest.warns(UserWarning, match='nothing was initialised'):
        fit(learn, cbs=(probe:=Probe()))
    assert torch.equal(probe.snap[0]['0.encoder.weight'], tied)
    assert lsuv_done(learn.model)
    expected = [] if modules is None else ['tied', 'tied']
    check_eq(sorted(lsuv.stats['status']), expected)

def test_frozen_weights():
    model = bn_mlp()
    model[3].requires_grad_(False)
    frozen = model[3].weight.detach().clone()
    learn = fit_learner(model, cbs=(lsuv:=LSUVCallback(modules=nn.Linear)))
    fit(learn, cbs=(probe:=Probe()))
    status = dict(zip(lsuv.stats['module'], lsuv.stats['status']))
    check_eq(status, {'0':'ok', '3':'frozen', '5':'ok'})
    assert torch.equal(probe.snap[0]['3.weight'], frozen)

class MyLinear(nn.Linear):
    "Not a plain `nn.Linear`, so LSUV rescales it in place while the forward pass runs"

class Boom(nn.Module):
    def forward(self, x): raise RuntimeError('boom: this layer fails')

def failing_model():
    return nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), MyLinear(16, 16), nn.Dropout(0.5), nn.ReLU(),
                         Boom(), nn.Linear(16, 2))

def test_forward_raises_part_way():
    learn = fit_learner(failing_model(), cbs=LSUVCallback())
    learn.model[1].eval(); learn.model[4].eval()
    before,rng = snapshot(learn.model),torch.get_rng_state()
    with pytest.raises(RuntimeError, match='boom'): fit(learn)
    assert_unchanged(learn.model, before)
    assert torch.equal(torch.get_rng_state(), rng)
    assert not lsuv_done(learn.model)

def test_interrupted():
    "Any exception, a KeyboardInterrupt included, leaves the model exactly as it was"
    class Interrupt(nn.Module):
        def forward(self, x): raise KeyboardInterrupt
    model = failing_model()
    model[6] = Interrupt()
    learn = fit_learner(model)
    before = snapshot(learn.model)
    with pytest.raises(KeyboardInterrupt): learn.lsuv_init()
    assert_unchanged(learn.model, before)

@pytest.mark.parametrize('kwargs,exc,name', [
    (dict(modules=3), TypeError, 'modules'),
    (dict(modules=[nn.Linear, 3.5]), TypeError, 'modules'),
    (dict(modules=int), TypeError, 'modules'),
    (dict(tol=0), ValueError, 'tol'),
    (dict(tol=-1e-3), ValueError, 'tol'),
    (dict(tol='1e-3'), TypeError, 'tol'),
    (dict(tol=float('nan')), TypeError, 'tol'),
    (dict(max_iter=0), ValueError, 'max_iter'),
    (dict(max_iter=2.5), TypeError, 'max_iter'),
    (dict(max_iter=True), TypeError, 'max_iter'),
    (dict(std=0), ValueError, 'std'),
    (dict(pre_init='xavier'), ValueError, 'pre_init'),
])
def test_bad_arguments_at_construction(kwargs, exc, name):
    with pytest.raises(exc, match=re.escape(f'`{name}`')): LSUVCallback(**kwargs)

def test_frozen_bias_is_not_shifted():
    model = bn_mlp()
    model[0].bias.requires_grad_(False)
    frozen = model[0].bias.detach().clone()
    learn = fit_learner(model, cbs=(lsuv:=LSUVCallback()))
    fit(learn, cbs=(probe:=Probe()))
    assert torch.equal(probe.snap[0]['0.bias'], frozen)
    first = lsuv.stats.set_index('module').loc['0']
    assert abs(first['std']-1)<=1e-3  # the weight is still rescaled

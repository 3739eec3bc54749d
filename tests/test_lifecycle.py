"LSUVCallback across fastai's lifecycle: lr_find, fine_tune, inference paths, loaded and frozen weights, precision, other callbacks"
import io, warnings, contextlib
import pytest, torch
from torch import nn
from fastcore.test import test_eq as check_eq, test_close as check_close
from fastai.losses import CrossEntropyLossFlat
from fastai.torch_core import set_seed
from fastai.callback.all import ActivationStats, ShowGraphCallback, SaveModelCallback, ProgressCallback
from fastai.vision.learner import vision_learner
from fastai_lsuv.callback import LSUVCallback, lsuv_batch, lsuv_done
from fastai_lsuv.reference import target_stats
from fastai_lsuv.test_utils import synth_dls, small_cnn, model_state, assert_same, Probe, CountingLSUV

def lsuv_reference(learner, seed=0):
    "The weights `Learner.lsuv_init` gives the same model on the same batch"
    learn = learner(seed=seed)
    learn.lsuv_init()
    return model_state(learn.model)

def test_lr_find_then_fit(learner):
    lsuv = CountingLSUV()
    learn = learner(cbs=lsuv)
    with learn.no_bar(), learn.no_logging(): learn.lr_find(num_it=8, show_plot=False)
    check_eq(lsuv.runs, 1)
    # LRFinder saved the model after LSUV, so what it restores is the LSUV-initialised model
    assert_same(model_state(learn.model), lsuv_reference(learner))
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    check_eq(lsuv.runs, 1)

def test_once_and_never_from_inference(learner):
    lsuv = CountingLSUV()
    learn = learner(cbs=lsuv)
    before = model_state(learn.model)
    with learn.no_bar(), learn.no_logging():
        learn.validate(); learn.get_preds(); learn.tta(n=2); learn.summary()
        check_eq(lsuv.runs, 0)
        assert not lsuv_done(learn.model)
        assert_same(model_state(learn.model), before)
        learn.fine_tune(1, freeze_epochs=1)
        learn.fit(1, 1e-3)
        learn.fit_one_cycle(1, 1e-3)
        learn.validate(); learn.get_preds(); learn.tta(n=2)
    check_eq(lsuv.runs, 1)

def test_new_callback_per_fit(learner):
    "`fine_tune(cbs=LSUVCallback())` hands the callback to two fits, later fits get new ones: the mark on the model keeps it to one run"
    learn = learner()
    first,second = CountingLSUV(),CountingLSUV()
    with learn.no_bar(), learn.no_logging():
        learn.fine_tune(1, freeze_epochs=1, cbs=first)
        learn.fit(1, 1e-3, cbs=second)
    check_eq((first.runs, second.runs), (1, 0))

def test_added_after_creation(learner):
    "fastai fires `after_create` only for the callbacks given to `Learner`: one added later takes its fingerprint at its first fit"
    learn = learner()
    learn.add_cb(lsuv:=CountingLSUV())
    with learn.no_bar(), learn.no_logging(): learn.validate(); learn.fit(1, 1e-3)
    check_eq(lsuv.runs, 1)

def test_order_among_fastai_callbacks():
    "After `TrainEvalCallback` moves the model to its device; before any fastai callback converts, wraps or saves the model"
    from fastai.callback.all import TrainEvalCallback, ChannelsLast, MixedPrecision, GradientAccumulation, LRFinder
    from fastai.distributed import DistributedTrainer
    later = (ChannelsLast, GradientAccumulation, MixedPrecision, DistributedTrainer, LRFinder)
    assert TrainEvalCallback.order < LSUVCallback.order < min(cb.order for cb in later)

def test_loaded_weights_are_kept(learner):
    trained = learner(seed=1)
    with trained.no_bar(), trained.no_logging(): trained.fit(1, 1e-2)
    trained.save('trained')
    learn = learner(cbs=LSUVCallback())
    learn.load('trained')
    loaded,probe = model_state(learn.model),Probe()
    with learn.no_bar(), learn.no_logging(), pytest.warns(UserWarning, match=r'learn\.lsuv_init\(\)'):
        learn.fit(1, 1e-3, cbs=probe)
    assert_same(probe.state, loaded)
    assert learn.lsuv.stats is None and not lsuv_done(learn.model)
    # forcing it is one call away
    stats = learn.lsuv_init()
    assert (stats['status']=='ok').all() and lsuv_done(learn.model)

def test_weights_changed_by_hand_are_kept(learner):
    learn = learner(cbs=LSUVCallback())
    with torch.no_grad(): learn.model[0][0].weight.mul_(2)
    expected,probe = model_state(learn.model),Probe()
    with learn.no_bar(), learn.no_logging(), pytest.warns(UserWarning, match='LSUV was skipped'): learn.fit(1, cbs=probe)
    assert_same(probe.state, expected)

def test_conversions_are_not_changes(learner):
    "Moving the model, channels_last and freezing keep the fingerprint: LSUV still runs, and on channels_last weights too"
    learn = learner(cbs=LSUVCallback())
    learn.model.to('cpu').to(memory_format=torch.channels_last)
    learn.freeze()
    learn.to_channelslast(use_amp=False)
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)
        learn.fit(1, 1e-3, cbs=(probe:=Probe()))
    assert learn.model[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    ref = lsuv_reference(learner)
    for k,v in probe.state.items(): check_close(v, ref[k], eps=1e-5)

def pretrained_arch(saved):
    def arch(pretrained=False):
        set_seed(1)
        model = small_cnn(c_out=10)
        if pretrained: model.load_state_dict(saved)
        return model
    return arch

def test_pretrained_frozen_body(tmp_path):
    set_seed(2)
    saved = small_cnn(c_out=10).state_dict()
    learn = vision_learner(synth_dls(), pretrained_arch(saved), pretrained=True, n_out=2, loss_func=CrossEntropyLossFlat(),
                           cbs=LSUVCallback(), path=tmp_path)
    frozen = {n:p.detach().clone() for n,p in learn.model.named_parameters() if not p.requires_grad}
    assert frozen
    # the body is the pretrained model's (minus its pooling and classifier)
    for k,v in learn.model[0].state_dict().items(): check_eq(v, saved[k])
    probe = Probe()
    with learn.no_bar(), learn.no_logging():
        learn.validate(); learn.tta(n=1)  # the optimizer freeze() created does not make these a fit
        assert learn.lsuv.stats is None and not lsuv_done(learn.model)
        learn.fine_tune(1, freeze_epochs=1, cbs=probe)
    stats = learn.lsuv.stats
    assert len(stats) and stats['module'].str.startswith('1.').all(), stats
    assert stats['status'].isin(['ok', 'no bias']).all(), stats
    after_lsuv = {k:v for k,v in probe.state.items()}
    for n,p in frozen.items(): assert torch.equal(after_lsuv[n], p), n

def test_mixed_precision_on_cpu(learner):
    "`to_fp16` on CPU (fastai's autocast is CUDA's, disabled here): LSUV's weights are float32 ones, nothing left enabled"
    learn = learner(cbs=LSUVCallback()).to_fp16()
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # torch warns that CUDA autocast/GradScaler are disabled without CUDA
        learn.fit(1, 1e-3, cbs=(probe:=Probe()))
    assert_same(probe.state, lsuv_reference(learner))
    assert not torch.is_autocast_enabled('cpu') and not torch.is_autocast_enabled('cuda')

def test_float32_stats_inside_autocast(learner):
    "Called inside a CPU bfloat16 autocast region, LSUV still computes in float32 and leaves the region as it was"
    learn = learner()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        learn.lsuv_init()
        assert torch.is_autocast_enabled('cpu') and torch.get_autocast_dtype('cpu')==torch.bfloat16
    assert not torch.is_autocast_enabled('cpu')
    assert_same(model_state(learn.model), lsuv_reference(learner))

@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_model(learner, dtype):
    "A model converted to half precision gets inputs of its dtype and stays in it"
    learn = learner(arch=lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8*10*10, 2)))
    learn.model.to(dtype)
    xb = lsuv_batch(learn)
    check_eq(xb[0][0].dtype, dtype)
    stats = learn.lsuv_init()
    assert (stats['status']=='ok').all(), stats
    for p in learn.model.parameters(): assert p.dtype==dtype and torch.isfinite(p).all()
    for name,(mean,std) in target_stats(learn.model, xb).items():
        assert abs(std-1)<2e-2 and abs(mean)<2e-2, (name, mean, std)  # half precision weights: ~1e-3 rounding each

@pytest.mark.filterwarnings('ignore:You are shadowing an attribute \\(modules\\):UserWarning')  # fastai's, about ActivationStats
def test_with_activation_stats_show_graph_save_model(learner, tmp_path):
    plain = learner(cbs=LSUVCallback())
    with plain.no_bar(), plain.no_logging(): plain.fit(1, 1e-3)
    learn = learner(cbs=[LSUVCallback(), ActivationStats(), ShowGraphCallback(), SaveModelCallback(fname='best')])
    with learn.no_logging(), contextlib.redirect_stdout(io.StringIO()): learn.fit(2, 1e-3)  # ShowGraphCallback needs the bar
    check_close(learn.lsuv.stats[['mean','std']].values, plain.lsuv.stats[['mean','std']].values, eps=1e-5)
    check_eq(list(learn.lsuv.stats['status']), list(plain.lsuv.stats['status']))
    # ActivationStats recorded the training batches only, not LSUV's forward passes
    check_eq(len(learn.activation_stats.stats), 2*len(learn.dls.train))
    assert (tmp_path/'models'/'best.pth').exists()

@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_mixed_precision(learner):
    "On CUDA: the move to the GPU keeps the fingerprint, and LSUV runs before MixedPrecision's autocast, in float32"
    plain = learner(cbs=LSUVCallback())
    plain.dls.cuda()
    with plain.no_bar(), plain.no_logging(): plain.fit(1, 1e-3, cbs=(ref:=Probe()))
    learn = learner(cbs=LSUVCallback()).to_fp16()
    learn.dls.cuda()
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3, cbs=(probe:=Probe()))
    assert learn.lsuv.stats is not None and next(learn.model.parameters()).is_cuda
    for k,v in probe.state.items(): check_close(v.float(), ref.state[k].float(), eps=1e-5)
    assert not torch.is_autocast_enabled('cuda')

def big_mlp(n=30): return nn.Sequential(nn.Flatten(), nn.Linear(3*12*12, 8), *[nn.Linear(8, 8) for _ in range(n-2)], nn.Linear(8, 2))

def lsuv_output(learn, f):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out): f()
    return out.getvalue()

def test_progress_bar_follows_learner(learner):
    learn = learner(arch=big_mlp)
    assert '30/30' in lsuv_output(learn, learn.lsuv_init)
    with learn.no_bar(): assert lsuv_output(learn, learn.lsuv_init)==''
    quiet = learner(arch=big_mlp, cbs=LSUVCallback())
    quiet.remove_cb(ProgressCallback)
    assert lsuv_output(quiet, quiet.lsuv_init)==''
    # through the callback, under no_bar: the fit itself prints nothing either
    learn = learner(arch=big_mlp, cbs=LSUVCallback())
    with learn.no_bar(), learn.no_logging(): check_eq(lsuv_output(learn, lambda: learn.fit(1)), '')
    assert learn.lsuv.stats is not None

#!/usr/bin/env python
"""`lsuv_init` on every torchvision classification model, one small model per timm family and small Hugging Face models

    python benchmarks/zoo.py --threads 1 --out benchmarks/results   # the whole zoo: zoo_cpu.md and zoo_cpu.csv
    python benchmarks/zoo.py --fast                                 # a handful of models, one per hard case
    python benchmarks/zoo.py --models 'tv:resnet*' --no-timm        # a selection (fnmatch on the model ids)
    python benchmarks/zoo.py --models 'hf:*,compiled:*' --tag hf --out benchmarks/results   # zoo_hf_cpu.md and .csv

Hugging Face models (`hf:`, when `transformers` is installed) are built from small configs with random weights (no
download) and take a batch of 16 x 64 random token ids, or images; their forward returns the logits or last hidden
state. Their configs keep the library's default dropout (0.1 in GPT-2, BERT and T5), which a train-mode forward draws.
`compiled:<id>` is model `<id>` under `torch.compile` (default backend), compiled on a forward before anything is timed:
its `forward_s` is the compiled forward's, its `lsuv_s` that of `lsuv_init` on the compiled model (which initialises
the original module eagerly); its other columns are measured on the original module.

Every model is built with `weights=None` and a fixed seed, and initialised on a small random batch (16 x 3 x 64 x 64
by default; a model that needs larger images gets the next size that runs: 96, 128, 160, 224, 299, then its default).
Sixteen images, not fewer: in train mode, BatchNorm normalises each channel over the batch's values, and in late stages
at 64 px a batch of 4 gives it only a few dozen. Some models' float32 forward pass then moves a layer's statistics by more
than `tol` for rounding-sized changes of earlier weights, so even exact LSUV weights re-measure off target
(`off_rows_fp64_cast`); `--bs 4` shows it. Per model it records:

- `error`: the exception `lsuv_init` raised, if any (the run goes on with the next model);
- `statuses`: how many target modules ended with each status;
- `lsuv_s`, `forward_s`, `ratio`: median time of `lsuv_init` and of one plain `torch.no_grad()` forward pass of the
  same batch (train mode, as LSUV runs), over `--repeats` runs that alternate, each from the same initial weights;
- `worst_dev`, `off_rows`: the statistics of every `ok` / `no bias` row measured again after LSUV (`target_stats`):
  the worst distance from the targets (std, and mean for `ok`) and how many rows are further than `tol` from them;
- `off_rows_fp64`: where rows are off target, the same count for the same LSUV and re-measure in float64: 0 when the
  rows are off by float32's rounding alone, which the model amplifies on its way through later layers;
- `off_rows_fp64_cast`: the same count for the weights of that float64 LSUV cast to float32 and re-measured in float32:
  rows that even exact LSUV weights leave off target, because the model's own float32 forward pass moves them that far
  (only the course loop, whose measurements are that forward pass, lands every row within `tol` of it);
- `seed_diff`: two `lsuv_init` runs from the same initial weights under different global seeds; the max relative
  parameter difference (max over parameters of `max|a-b| / max(max|a|, max|b|)`): 0 when the result does not depend on the
  random state;
- `course_diff`: the same measure against `lsuv_init_course`, the course loop, where it fits in `--course-budget`
  seconds (estimated from the forward time and the iterations `lsuv_init` needed);
- `course_out_diff`: the same, with each bias measured against the target std too (`max(max|a|, max|b|, std)`): a bias
  LSUV shifts from zero (SE blocks, heads) ends at a few 1e-3 with no scale of its own, and `course_diff` divides float32's
  rounding of that shift (about 1e-7 of the output's std) by the shift itself; against the output it moves, it is 1e-7;
- `course64_diff`, `course32_64_diff`: where `course_out_diff` is above 1e-5, the same measure between the one-pass result,
  then the float32 course loop's, and the course loop run in float64 from the same weights. Within 1e-5, or below
  `course32_64_diff`, the one-pass result is the exact course loop's (as close as float32 gets) and the float32 course
  loop is the one off: its measurements see `Wx` only through the rounding of a bias that dwarfs it (gMLP's gates), or
  through rounding that the model amplifies;
- `course_threads_diff`: where `course_out_diff` is above 1e-5, the same measure between the float32 course loop and the
  float32 course loop run again from the same weights with another `torch.set_num_threads` (2, or 1 if `--threads` is not
  1): how far the course loop moves by itself when its float32 reductions are split differently. A `course_out_diff` no
  larger is below what "the course loop's result" means in float32 on that model: no float32 method can be closer to it;
- `fp64_diff`: where the course loop ran, the same measure between `lsuv_init` in float32 and in float64 from the same
  weights: how far float32's rounding alone moves the result. A `course_diff` above 1e-5 but below `fp64_diff` is
  equality as far as float32 resolves it: the model amplifies rounding, so two float32 computations of LSUV differ more;
- `max_wfactor`: the largest factor by which LSUV changed the norm of a weight (up or down);
- `finite`: whether every parameter is finite after LSUV.

The table is written to `<out>/zoo_<device>.md` (with a summary) and `<out>/zoo_<device>.csv`; with another `--bs`
than 16, to `zoo_<device>_bs<bs>.md` and `.csv`; with `--tag TAG`, to `zoo_TAG_<device>...`.
"""
from __future__ import annotations
import argparse, copy, fnmatch, functools, math, os, platform, shlex, signal, statistics, subprocess, sys, time, warnings
from collections import Counter
from datetime import datetime, timezone
from importlib.metadata import version
from importlib.util import find_spec
import pandas as pd, torch
from torch import nn
import torchvision

from fastai_lsuv.core import Batches, eager_module, lsuv_defaults
from fastai_lsuv.api import lsuv_init
from fastai_lsuv.reference import lsuv_init_course, target_stats

default_bs = 16  # the docstring says why not fewer

try: import timm
except ImportError: timm = None
has_hf = find_spec('transformers') is not None  # imported when a Hugging Face model is built

# one small model of each timm family (module of `timm.models`): the smallest by parameter count that is not a
# test-only model, replaced by the family's best-known small model where the smallest hides its defining layer
timm_models = """beit_base_patch16_224 halonet_h1 gernet_s cait_xxs24_224 coat_tiny convit_tiny convmixer_768_32 convnext_atto
cpubone_nano crossvit_tiny_240 csatv2 cs3darknet_focus_s cspnext_tiny davit_tiny deepseek_vit_412m deit_tiny_patch16_224
densenet121 dla46x_c dpn48b edgenext_xx_small efficientformer_l1 efficientformerv2_s0 efficientnet_b0 efficientvim_m1
efficientvit_b0 efficientvit_m0 eva02_tiny_patch14_224 fasternet_t0 fastvit_t8 focalnet_tiny_srf gcvit_xxtiny gemma4_vit_167m
ghostnet_050 hardcorenas_b hgnetv2_b0 hiera_tiny_224 sam2_hiera_tiny hrnet_w18_small iformer_t inception_next_atto
inception_resnet_v2 inception_v3 inception_v4 lcnetv2_small levit_128s lowformer_b0 mambaout_femto coatnet_nano_rw_224
poolformerv2_s12 gmlp_ti16_224 mobilenetv3_small_100 mobilenetv5_base mobilevit_xxs mvitv2_tiny naflexvit_base_patch16_parfac_gap
nasnetalarge nest_tiny nextvit_small nf_regnet_b0 pit_ti_224 pnasnet5large pvt_v2_b0 qwen3_vit_88m rdnet_tiny regnetx_002
repghostnet_050 repvit_m1 res2next50 resnest14d seresnext26d_32x4d resnetv2_50x1_bit rexnet_100 selecsls42 legacy_seresnet18
sequencer2d_s shvit_s1 skresnet18 starnet_s050 swiftformer_xs swin_tiny_patch4_window7_224 swinv2_tiny_window8_256
swinv2_cr_tiny_224 tiny_vit_5m_224 tnt_s_legacy_patch16_224 tresnet_m twins_svt_small vgg11 visformer_tiny
vit_tiny_patch16_224 vit_tiny_r_s16_p8_224 vit_relpos_small_patch16_224 samvit_base_patch16_224 vitamin_small_224
volo_d1_224 ese_vovnet19b_slim_dw legacy_xception xception41p xcit_nano_12_p8_224""".split()

# one model per hard case: stochastic depth, attention dropout and MHA's out_proj, SE after a zero-initialised
# BatchNorm, weight-standardised convs, a weight-norm layer, a bias-dominated layer, an RNN on several batches,
# Hugging Face's `Conv1D` (GPT-2, whose head is tied to its embedding)
fast_models = ['tv:efficientnet_b0', 'tv:convnext_tiny', 'custom:transformer', 'timm:seresnext26d_32x4d',
               'timm:test_nfnet', 'custom:weight_norm', 'custom:bias_dominated', 'custom:awd_lstm', 'hf:gpt2']

# ---------------------------------------------------------------- models

class TinyTransformer(nn.Module):
    "Two `nn.TransformerEncoder` layers with dropout (attention and MLP) and a linear head"
    def __init__(self, d=32, heads=4, layers=2, classes=5):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=2*d, dropout=0.1, batch_first=True)
        self.encoder,self.head = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False),nn.Linear(d, classes)
    def forward(self, x): return self.head(self.encoder(x).mean(1))

def weight_norm_cnn():
    wn = nn.utils.parametrizations.weight_norm
    return nn.Sequential(wn(nn.Conv2d(3, 16, 3, padding=1)), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), wn(nn.Linear(16, 10)))

def bias_dominated_mlp():
    "A layer whose output is almost all bias (weight std 1e-6, bias 1), as timm gMLP's gate projections start"
    model = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 10))
    with torch.no_grad():
        nn.init.normal_(model[2].weight, std=1e-6)
        nn.init.ones_(model[2].bias)
    return model

def awd_lstm_classifier():
    from fastai.text.models.core import get_text_classifier
    from fastai.text.models.awdlstm import AWD_LSTM
    # small, with many BPTT chunks per batch: the Python-side hidden state is read and written often
    return get_text_classifier(AWD_LSTM, 100, 2, seq_len=8, config=dict(emb_sz=32, n_hid=48, n_layers=2))

custom_models = dict(
    transformer=(TinyTransformer, lambda bs,size,g: torch.randn(bs, 16, 32, generator=g)),
    weight_norm=(weight_norm_cnn, None),
    bias_dominated=(bias_dominated_mlp, lambda bs,size,g: torch.randn(bs, 32, generator=g)),
    awd_lstm=(awd_lstm_classifier, lambda bs,size,g: [torch.randint(0, 100, (8, 200), generator=g) for _ in range(2)]))

# ---------------------------------------------------------------- Hugging Face models, from small configs

class HFModel(nn.Module):
    "A Hugging Face `model` whose forward takes one batch (token ids or images) and returns its output's `out`"
    def __init__(self, model, out):
        super().__init__()
        self.model,self.out = model,out
    def forward(self, x): return getattr(self.model(x), self.out)

def hf_builder(arch, out, **cfg):
    "A builder of `transformers.<arch>` with random weights, configured by `cfg` and the builder's kwargs"
    def build(**kw):
        import transformers
        cls = getattr(transformers, arch)
        return HFModel(cls(cls.config_class(**cfg, **kw)), out)
    return build

text_len,vocab = 64,4096  # a text batch: bs x text_len random token ids
text = dict(vocab_size=vocab, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)
vision = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024, num_labels=10)
hf_models = dict(  # name: (builder, whether it takes token ids)
    gpt2=(hf_builder('GPT2LMHeadModel', 'logits', vocab_size=vocab, n_embd=256, n_layer=4, n_head=4, bos_token_id=0,
                     eos_token_id=0), True),
    bert=(hf_builder('BertModel', 'last_hidden_state', **text), True),
    llama=(hf_builder('LlamaForCausalLM', 'logits', **{**text, 'intermediate_size': 688}, num_key_value_heads=2), True),
    t5_encoder=(hf_builder('T5EncoderModel', 'last_hidden_state', vocab_size=vocab, d_model=256, d_kv=64, d_ff=1024,
                           num_layers=4, num_heads=4), True),
    vit=(hf_builder('ViTForImageClassification', 'logits', **vision, patch_size=8), False),
    convnext=(hf_builder('ConvNextForImageClassification', 'logits', hidden_sizes=[40, 80, 160, 320],
                         depths=[2, 2, 6, 2], num_labels=10), False))

compiled_models = ['tv:resnet18']  # each also run under `torch.compile` as `compiled:<id>`

def model_ids(args):
    ids = [f'tv:{n}' for n in torchvision.models.list_models(module=torchvision.models)]
    ids += [f'timm:{n}' for n in timm_models] + [f'hf:{n}' for n in hf_models]
    ids += [f'compiled:{n}' for n in compiled_models] + [f'custom:{n}' for n in custom_models]
    if args.fast: ids = fast_models
    ids = [i for i in ids if dict(timm=timm is not None and args.timm, hf=has_hf and args.hf).get(i.split(':')[0], True)]
    if args.models: ids = [i for i in ids if any(fnmatch.fnmatchcase(i, p) for p in args.models.split(','))]
    return ids

def builder(model_id, size):
    "`(build, kwargs)` for `model_id` at image size `size`"
    src,name = model_id.split(':', 1)
    if src=='custom': return custom_models[name][0], {}
    if src=='compiled':
        fn,kwargs = builder(name, size)
        return (lambda **kw: torch.compile(fn(**kw))), kwargs
    if src=='hf': return hf_models[name][0], ({} if hf_models[name][1] else dict(image_size=size))
    if src=='tv':
        fn = partial_tv(name)
        if name.startswith('vit_'): return fn, dict(image_size=size - size % int(name.split('_')[-1]))
        return fn, {}
    if name not in timm.list_models(): raise LookupError(f"timm {timm.__version__} has no model {name}")
    return (lambda **kw: timm.create_model(name, **kw)), dict(img_size=size)

def partial_tv(name):
    fn = torchvision.models.get_model_builder(name)
    return lambda **kw: fn(weights=None, **kw)

def param_count(build, kwargs):
    "Parameters of the model, counted on the meta device (no memory, no initialisation)"
    try:
        with torch.device('meta'): model = build(**kwargs)
    except Exception:
        try:
            with torch.device('meta'): model = build()
        except Exception: return None
    return sum(p.numel() for p in model.parameters())

def make_batch(model_id, bs, size, seed):
    g = torch.Generator().manual_seed(seed)
    src,name = model_id.split(':', 1)
    if src=='compiled': return make_batch(name, bs, size, seed)
    if src=='custom' and custom_models[name][1] is not None: return custom_models[name][1](bs, size, g)
    if src=='hf' and hf_models[name][1]: return torch.randint(0, vocab, (bs, text_len), generator=g)
    return torch.randn(bs, 3, size, size, generator=g)

def run_forward(model, xb):
    with torch.no_grad():
        if isinstance(xb, list):
            for b in xb: _reset(model); model(b)
        else: _reset(model); model(xb)

def _reset(model):
    if hasattr(model, 'reset'): model.reset()  # fastai's RNNs keep their hidden state between batches

def build(model_id, args):
    "The model (seed 0) and a batch that runs through it, trying larger images until one does"
    src,name = model_id.split(':', 1)
    sizes = [args.size] + [s for s in (96, 128, 160, 224, 299) if s>args.size] + [None]  # 299: Inception v3's auxiliary head
    if src=='custom' or (src=='hf' and hf_models[name][1]): sizes = [args.size]
    err = None
    for size in sizes:
        default = None
        if size is None and src=='timm': default = timm.get_pretrained_cfg(name).input_size[-1] if timm.get_pretrained_cfg(name) else 224
        s = size or default or 224
        fn,kwargs = builder(model_id, s)
        if size is None: kwargs = {}
        torch.manual_seed(0)
        try: model = fn(**kwargs)
        except Exception:  # a model without an image-size option, or one that cannot take this size
            if not kwargs: raise
            torch.manual_seed(0); kwargs = {}; model = fn()
        init = snapshot(model)
        xb = make_batch(model_id, args.bs, s, seed=1)
        try:
            run_forward(model, xb)
        except Exception as e:
            err = e
            continue
        model.load_state_dict(init)
        return model, xb, s
    raise RuntimeError(f"no input size runs through {model_id}: {err}")

# ---------------------------------------------------------------- measurements

def snapshot(model):
    "A copy of `model`'s state dict, with the version metadata some models check when loading (MNASNet)"
    sd = model.state_dict()
    for k,v in sd.items(): sd[k] = v.detach().clone()
    return sd

def rel_diff(a, b, bias_scale=0.):
    "Max over float tensors of `max|a-b| / max(max|a|, max|b|)`, biases' denominators at least `bias_scale`: 0 when equal, at most 2"
    res = 0.
    for k in b:
        if not b[k].is_floating_point(): continue
        x,y = a[k].double(),b[k].double()
        d = (x-y).abs().max().item()
        if d>0: res = max(res, d/max(x.abs().max().item(), y.abs().max().item(), bias_scale*k.endswith('bias')))
    return res

def lsuv_fp64(model, init, xb, args, lsuv=lsuv_init, **kwargs):
    "A float64 copy of `model` from its `init` state, after the same `lsuv` (`lsuv_init` or the course loop) on `xb` in float64; and the statistics"
    model64,xb64 = copy.deepcopy(model).double(),to_double(xb)
    model64.load_state_dict(init)
    return model64, xb64, lsuv(model64, xb64, tol=args.tol, max_iter=args.max_iter, **kwargs)

def to_double(xb):
    "`xb` (a tensor, a list or tuple of inputs, or `Batches`) with its floating-point tensors in float64"
    if isinstance(xb, torch.Tensor): return xb.double() if xb.is_floating_point() else xb
    if isinstance(xb, Batches): return Batches(*[to_double(b) for b in xb])
    if isinstance(xb, (list, tuple)): return type(xb)(to_double(b) for b in xb)
    return xb

def course_other_threads(model, init, xb, args):
    "The parameters after the course loop on `xb` from `init`, run with another torch thread count than `args.threads`"
    torch.set_num_threads(2 if args.threads==1 else 1)
    try:
        model.load_state_dict(init)
        torch.manual_seed(1000)
        lsuv_init_course(model, xb, tol=args.tol, max_iter=args.max_iter)
        return snapshot(model)
    finally: torch.set_num_threads(args.threads)

def weight_factor(before, after):
    "Largest change of a weight's norm, as a factor >= 1 (up or down)"
    res = 1.
    for k in before:
        if k.endswith('bias') or not before[k].is_floating_point() or k not in dict(after): continue
        n0,n1 = before[k].double().norm().item(),after[k].double().norm().item()
        if n0==0 or n1==0: continue
        res = max(res, n1/n0, n0/n1)
    return res

def deviations(stats, measured, tol):
    "Worst distance from the targets (std 1, mean 0 for `ok` rows) of the re-measured `ok` / `no bias` rows, and rows beyond `tol`"
    worst,off = 0.,0
    for name,status in zip(stats['module'], stats['status']):
        if status not in ('ok', 'no bias') or name not in measured: continue
        mu,sd = measured[name]
        d = abs(sd-1) if status=='no bias' else max(abs(sd-1), abs(mu))
        if not math.isfinite(d): d = math.inf
        worst = max(worst, d)
        off += d>tol*(1+1e-3)
    return worst, off

class Timeout(Exception): pass

def _alarm(signum, frame): raise Timeout()

def measure(model_id, args):
    row = dict(model=model_id)
    t0 = time.perf_counter()
    src,name = model_id.split(':', 1)
    try: fn,kwargs = builder(model_id, args.size)
    except LookupError as e: return {**row, 'error': f'skipped: {e}'}
    n = param_count(fn, kwargs)
    row['params_M'] = None if n is None else round(n/1e6, 2)
    if n is not None and n>args.max_params*1e6: return {**row, 'error': f'skipped: over --max-params {args.max_params:g}M'}
    signal.signal(signal.SIGALRM, _alarm); signal.alarm(args.model_timeout)
    try:
        run,xb,size = build(model_id, args)  # `run`: the model as the user calls it; `model`: its eager module
        model = eager_module(run)
        row['input'] = f"{len(xb)}x{tuple(xb[0].shape)}" if isinstance(xb, list) else str(tuple(xb.shape))
        init = snapshot(model)
        lsuv_xb = Batches(*xb) if isinstance(xb, list) else xb  # a list holds several batches
        lsuv = lambda: lsuv_init(run, lsuv_xb, tol=args.tol, max_iter=args.max_iter, show_progress=False)
        times,afters,stats = dict(forward=[], lsuv=[]),[],None
        run_forward(run, xb); model.load_state_dict(init)  # warm-up
        for r in range(args.repeats):
            t = time.perf_counter(); run_forward(run, xb); times['forward'].append(time.perf_counter()-t)
            model.load_state_dict(init)
            torch.manual_seed(1000+r)  # a different global random state for each run: the result must not depend on it
            try:
                t = time.perf_counter(); stats = lsuv(); times['lsuv'].append(time.perf_counter()-t)
            except Timeout: raise
            except Exception as e:
                row['error'] = f"{type(e).__name__}: {e}".replace('\n', ' ')[:200]
                break
            afters.append(snapshot(model))
            if r<args.repeats-1: model.load_state_dict(init)
        row['forward_s'] = statistics.median(times['forward'])
        if 'error' in row: return row
        row['lsuv_s'] = statistics.median(times['lsuv'])
        row['ratio'] = row['lsuv_s']/row['forward_s']
        row['targets'] = len(stats)
        row['statuses'] = ' '.join(f"{k}:{v}" for k,v in sorted(Counter(stats['status']).items()))
        row['iters'] = int(stats['iters'].sum())
        row['finite'] = all(torch.isfinite(v).all().item() for v in afters[0].values() if v.is_floating_point())
        row['max_wfactor'] = weight_factor(init, afters[0])
        row['seed_diff'] = rel_diff(afters[1], afters[0]) if len(afters)>1 else math.nan
        fp64 = functools.cache(lambda: lsuv_fp64(model, init, lsuv_xb, args, show_progress=False))  # one float64 LSUV serves every column
        model.load_state_dict(afters[0])
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            row['worst_dev'],row['off_rows'] = deviations(stats, target_stats(model, lsuv_xb), args.tol)
            row['off_rows_fp64'] = row['off_rows_fp64_cast'] = math.nan
            if row['off_rows']:
                try:
                    model64,xb64,stats64 = fp64()
                    row['off_rows_fp64'] = deviations(stats64, target_stats(model64, xb64), args.tol)[1]
                    model.load_state_dict(model64.state_dict())  # the float64 weights cast to float32
                    row['off_rows_fp64_cast'] = deviations(stats64, target_stats(model, lsuv_xb), args.tol)[1]
                except Exception as e: row['fp64_error'] = f"{type(e).__name__}: {e}"[:200]
        run_targets = int((~stats['status'].isin(['not run', 'frozen', 'tied', 'skipped'])).sum())
        cost = (run_targets + row['iters'])*row['forward_s']
        row['course_diff'] = row['course_out_diff'] = row['course64_diff'] = row['course32_64_diff'] = row['course_threads_diff'] = math.nan
        if cost<=args.course_budget and any(fnmatch.fnmatchcase(model_id, p) for p in args.course.split(',')):
            model.load_state_dict(init)
            torch.manual_seed(1000)
            try:
                lsuv_init_course(model, lsuv_xb, tol=args.tol, max_iter=args.max_iter)
                course = snapshot(model)
                row['course_diff'] = rel_diff(afters[0], course)
                row['course_out_diff'] = rel_diff(afters[0], course, bias_scale=lsuv_defaults.std)
            except Exception as e: row['course_error'] = f"{type(e).__name__}: {e}"[:200]
            try:
                row['fp64_diff'] = rel_diff(afters[0], snapshot(fp64()[0]))
            except Exception as e: row['fp64_error'] = f"{type(e).__name__}: {e}"[:200]
            if row['course_out_diff']>1e-5:  # which float32 result is off: the course loop in float64 says
                try:
                    exact = snapshot(lsuv_fp64(model, init, lsuv_xb, args, lsuv_init_course)[0])
                    row['course64_diff'] = rel_diff(afters[0], exact, bias_scale=lsuv_defaults.std)
                    row['course32_64_diff'] = rel_diff(course, exact, bias_scale=lsuv_defaults.std)
                    row['course_threads_diff'] = rel_diff(course, course_other_threads(model, init, lsuv_xb, args), bias_scale=lsuv_defaults.std)
                except Exception as e: row['course_error'] = f"{type(e).__name__}: {e}"[:200]
    except Timeout: row['error'] = f'timeout: over --model-timeout {args.model_timeout}s'
    except Exception as e: row['error'] = f"{type(e).__name__}: {e}".replace('\n', ' ')[:200]
    finally: signal.alarm(0)
    row['total_s'] = time.perf_counter()-t0
    return row

# ---------------------------------------------------------------- report

columns = ['model', 'params_M', 'input', 'targets', 'statuses', 'iters', 'forward_s', 'lsuv_s', 'ratio', 'worst_dev', 'off_rows',
           'off_rows_fp64', 'off_rows_fp64_cast', 'seed_diff', 'course_diff', 'course_out_diff', 'course64_diff', 'course32_64_diff', 'course_threads_diff', 'fp64_diff', 'max_wfactor', 'finite', 'error']

def fmt(v, col):
    if v is None or (isinstance(v, float) and math.isnan(v)): return ''
    if col in ('forward_s', 'lsuv_s', 'worst_dev', 'seed_diff', 'course_diff', 'course_out_diff', 'course64_diff', 'course32_64_diff', 'course_threads_diff', 'fp64_diff', 'max_wfactor'): return f"{v:.3g}"
    if col=='ratio': return f"{v:.2f}"
    if col in ('targets', 'iters', 'off_rows', 'off_rows_fp64', 'off_rows_fp64_cast'): return str(int(v))
    return str(v).replace('|', '/')

def numbers(df, col):
    "Column `col` of `df` as floats, NaN where missing"
    return pd.to_numeric(df[col], errors='coerce') if col in df else pd.Series(math.nan, index=df.index)

def within_fp32(df):
    "The models whose one-pass result is further than 1e-5 from the course loop's, but no further than float32 from float64"
    course,fp64 = numbers(df, 'course_diff'),numbers(df, 'fp64_diff')
    return (course>1e-5) & (course<=fp64)

def course_fp32_off(df):
    "The models whose one-pass result is further than 1e-5 from the course loop's (biases against the target std), but as close to the course loop in float64 as the float32 course loop is, or within 1e-5 of it"
    close = numbers(df, 'course64_diff')
    return (numbers(df, 'course_out_diff')>1e-5) & ((close<=1e-5) | (close<=numbers(df, 'course32_64_diff')))

def within_course_spread(df):
    "The models whose one-pass result is further than 1e-5 from the course loop's, but no further than the course loop moves with another thread count"
    out = numbers(df, 'course_out_diff')
    return (out>1e-5) & (out<=numbers(df, 'course_threads_diff'))

def summary(df, args):
    ran = df[df['error'].isna() & df['ratio'].notna()] if 'ratio' in df else df.iloc[:0]
    zoo = ran[~ran['model'].str.startswith('custom:')]  # the hand-made cases are too small to time
    failed = df[df['error'].notna() & ~df['error'].astype(str).str.startswith('skipped')]
    skipped = df[df['error'].astype(str).str.startswith('skipped')]
    lines = [f"- models: {len(df)}; ran: {len(ran)}; failed: {len(failed)}; skipped: {len(skipped)}"]
    if len(ran):
        worst = zoo.loc[zoo['ratio'].idxmax()] if len(zoo) else ran.loc[ran['ratio'].idxmax()]
        timed = zoo if len(zoo) else ran
        lines += [f"- lsuv_init time / forward time ({'zoo models' if len(zoo) else 'all'}): median {timed['ratio'].median():.2f}x, "
                  f"max {worst['ratio']:.2f}x ({worst['model']}), above 3x: {int((timed['ratio']>3).sum())}",
                  f"- rows off target when re-measured (beyond tol {args.tol:g}): {int(ran['off_rows'].sum())} in "
                  f"{int((ran['off_rows']>0).sum())} models; the same LSUV and re-measure in float64 leave "
                  f"{int(ran['off_rows_fp64'].sum())} rows off in those models, and the float64 LSUV's weights cast to float32 "
                  f"and re-measured in float32 {int(numbers(ran, 'off_rows_fp64_cast').sum())} (off_rows_fp64_cast)",
                  f"- results that depend on the random seed (seed_diff > 0): {int((ran['seed_diff']>0).sum())} models",
                  f"- one-pass vs course loop compared on {int(ran['course_diff'].notna().sum())} models; above 1e-5 relative: "
                  f"{int((ran['course_diff']>1e-5).sum())}, of which {int(within_fp32(ran).sum())} within float32's own "
                  f"difference from float64 (fp64_diff); with biases measured against the target std (course_out_diff): "
                  f"{int((ran['course_out_diff']>1e-5).sum())} above 1e-5, of which {int(course_fp32_off(ran).sum())} within 1e-5 "
                  f"of the course loop run in float64, or closer to it than the float32 course loop (course64_diff, course32_64_diff), "
                  f"and {int(within_course_spread(ran).sum())} no further from the course loop than it moves itself with another "
                  f"thread count (course_threads_diff)",
                  f"- max weight-norm factor: {ran['max_wfactor'].max():.3g} ({ran.loc[ran['max_wfactor'].idxmax(), 'model']}); "
                  f"above 100: {int((ran['max_wfactor']>100).sum())} models",
                  f"- non-finite parameters: {int((~ran['finite'].astype(bool)).sum())} models"]
    for _,r in failed.iterrows(): lines.append(f"- failed: `{r['model']}`: {r['error']}")
    return lines

def git_commit():
    "The git commit of the code measured, if this is a checkout"
    try: return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, cwd=os.path.dirname(__file__)).stdout.strip() or 'unknown'
    except OSError: return 'unknown'

def report(df, args, elapsed, cmd):
    dev = 'cpu'
    header = [f"## LSUV on the model zoos ({dev})", "",
              f"Command: `{cmd}`", "",
              f"fastai_lsuv {args.commit}, torch {torch.__version__}, torchvision {torchvision.__version__}, timm {timm.__version__ if timm else 'not installed'}, "
              f"transformers {version('transformers') if has_hf else 'not installed'}, "
              f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores), torch.set_num_threads({args.threads}), "
              f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {elapsed/60:.1f} min. Batch {args.bs} x 3 x {args.size} px "
              f"(larger where a model needs it, see `input`; text models {args.bs} x {text_len} token ids), "
              f"`weights=None`, seed 0; `lsuv_init` defaults (tol {args.tol:g}, "
              f"max_iter {args.max_iter}); times are medians of {args.repeats} alternating runs. {args.note}".rstrip(),
              "", "Columns: see `benchmarks/zoo.py`'s docstring. An empty `course_diff`: the course loop would take more than "
              f"{args.course_budget:g} s.", "", "### Summary", "", *summary(df, args), "", "### Models", "",
              "| " + " | ".join(columns) + " |", "|" + "|".join('---' if c in ('model','input','statuses','error') else '---:' for c in columns) + "|"]
    rows = [f"| {' | '.join(fmt(r.get(c), c) for c in columns)} |" for r in df.to_dict('records')]
    return "\n".join(header + rows) + "\n"

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--models', default=None, help="comma-separated fnmatch patterns on ids like 'tv:resnet18', "
                   "'timm:levit_128s', 'hf:gpt2', 'compiled:tv:resnet18', 'custom:awd_lstm'")
    p.add_argument('--timm', action=argparse.BooleanOptionalAction, default=True, help='include one model per timm family (if timm is installed)')
    p.add_argument('--hf', action=argparse.BooleanOptionalAction, default=True,
                   help='include the Hugging Face models (if transformers is installed)')
    p.add_argument('--fast', action='store_true', help=f"only the hard cases: {', '.join(fast_models)}")
    p.add_argument('--max-params', type=float, default=150, help='skip models with more parameters (millions)')
    p.add_argument('--size', type=int, default=64, help='image size tried first')
    p.add_argument('--bs', type=int, default=default_bs, help='batch size')
    p.add_argument('--threads', type=int, default=1, help='torch.set_num_threads')
    p.add_argument('--repeats', type=int, default=3, help='timed runs of the forward and of lsuv_init (at least 2: the seed check)')
    p.add_argument('--tol', type=float, default=1e-3)
    p.add_argument('--max-iter', type=int, default=10)
    p.add_argument('--course-budget', type=float, default=30., help='run the course loop only where it should take at most this many seconds')
    p.add_argument('--course', default='*', help='comma-separated fnmatch patterns: the models compared with the course loop (within --course-budget)')
    p.add_argument('--model-timeout', type=int, default=600, help='seconds per model before it is recorded as a timeout')
    p.add_argument('--out', default=None, help='folder to write zoo_cpu.md and zoo_cpu.csv into (with another --bs, zoo_cpu_bs<bs>.*)')
    p.add_argument('--tag', default='', help="written to zoo_<tag>_cpu.md and .csv instead (e.g. 'hf' for a selection)")
    p.add_argument('--note', default='', help='a sentence for the header, e.g. about the machine')
    args = p.parse_args(argv)
    args.repeats = max(args.repeats, 2)
    return args

def main(argv=None):
    args = parse_args(argv)
    args.commit = git_commit()  # at the start: the code this run imported
    torch.set_num_threads(args.threads)
    warnings.simplefilter('ignore')
    ids,rows,start = model_ids(args),[],time.perf_counter()
    cmd = shlex.join(['python', 'benchmarks/zoo.py', *(sys.argv[1:] if argv is None else argv)])
    for i,mid in enumerate(ids):
        row = measure(mid, args)
        rows.append(row)
        print(f"[{time.perf_counter()-start:6.0f}s] {i+1}/{len(ids)} {mid}: "
              + ', '.join(f"{k}={fmt(row.get(k), k)}" for k in ('ratio','statuses','worst_dev','seed_diff','course_diff','max_wfactor','error') if fmt(row.get(k), k)),
              file=sys.stderr, flush=True)
        table = write(rows, args, time.perf_counter()-start, cmd, done=i+1==len(ids))  # after each model: a long run leaves its rows
    print(table)
    return 0

def write(rows, args, elapsed, cmd, done):
    "The table of `rows` as markdown, written with the CSV to `args.out` if given"
    df = pd.DataFrame(rows)
    for c in columns:
        if c not in df: df[c] = None
    table = report(df, args, elapsed, cmd) + ('' if done else f"\n(unfinished: {len(rows)} models so far)\n")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        stem = f"zoo_{args.tag + '_' if args.tag else ''}cpu" + ('' if args.bs==default_bs else f'_bs{args.bs}')
        stem = os.path.join(args.out, stem)  # another batch or tag keeps the default's table
        df[columns + [c for c in df.columns if c not in columns]].to_csv(stem+'.csv', index=False)
        with open(stem+'.md', 'w') as f: f.write(table)
    return table

if __name__=='__main__': sys.exit(main())

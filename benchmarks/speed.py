#!/usr/bin/env python
"""How fast fastai_lsuv's one-pass `lsuv_init` is, next to one forward pass, the course loop and PyPI `lsuv` 0.3.0

    python benchmarks/speed.py                            # print the table (8-16 minutes on a quiet 2-core CPU)
    python benchmarks/speed.py --out benchmarks/results   # also write speed_<device>.md and depth_<device>.png
    python benchmarks/speed.py --device cuda              # the same measurements on a GPU
    python benchmarks/speed.py --quick                    # a tiny model and tiny sizes: checks the script runs
    bash benchmarks/gpu_run.sh                            # on a GPU machine: xresnet50 and vit_b_16, host synchronisations

Every time is the median of repeated runs, each from the same initial weights, after a warm-up. The runs of the
methods alternate (forward, ours, PyPI, course, forward, ours, ...) so that a busy machine slows them alike and
the ratios stay fair; the process CPU time is printed too, as a check on a busy machine (on a shared CPU
`--threads 1` is steadier: 2 threads wait for busy cores on every small op). Peak memory on the CPU is the resident set (VmHWM) of a fresh process per measurement;
on a GPU it is `torch.cuda.max_memory_allocated`. On a GPU the script also counts the host synchronisations of one
run of each method (`torch.cuda.set_sync_debug_mode('warn')`: one warning per synchronising call).
"""
from __future__ import annotations
import argparse, gc, json, os, platform, statistics, subprocess, sys, time, warnings
from collections import Counter
from datetime import datetime, timezone
import torch, torchvision
from torch import nn
import fastai
from fastai.vision.models import xresnet
from fastai_lsuv.core import Batches, lsuv_targets, _table
from fastai_lsuv.mode import lsuv_mode
from fastai_lsuv.api import lsuv_init
from fastai_lsuv.reference import lsuv_init_course

try: import lsuv as pypi_lsuv
except ImportError: pypi_lsuv = None

targets = dict(ours_forward=1.2, small_forward=2., course_ours=30., pypi_ours=1., memory=1.5, params=1e-5)
pypi_tol = 0.1  # PyPI lsuv's own tolerance: its algorithm is std only, |std-1| <= 0.1

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--device', default='cpu', help="'cpu' or 'cuda' (or 'cuda:N')")
    p.add_argument('--threads', type=int, default=2, help='torch.set_num_threads, for every measurement')
    p.add_argument('--model', default='xresnet50', help='a model of fastai.vision.models.xresnet')
    p.add_argument('--bs', type=int, default=32, help='batch size')
    p.add_argument('--size', type=int, default=128, help='image size (3 x size x size)')
    p.add_argument('--repeats', type=int, default=5, help='timed runs of the forward pass and of lsuv_init')
    p.add_argument('--slow-repeats', type=int, default=1,
                   help='timed runs of the course loop and of PyPI lsuv on --model (minutes each on a CPU)')
    p.add_argument('--tol', type=float, default=1e-3, help='tolerance of lsuv_init and of the course loop')
    p.add_argument('--max-iter', type=int, default=10, help='max_iter of lsuv_init and of the course loop')
    p.add_argument('--depths', default='4,8,16,32,64', help='conv/linear layers of the plain CNNs of the depth sweep')
    p.add_argument('--depth-width', type=int, default=16, help='channels of the plain CNNs')
    p.add_argument('--depth-bs', type=int, default=32, help='batch size of the depth sweep')
    p.add_argument('--depth-size', type=int, default=16, help='image size of the depth sweep')
    p.add_argument('--depth-repeats', type=int, default=3, help='timed runs of the course loop and of PyPI lsuv at each depth')
    p.add_argument('--small-repeats', type=int, default=21,
                   help='timed runs of the forward and of lsuv_init on the small models (--tv-models and the depth sweep): milliseconds each')
    p.add_argument('--tv-models', default='mobilenet_v3_small@8x64',
                   help="torchvision models timed against their forward, each NAME@BATCHxSIZE, comma-separated (e.g. vit_b_16@32x224); '' for none")
    p.add_argument('--n-batches', type=int, default=4, help='batches of --model for the statistics-over-several-batches runs')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=None, help='folder to write speed_<device>.md and depth_<device>.png into')
    p.add_argument('--note', default='', help='a sentence for the header, e.g. about the machine')
    p.add_argument('--quick', action='store_true', help='xresnet18 on a tiny batch, depths 2 and 4, one run each')
    p.add_argument('--peak', default=None, help=argparse.SUPPRESS)  # internal: measure one peak in this process
    p.add_argument('--peak-model', default='', help=argparse.SUPPRESS)  # internal: of this --tv-models entry, not --model
    args = p.parse_args(argv)
    if args.quick:
        args.model,args.bs,args.size,args.depths,args.depth_bs,args.depth_size = 'xresnet18',2,32,'2,4',4,8
        args.repeats = args.slow_repeats = args.depth_repeats = args.small_repeats = 1
        args.n_batches,args.tv_models = 2,'mobilenet_v3_small@2x32'
    args.depths = [int(d) for d in args.depths.split(',')]
    args.tv_models = [parse_tv(spec) for spec in args.tv_models.split(',') if spec]
    return args

# ---------------------------------------------------------------- models, runs, timing

def main_model(args):
    "`args.model` and its batch, the same for a given seed in every process"
    torch.manual_seed(args.seed)
    model = getattr(xresnet, args.model)().to(args.device)
    return model, torch.randn(args.bs, 3, args.size, args.size, device=args.device)

def parse_tv(spec):
    "'NAME@BATCHxSIZE' as `(name, batch, size)`"
    name,shape = spec.split('@')
    bs,size = shape.split('x')
    return name, int(bs), int(size)

def tv_model(args, spec):
    "The torchvision model `spec` (random weights) and its batch"
    name,bs,size = spec
    torch.manual_seed(args.seed)
    model = torchvision.models.get_model(name, weights=None).to(args.device)
    return model, torch.randn(bs, 3, size, size, device=args.device)

def tv_label(spec): return f"{spec[0]}, batch {spec[1]}x3x{spec[2]}x{spec[2]}"

def plain_cnn(depth, width):
    "`depth` conv/linear layers: 3x3 convs with bias and ReLU, then a linear head"
    layers = [nn.Conv2d(3, width, 3, padding=1), nn.ReLU()]
    for _ in range(depth-2): layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))

def depth_model(args, depth):
    torch.manual_seed(args.seed)
    model = plain_cnn(depth, args.depth_width).to(args.device)
    return model, torch.randn(args.depth_bs, 3, args.depth_size, args.depth_size, device=args.device)

def forward(model, xb, args):
    with torch.no_grad(): return model(xb)

def ours(model, xb, args): return lsuv_init(model, xb, tol=args.tol, max_iter=args.max_iter, show_progress=False)

def ours_no_targets(model, xb, args):
    "A call that initialises nothing: the checks, the mode, the forward pass and the table, the cost of a call whatever the model"
    return lsuv_init(model, xb, modules=[], show_progress=False)

def forward_in_mode(model, xb, args):
    "The forward pass in `lsuv_mode`: what saving and restoring the training flags, buffers and random states adds to a call"
    with lsuv_mode(model): return model(xb)

def forward_table(model, xb, args):
    "The forward pass, then the statistics table of the model's target modules, built as `lsuv_init` builds it: what that adds to a call"
    forward(model, xb, args)
    return _table(lsuv_targets(model), {}, {})

def course(model, xb, args): return lsuv_init_course(model, xb, tol=args.tol, max_iter=args.max_iter)

def pypi(model, xb, args):
    # no orthonormal pre-init: the same work as ours, which rescales the weights the model was built with
    return pypi_lsuv.lsuv_with_singlebatch(model, xb, std_tol=pypi_tol, do_orthonorm=False, verbose=False,
                                           device=torch.device(args.device))

def forward_batches(model, xbs, args):
    with torch.no_grad(): return [model(xb) for xb in xbs]

runners = dict(forward=forward, ours=ours, ours_no_targets=ours_no_targets, forward_in_mode=forward_in_mode, forward_table=forward_table,
               course=course, pypi=pypi, forward_batches=forward_batches,
               ours_batches=lambda model, xbs, args: ours(model, Batches(*xbs), args))
labels = dict(forward='plain forward, torch.no_grad()', ours='lsuv_init (fastai_lsuv, one pass)',
              course='lsuv_init_course (course loop)', pypi='PyPI lsuv 0.3.0 (lsuv_with_singlebatch)',
              forward_batches='plain forward of each batch', ours_batches='lsuv_init on the list of batches')

def sync(device):
    if torch.device(device).type=='cuda': torch.cuda.synchronize(device)

def snapshot(model): return {k:v.detach().clone() for k,v in model.state_dict().items()}

class Runs:
    "Times the methods on `model` and `xb`, each run starting from the weights and buffers the model had at creation"
    def __init__(self, model, xb, args):
        self.model,self.xb,self.args,self.init = model,xb,args,snapshot(model)
        self.times,self.cpu_times,self.after,self.statuses = {},{},{},{}

    def reset(self): self.model.load_state_dict(self.init)

    def __call__(self, name, record=True):
        self.reset()
        sync(self.args.device)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # statuses say what LSUV warned about, once per method
            start,cpu_start = time.perf_counter(),time.process_time()
            res = runners[name](self.model, self.xb, self.args)
            sync(self.args.device)
            elapsed,cpu = time.perf_counter()-start,time.process_time()-cpu_start
        if not record: return
        self.times.setdefault(name, []).append(elapsed)
        self.cpu_times.setdefault(name, []).append(cpu)
        if name not in self.after:
            self.after[name] = snapshot(self.model)
            if name in ('ours','course'): self.statuses[name] = dict(Counter(res['status']), iters=int(res['iters'].sum()))

    def interleaved(self, names, repeats):
        "`repeats[name]` runs of each method, the methods taking turns"
        for r in range(max(repeats.values())):
            for n in names:
                if r<repeats[n]: self(n)

    def median(self, name): return statistics.median(self.times[name])

    def paired_ratio(self, num, den):
        "Median of the ratios of back-to-back runs: robust to a machine whose load changes over time"
        return statistics.median(a/b for a,b in zip(self.times[num], self.times[den]))

    def paired_difference(self, num, den):
        "Median of the differences of runs of the same round, in seconds: what `num` adds to `den`"
        return statistics.median(a-b for a,b in zip(self.times[num], self.times[den]))

    def param_difference(self, a='ours', b='course'):
        "Max over parameters of max|a-b| / max|b|: how far `a`'s parameters are from `b`'s, relative to their scale"
        names = [n for n,_ in self.model.named_parameters()]
        pa,pb = self.after[a],self.after[b]
        return max(((pa[n]-pb[n]).abs().max()/pb[n].abs().max().clamp_min(1e-30)).item() for n in names)

# ---------------------------------------------------------------- peak memory

def _rss_kib(field):
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field+':'))

def measure_peak(args):
    "In a fresh process (CPU) or after resetting the counters (GPU): peak memory of `args.peak`, in bytes"
    cuda = torch.device(args.device).type=='cuda'
    # what the process held before the model: the runtime on the CPU, on a GPU the models of the timed runs
    runtime = torch.cuda.memory_allocated(args.device) if cuda else _rss_kib('VmRSS')*1024
    model,xb = tv_model(args, parse_tv(args.peak_model)) if args.peak_model else main_model(args)
    forward(model, xb, args)  # warm-up, as before the timed runs
    gc.collect()
    if cuda:
        sync(args.device); torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(args.device)
        before = torch.cuda.memory_allocated(args.device)
    else:
        before = _rss_kib('VmRSS')*1024
        with open('/proc/self/clear_refs', 'w') as f: f.write('5')  # reset VmHWM to the current resident set
    runners[args.peak](model, xb, args)
    sync(args.device)
    peak = torch.cuda.max_memory_allocated(args.device) if cuda else _rss_kib('VmHWM')*1024
    return dict(peak=peak-runtime, working=peak-before)

def peak_memory(args, name, spec=None):
    "`{peak, working}`: the peak with the model and batch, and the peak above them; of `--model`, or of torchvision's `spec`"
    peak_model = f"{spec[0]}@{spec[1]}x{spec[2]}" if spec else ''
    if torch.device(args.device).type=='cuda':
        return measure_peak(argparse.Namespace(**{**vars(args), 'peak': name, 'peak_model': peak_model}))
    # a fixed mmap threshold makes glibc hand every large free back to the OS, so the resident set follows the tensors
    env = {**os.environ, 'MALLOC_MMAP_THRESHOLD_': '65536'}
    cmd = [sys.executable, __file__, '--peak', name, '--device', args.device, '--threads', str(args.threads),
           '--model', args.model, '--bs', str(args.bs), '--size', str(args.size), '--seed', str(args.seed),
           '--tol', str(args.tol), '--max-iter', str(args.max_iter), '--peak-model', peak_model]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode: raise RuntimeError(f"peak memory of {name} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])

# ---------------------------------------------------------------- host synchronisations

def host_syncs(args, make, name):
    "How many times one run of `name` makes the host wait for the GPU (`torch.cuda.set_sync_debug_mode`); `None` on a CPU"
    if torch.device(args.device).type!='cuda': return None
    model,xb = make()
    forward(model, xb, args)
    sync(args.device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try: runners[name](model, xb, args)
        finally: torch.cuda.set_sync_debug_mode('default')
    return sum('synchroniz' in str(w.message) for w in caught)

# ---------------------------------------------------------------- report

def device_name(device):
    if torch.device(device).type=='cuda': return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"

def fmt_s(t): return f"{t:.3g}"
def mib(b): return f"{b/2**20:.0f}"

def check(ok): return 'PASS' if ok else 'FAIL'

def report(args, main, memory, syncs, depth, group, tv, elapsed):
    has_pypi = 'pypi' in main.times
    lines = [f"## LSUV speed: `{args.model}`, batch {args.bs}x3x{args.size}x{args.size}, {args.device}",
             "",
             f"torch {torch.__version__}, fastai {fastai.__version__}, {device_name(args.device)}, "
             f"torch.set_num_threads({args.threads}), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"benchmark took {elapsed/60:.1f} min. `lsuv_init` and the course loop: default modules, "
             f"tol {args.tol:g}, max_iter {args.max_iter}; PyPI lsuv: std only, tol {pypi_tol:g}, no orthonormal pre-init. {args.note}".rstrip(),
             "",
             "| method | time (s, median) | runs | x forward | process CPU time (s, median) |",
             "|---|---:|---:|---:|---:|"]
    fwd = main.median('forward')
    for n in ['forward','ours','course','pypi']:
        if n in main.times: lines.append(f"| {labels[n]} | {fmt_s(main.median(n))} | {len(main.times[n])} | {main.median(n)/fwd:.1f} "
                                         f"| {fmt_s(statistics.median(main.cpu_times[n]))} |")
    if not has_pypi: lines.append(f"| {labels['pypi']} | not installed: `pip install lsuv==0.3.0` | | | |")
    lines += ["", "| peak memory | with model and batch (MiB) | above model and batch (MiB) |", "|---|---:|---:|"]
    for n in memory: lines.append(f"| {labels[n]} | {mib(memory[n]['peak'])} | {mib(memory[n]['working'])} |")
    st = main.statuses
    lines += ["", f"Statuses (iterations in all): ours {st['ours']}, course loop {st['course']}.", ""]
    if syncs: lines += [f"Host synchronisations of one run: " + ", ".join(f"{labels[n]} {c}" for n,c in syncs.items()) + ".", ""]

    ours_forward = main.paired_ratio('ours', 'forward')
    course_ours = main.median('course')/main.median('ours')
    mem_ratio = memory['ours']['peak']/memory['forward']['peak']
    params = main.param_difference()
    rows = [("lsuv_init time / forward time (paired runs)", f"{ours_forward:.2f}x", f"<= {targets['ours_forward']:g}x", check(ours_forward<=targets['ours_forward'])),
            ("course loop time / lsuv_init time", f"{course_ours:.0f}x", f">= {targets['course_ours']:g}x", check(course_ours>=targets['course_ours']))]
    if has_pypi:
        pypi_ours = main.median('pypi')/main.median('ours')
        rows.append(("PyPI lsuv time / lsuv_init time", f"{pypi_ours:.0f}x", f"> {targets['pypi_ours']:g}x", check(pypi_ours>targets['pypi_ours'])))
    else: rows.append(("PyPI lsuv time / lsuv_init time", "not run", f"> {targets['pypi_ours']:g}x", 'SKIP'))
    rows += [("lsuv_init peak memory / forward peak", f"{mem_ratio:.2f}x", f"<= {targets['memory']:g}x", check(mem_ratio<=targets['memory'])),
             ("max relative parameter difference, lsuv_init vs course loop", f"{params:.1e}", f"<= {targets['params']:g}", check(params<=targets['params']))]
    small = targets['small_forward']
    for spec,(runs,_,_) in tv.items():
        r = runs.paired_ratio('ours', 'forward')
        rows.append((f"{tv_label(spec)}: lsuv_init time / forward time", f"{r:.2f}x", f"<= {small:g}x", check(r<=small)))
    if depth:
        d,r = max(((d, runs.paired_ratio('ours', 'forward')) for d,runs in depth.items()), key=lambda o: o[1])
        rows.append((f"plain CNNs of {args.depth_width} channels: lsuv_init time / forward time, worst depth",
                     f"{r:.2f}x ({d} layers)", f"<= {small:g}x", check(r<=small)))
    lines += ["| target | measured | goal | result |", "|---|---:|---:|:---:|"] + [f"| {' | '.join(r)} |" for r in rows]

    if tv:
        lines += ["", "### Small layers and other models: torchvision, random weights, paired runs", "",
                  "| model | forward (s) | lsuv_init (s) | lsuv_init / forward | peak memory lsuv_init / forward | host syncs forward / lsuv_init | statuses |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for spec,(runs,mem,sy) in tv.items():
            m = f"{mem['ours']['peak']/mem['forward']['peak']:.2f}x" if mem else '-'
            sy = f"{sy['forward']} / {sy['ours']}" if sy else '-'
            lines.append(f"| {tv_label(spec)} | {fmt_s(runs.median('forward'))} | {fmt_s(runs.median('ours'))} "
                         f"| {runs.paired_ratio('ours','forward'):.2f}x | {m} | {sy} | {runs.statuses['ours']} |")
    lines += ["", f"### Statistics over several batches: `lsuv_init` on a list of {args.n_batches} batches of {args.model}, median of {args.repeats}", "",
              "The batches take turns, each running to the next target module, so the cost is about one forward pass per batch.", "",
              "| method | time (s, median) | x forward of the batches |", "|---|---:|---:|"]
    for n in ['forward_batches','ours_batches']:
        lines.append(f"| {labels[n]} | {fmt_s(group.median(n))} | {group.median(n)/group.median('forward_batches'):.2f} |")
    lines += ["", f"### Time vs depth: plain CNNs (3x3 conv + ReLU, {args.depth_width} channels, linear head), "
              f"batch {args.depth_bs}x3x{args.depth_size}x{args.depth_size}, medians of {args.small_repeats} runs "
              f"(the course loop and PyPI lsuv: {args.depth_repeats})", "",
              "`lsuv_init` above the forward splits into the cost of a call (`lsuv_init(..., modules=[])`, which runs the same checks, "
              "mode, forward pass and table but initialises nothing) and the cost of each module initialised, each the median difference "
              "of runs of the same round. Two parts of the cost of a call "
              "are timed the same way, each above the forward: the forward in `lsuv_mode` (the training flags, buffers and random states "
              "of Python, numpy and torch saved and restored) and the forward followed by the statistics table of the model's target "
              "modules, as `lsuv_init` builds it. Where the forward takes tens of milliseconds, its own noise is as large as these two "
              "parts: a negative value is that noise.", "",
              "| conv/linear layers | forward (s) | lsuv_init (s) | course loop (s) | PyPI lsuv (s) | lsuv_init / forward | course / lsuv_init "
              "| per call above the forward (ms) | of which the mode (ms) | of which the table (ms) | per module (ms) |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for d,runs in depth.items():
        pypi_t = fmt_s(runs.median('pypi')) if has_pypi else '-'
        above = lambda n: f"{runs.paired_difference(n, 'forward')*1e3:.2f}"
        lines.append(f"| {d} | {fmt_s(runs.median('forward'))} | {fmt_s(runs.median('ours'))} | {fmt_s(runs.median('course'))} "
                     f"| {pypi_t} | {runs.paired_ratio('ours','forward'):.1f}x | {runs.median('course')/runs.median('ours'):.0f}x "
                     f"| {above('ours_no_targets')} | {above('forward_in_mode')} | {above('forward_table')} "
                     f"| {runs.paired_difference('ours', 'ours_no_targets')/d*1e3:.3f} |")
    return "\n".join(lines)+"\n", all(r[-1]!='FAIL' for r in rows)

def plot_depth(args, depth, path):
    import matplotlib, matplotlib.ticker; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig,ax = plt.subplots(figsize=(6,4))
    ds = list(depth)
    for n,style in dict(forward='k--', ours='o-', course='s-', pypi='^-').items():
        if n in next(iter(depth.values())).times: ax.plot(ds, [depth[d].median(n) for d in ds], style, label=labels[n])
    ax.set(xscale='log', yscale='log', xlabel='conv/linear layers', ylabel='seconds (median)',
           title=f'LSUV time vs depth, plain CNN, {args.device}')
    ax.set_xticks(ds, [str(d) for d in ds]); ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.grid(True, which='both', alpha=.3); ax.legend(fontsize=8)
    fig.tight_layout(); fig.savefig(path, dpi=120); plt.close(fig)

# ---------------------------------------------------------------- main

def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.peak:
        print(json.dumps(measure_peak(args)))
        return 0
    start = time.perf_counter()
    names = ['forward','ours'] + (['pypi'] if pypi_lsuv else []) + ['course']
    if not pypi_lsuv: print("PyPI lsuv is not installed (`pip install lsuv==0.3.0`): its column is skipped", file=sys.stderr)

    def log(msg): print(f"[{time.perf_counter()-start:6.0f}s] {msg}", file=sys.stderr, flush=True)
    log(f"{args.model}: warm-up")
    main_runs = Runs(*main_model(args), args)
    for n in ['forward','forward','ours']: main_runs(n, record=False)
    log(f"{args.model}: {args.repeats} runs of forward and lsuv_init, {args.slow_repeats} of the course loop and PyPI lsuv")
    main_runs.interleaved(names, {n:(args.slow_repeats if n in ('course','pypi') else args.repeats) for n in names})
    log("peak memory, a fresh process each")
    memory = {n:peak_memory(args, n) for n in ['forward','ours']}
    log(f"{args.model}: lsuv_init on {args.n_batches} batches")
    model,xb = main_model(args)
    group = Runs(model, [xb]+[torch.randn_like(xb) for _ in range(args.n_batches-1)], args)
    for n in ['forward_batches','ours_batches']: group(n, record=False)
    group.interleaved(['forward_batches','ours_batches'], dict(forward_batches=args.repeats, ours_batches=args.repeats))
    del model,xb
    tv = {}
    for spec in args.tv_models:
        log(f"{tv_label(spec)}: {args.small_repeats} runs of forward and lsuv_init")
        make = lambda spec=spec: tv_model(args, spec)
        runs = Runs(*make(), args)
        for n in ['forward','forward','ours']: runs(n, record=False)
        runs.interleaved(['forward','ours'], dict(forward=args.small_repeats, ours=args.small_repeats))
        cuda = torch.device(args.device).type=='cuda'
        mem = {n:peak_memory(args, n, spec) for n in ['forward','ours']} if cuda else None
        tv[spec] = (runs, mem, {n:host_syncs(args, make, n) for n in ['forward','ours']} if cuda else None)
        del runs
    syncs = {n:host_syncs(args, lambda: main_model(args), n) for n in ['forward','ours','course']}
    syncs = syncs if syncs['ours'] is not None else None
    depth = {}
    for d in args.depths:
        log(f"depth {d}")
        runs = depth[d] = Runs(*depth_model(args, d), args)
        depth_names = names + ['ours_no_targets', 'forward_in_mode', 'forward_table']
        for n in ['forward','ours','ours_no_targets','forward_in_mode','forward_table']: runs(n, record=False)
        runs.interleaved(depth_names, {n:(args.depth_repeats if n in ('course','pypi') else args.small_repeats) for n in depth_names})
    table,ok = report(args, main_runs, memory, syncs, depth, group, tv, time.perf_counter()-start)
    cmd = 'python benchmarks/speed.py ' + ' '.join(sys.argv[1:] if argv is None else argv)
    table = table.replace('\n\n', f"\n\nCommand: `{cmd.strip()}`\n\n", 1)
    print(table)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        dev = torch.device(args.device).type
        with open(os.path.join(args.out, f'speed_{dev}.md'), 'w') as f: f.write(table)
        plot_depth(args, depth, os.path.join(args.out, f'depth_{dev}.png'))
        log(f"wrote {args.out}/speed_{dev}.md and depth_{dev}.png")
    print('ALL TARGETS PASS' if ok else 'SOME TARGETS FAIL')
    return 0

if __name__=='__main__': sys.exit(main())

"""One rank of `test_distributed.py`'s CPU process groups (gloo, 127.0.0.1). Modes `distrib_ctx` and `wrapped`: LSUVCallback, then one epoch.
Every rank builds the same model (same seed) but gets its own data, so its own LSUV batch; it saves its final
state dict and LSUV statistics to `out` for the parent to compare. Usage: RANK=r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1
MASTER_PORT=p python ddp_worker.py OUT MODE..., each MODE `distrib_ctx` (fastai's `DistributedTrainer`) or `wrapped`
(a model already wrapped in `DistributedDataParallel`); `pooled`: `lsuv_init` on each of `pooled_cases`, each process
with its own batches; `failure`: process 1's forward pass fails. The modes run in turn in one process group."""
import gc, os, sys, time, warnings
from datetime import timedelta
from pathlib import Path
import torch, torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from fastai.data.core import DataLoaders
from fastai.learner import Learner
from fastai.losses import CrossEntropyLossFlat
from fastcore.basics import patch
from fastai.torch_core import set_seed, get_model
from fastai.distributed import *
from fastai_lsuv.all import *
from fastai_lsuv.core import Batches
from fastai_lsuv.api import lsuv_init
from fastai_lsuv.engine import _Ranks

@patch
def _broadcast(self:DistributedDL, t, rank):
    "fastai's `DistributedDL` moves the shuffled indices to CUDA for nccl; gloo on CPU broadcasts them as they are"
    t = torch.tensor(t, dtype=torch.long)
    dist.broadcast(t, rank)
    return t.tolist()

def rank_dls(rank, n=64, bs=8):
    "The same task on every rank, different samples on each"
    g = torch.Generator().manual_seed(100+rank)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0]>0).long()
    return DataLoaders.from_dsets(list(zip(x[:48], y[:48])), list(zip(x[48:], y[48:])), bs=bs, shuffle=True, device='cpu')

def train(out, mode, rank):
    set_seed(rank)  # no shared seed: each process starts from weights of its own
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    if mode=='wrapped': model = DistributedDataParallel(model)
    learn = Learner(rank_dls(rank), model, loss_func=CrossEntropyLossFlat(), cbs=LSUVCallback())
    with learn.no_bar(), learn.no_logging():
        if mode=='distrib_ctx':
            with learn.distrib_ctx(sync_bn=False, cpu=True): learn.fit(1, 1e-2)
        else: learn.fit(1, 1e-2)
    torch.save({'state': get_model(learn.model).state_dict(), 'stats': learn.lsuv.stats}, Path(out)/f'{mode}-{rank}.pth')

# ---------------------------------------------------------------- lsuv_init itself, statistics pooled over the processes

class Twice(nn.Module):
    "A linear layer called twice in one forward pass: LSUV gives it the course loop"
    def __init__(self):
        super().__init__()
        self.a,self.b = nn.Linear(6, 16),nn.Linear(16, 16)
    def forward(self, x): return self.b(torch.relu(self.b(torch.relu(self.a(x)))))

class Boom(nn.Module):
    "Raises in the forward pass where `active`: one process's failure"
    def __init__(self, active): super().__init__(); self.active = active
    def forward(self, x):
        if self.active: raise RuntimeError("this process's forward pass failed")
        return x

def mlp(): return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))

def bias_dominated():
    "An MLP whose middle layer's output is almost all bias (weight std 1e-6, bias 1)"
    model = mlp()
    with torch.no_grad(): nn.init.normal_(model[2].weight, std=1e-6); nn.init.ones_(model[2].bias)
    return model

# name: (model, lsuv_init's modules, batches per process, image input); each path of the engine
pooled_cases = dict(
    mlp=(mlp, None, 1, False),                                        # the analytic path
    mlp_batches=(mlp, None, 2, False),                                # several batches on each process
    bias_dominated=(bias_dominated, None, 1, False),                  # the analytic path from Wx, computed again without the bias
    bn_cnn=(lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8),
                                  nn.ReLU(), nn.Flatten(), nn.Linear(128, 4)), None, 1, True),
    layer_norm=(lambda: nn.Sequential(nn.Linear(6, 32), nn.LayerNorm(32), nn.ReLU(), nn.Linear(32, 4)),
                [nn.Linear, nn.LayerNorm], 1, False),                 # re-running a module that is not affine
    twice=(lambda: nn.Sequential(Twice(), nn.ReLU(), nn.Linear(16, 4)), None, 1, False))  # the course loop

def rank_batches(case, rank):
    "The batches process `rank` brings: its own data, and a batch size of its own"
    _,_,n,image = pooled_cases[case]
    g = torch.Generator().manual_seed(100+rank)
    shape = (3, 8, 8) if image else (6,)
    return [torch.randn(8+4*rank, *shape, generator=g)*2+0.5 for _ in range(n)]

def as_xb(batches): return batches[0] if len(batches)==1 else Batches(*batches)

def leftover_groups():
    "How many of LSUV's handles on the process group outlived their `lsuv_init`: with the garbage collector off, a reference cycle keeps one"
    return sum(isinstance(o, _Ranks) for o in gc.get_objects())

def build(case):
    torch.manual_seed(0)  # the same starting weights on every process
    return pooled_cases[case][0]()

def pooled(out, rank):
    for case,(_,modules,_,_) in pooled_cases.items():
        model = build(case)
        stats = lsuv_init(model, as_xb(rank_batches(case, rank)), modules=modules)
        torch.save({'state': model.state_dict(), 'stats': stats, 'leftover': leftover_groups()}, Path(out)/f'pooled-{case}-{rank}.pth')

def failure(out, rank):
    "Process 1's forward pass fails after the first layer: every process stops, its model as it was"
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), Boom(rank==1), nn.Linear(32, 4))
    start,t = {k:v.clone() for k,v in model.state_dict().items()},time.monotonic()
    try: lsuv_init(model, rank_batches('mlp', rank)[0]); error = None
    except Exception as e: error = f"{type(e).__name__}: {e}"
    unchanged = all(torch.equal(v, start[k]) for k,v in model.state_dict().items())
    torch.save(dict(error=error, unchanged=unchanged, seconds=time.monotonic()-t, leftover=leftover_groups()), Path(out)/f'failure-{rank}.pth')

def main(out, *modes):
    torch.set_num_threads(1)
    warnings.simplefilter('ignore')
    gc.disable()  # what LSUV leaves behind stays where `leftover_groups` sees it
    rank,world = int(os.environ['RANK']),int(os.environ['WORLD_SIZE'])
    dist.init_process_group('gloo', rank=rank, world_size=world, timeout=timedelta(seconds=60))
    try:
        for mode in modes:
            if mode=='pooled': pooled(out, rank)
            elif mode=='failure': failure(out, rank)
            else: train(out, mode, rank)
        dist.barrier()
    finally: dist.destroy_process_group()

if __name__=='__main__': main(*sys.argv[1:])

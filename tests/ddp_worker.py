"""One rank of `test_distributed.py`'s 2-process CPU training (gloo, 127.0.0.1): LSUVCallback, then one epoch.
Every rank builds the same model (same seed) but gets its own data, so its own LSUV batch; it saves its final
state dict and LSUV statistics to `out` for the parent to compare. Usage: RANK=r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1
MASTER_PORT=p python ddp_worker.py OUT MODE..., each MODE `distrib_ctx` (fastai's `DistributedTrainer`) or `wrapped`
(a model already wrapped in `DistributedDataParallel`), run in turn in one process group."""
import os, sys, warnings
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

torch.set_num_threads(1)
warnings.simplefilter('ignore')

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
    set_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    if mode=='wrapped': model = DistributedDataParallel(model)
    set_seed(rank)
    learn = Learner(rank_dls(rank), model, loss_func=CrossEntropyLossFlat(), cbs=LSUVCallback())
    with learn.no_bar(), learn.no_logging():
        if mode=='distrib_ctx':
            with learn.distrib_ctx(sync_bn=False, cpu=True): learn.fit(1, 1e-2)
        else: learn.fit(1, 1e-2)
    torch.save({'state': get_model(learn.model).state_dict(), 'stats': learn.lsuv.stats}, Path(out)/f'{mode}-{rank}.pth')

def main(out, *modes):
    rank,world = int(os.environ['RANK']),int(os.environ['WORLD_SIZE'])
    dist.init_process_group('gloo', rank=rank, world_size=world, timeout=timedelta(seconds=60))
    try:
        for mode in modes: train(out, mode, rank)
        dist.barrier()
    finally: dist.destroy_process_group()

if __name__=='__main__': main(*sys.argv[1:])

"Two real processes (CPU, gloo, 127.0.0.1) each LSUV-initialise on their own batch and must train the same weights"
import os, socket, subprocess, sys, time
from pathlib import Path
import pytest, torch
import fastai_lsuv

worker = Path(__file__).parent/'ddp_worker.py'
modes = ['distrib_ctx', 'wrapped']

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def run_ranks(out, world=2, timeout=120):
    "Start `world` worker processes and wait for them, killing them all after `timeout` seconds"
    root = str(Path(fastai_lsuv.__file__).parents[1])  # the workers import this same fastai_lsuv
    env = {k:v for k,v in os.environ.items() if k not in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')}
    env.update(WORLD_SIZE=str(world), MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()), OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([root, env.get('PYTHONPATH', '')]))
    if sys.platform.startswith('linux'): env['GLOO_SOCKET_IFNAME'] = 'lo'  # gloo's own connections stay on loopback too
    procs = [subprocess.Popen([sys.executable, str(worker), str(out), *modes], env={**env, 'RANK':str(r), 'LOCAL_RANK':str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for r in range(world)]
    deadline,logs = time.monotonic()+timeout,[]
    try:
        for p in procs: logs.append(p.communicate(timeout=max(deadline-time.monotonic(), 1))[0])
    except subprocess.TimeoutExpired:
        for p in procs: p.kill()
        pytest.fail(f"the {world} processes did not finish within {timeout}s")
    for r,(p,log) in enumerate(zip(procs, logs)): assert p.returncode==0, f"rank {r} failed:\n{log[-3000:]}"

@pytest.fixture(scope='module')
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp('ddp')
    run_ranks(out)
    return {m:[torch.load(out/f'{m}-{r}.pth', weights_only=False) for r in range(2)] for m in modes}

@pytest.mark.parametrize('mode', modes)
def test_ranks_saw_different_batches(results, mode):
    first,second = (r['stats'] for r in results[mode])
    assert (first['std_before']!=second['std_before']).all()

@pytest.mark.parametrize('mode', modes)
def test_ranks_end_with_identical_weights(results, mode):
    "`distrib_ctx`: LSUV runs before the DDP wrap broadcasts rank 0's weights; `wrapped`: LSUV broadcasts them itself"
    first,second = (r['state'] for r in results[mode])
    assert first.keys()==second.keys()
    for k in first: assert torch.equal(first[k], second[k]), k

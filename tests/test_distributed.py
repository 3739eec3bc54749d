"""Real processes (CPU, gloo, 127.0.0.1), each with its own batches. `lsuv_init` pools the statistics of all of them:
every process ends with the same weights, those of one process holding all the batches. Through fastai, the
LSUVCallback trains the same weights on every process."""
import contextlib, os, socket, subprocess, sys, time, warnings
from pathlib import Path
import pytest, torch
import fastai_lsuv
from fastai_lsuv.core import Batches
from fastai_lsuv.api import lsuv_init
from fastai_lsuv.reference import lsuv_init_course

sys.path.insert(0, str(Path(__file__).parent))
import ddp_worker
from ddp_worker import pooled_cases, rank_batches, build

worker = Path(__file__).parent/'ddp_worker.py'
modes = ['distrib_ctx', 'wrapped']

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def run_ranks(out, modes, world=2, timeout=180):
    "Start `world` worker processes running `modes` and wait for them, killing them all after `timeout` seconds"
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

# ---------------------------------------------------------------- through fastai: LSUVCallback and training

@pytest.fixture(scope='module')
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp('ddp')
    run_ranks(out, modes)
    return {m:[torch.load(out/f'{m}-{r}.pth', weights_only=False) for r in range(2)] for m in modes}

@pytest.mark.parametrize('mode', modes)
def test_ranks_pool_their_batches(results, mode):
    "Each process brought its own batch; the statistics are those of both, the same on every process"
    first,second = (r['stats'] for r in results[mode])
    assert first.equals(second)

@pytest.mark.parametrize('mode', modes)
def test_ranks_end_with_identical_weights(results, mode):
    "Each process starts from weights of its own seed: LSUV starts every rank from rank 0's (as the DDP wrap would) and pools the batches"
    first,second = (r['state'] for r in results[mode])
    assert first.keys()==second.keys()
    for k in first: assert torch.equal(first[k], second[k]), k

# ---------------------------------------------------------------- lsuv_init: pooled statistics

@pytest.fixture(scope='module', params=[2, 3], ids=['2-processes', '3-processes'])
def pooled(request, tmp_path_factory):
    world = request.param
    out = tmp_path_factory.mktemp(f'pooled{world}')
    run_ranks(out, ['pooled', 'failure'], world=world)
    res = {c:[torch.load(out/f'pooled-{c}-{r}.pth', weights_only=False) for r in range(world)] for c in pooled_cases}
    return world, res, [torch.load(out/f'failure-{r}.pth', weights_only=False) for r in range(world)]

def all_batches(case, world):
    "Every process's batches, in rank order: what one process pooling them all would hold"
    return Batches(*[b for r in range(world) for b in rank_batches(case, r)])

def max_rel_diff(a, b): return max(((a[k]-b[k]).abs().max()/b[k].abs().max().clamp_min(1e-12)).item() for k in b)

@pytest.mark.parametrize('case', list(pooled_cases))
def test_pooled_identical_on_every_rank(pooled, case):
    world,res,_ = pooled
    first = res[case][0]
    for r in range(1, world):
        for k,v in first['state'].items(): assert torch.equal(v, res[case][r]['state'][k]), (case, r, k)
        assert first['stats'].equals(res[case][r]['stats'])

@pytest.mark.parametrize('case', list(pooled_cases))
def test_pooled_equals_one_process_with_all_batches(pooled, case):
    "Equal to `lsuv_init` in one process on the concatenation of the processes' batches, statistics included"
    world,res,_ = pooled
    model = build(case)
    # a layer run twice per forward takes the course loop, which cannot bring both calls to the targets
    with pytest.warns(UserWarning, match='did not converge') if case=='twice' else contextlib.nullcontext():
        stats = lsuv_init(model, all_batches(case, world), modules=pooled_cases[case][1])
    assert max_rel_diff(res[case][0]['state'], model.state_dict())<=1e-5
    got = res[case][0]['stats']
    assert list(got.status)==list(stats.status) and list(got.iters)==list(stats.iters)
    torch.testing.assert_close(torch.tensor(got[['std_before','std']].values), torch.tensor(stats[['std_before','std']].values))

def test_pooled_batchnorm_equals_course_loop(pooled):
    "BatchNorm normalises each batch on its own: the pooled result is the course loop's over all the batches"
    world,res,_ = pooled
    model = build('bn_cnn')
    lsuv_init_course(model, all_batches('bn_cnn', world))
    assert max_rel_diff(res['bn_cnn'][0]['state'], model.state_dict())<=1e-5

def test_pooled_n_batches(pooled):
    "Several batches on each process: `n_batches` times the processes' batches, pooled"
    world,res,_ = pooled
    assert len(all_batches('mlp_batches', world))==2*world
    assert not any(torch.equal(res['mlp'][0]['state'][k], res['mlp_batches'][0]['state'][k]) for k in res['mlp'][0]['state'])

def test_lsuv_lets_go_of_the_process_group(pooled):
    "Once `lsuv_init` returns or raises, nothing of it holds the process group: one kept past `destroy_process_group` can abort the process at exit"
    world,res,fails = pooled
    assert [r['leftover'] for case in pooled_cases for r in res[case]] + [f['leftover'] for f in fails]==[0]*(len(pooled_cases)+1)*world

def test_one_failure_stops_every_rank(pooled):
    "Process 1's forward pass raises: it raises its error, every other process a clear one at once; no model changed"
    world,_,fails = pooled
    assert 'this process\'s forward pass failed' in fails[1]['error']
    for r,f in enumerate(fails):
        assert f['unchanged'], r
        assert f['seconds']<30, f"rank {r} waited {f['seconds']:.0f}s"  # far below the process group's 60 s timeout
        if r!=1: assert f['error'].startswith('_PeerFailed: LSUV: process [1] of the group failed'), f['error']

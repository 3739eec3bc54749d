"The study's commands as a user meets them: `lsuv-07a`'s errors are short and say what to do; `lsuv-study` runs a small grid end to end"
import csv, os, subprocess, sys
import numpy as np, pytest
from fastai_lsuv.study.data import mnist_env, mnist_sha256, mnist_url

pytestmark = pytest.mark.timeout(300)
lsuv_07a = "from fastai_lsuv.study.reproduce import lsuv_07a; lsuv_07a()"
study_code = "from fastai_lsuv.study.grid import lsuv_study; lsuv_study()"
# no network: the download goes to a port where nothing listens
offline_07a = "import fastai_lsuv.study.data as d; d.mnist_url = 'http://127.0.0.1:9/mnist.npz'; " + lsuv_07a

def _finished(p):
    out,err = p.communicate(timeout=240)  # before the return code, which it waits for
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)

def run_all(commands, env=None) -> list:
    "Run each `(code, *args)` of `commands` as a command, side by side, as most of a command's time is importing torch and fastai; torch's own import-time FutureWarning is not the command's output"
    procs = [subprocess.Popen([sys.executable, '-W', 'ignore::FutureWarning', '-c', *c], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for c in commands]
    try: return [_finished(p) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None: p.kill(); p.communicate()

def run(code, *args, env=None): return run_all([(code, *args)], env)[0]

bad_arguments = [['--epochs', '-1'], ['--lr', 'nan'], ['--lr', '-0.6'], ['--threads', '0']]

@pytest.fixture(scope='module')
def bad_argument_runs(): return dict(zip(map(tuple, bad_arguments), run_all([(lsuv_07a, *a) for a in bad_arguments])))

@pytest.mark.parametrize('args', bad_arguments)
def test_bad_arguments(args, bad_argument_runs):
    res = bad_argument_runs[tuple(args)]
    assert res.returncode==2 and res.stdout==''
    assert len(res.stderr.splitlines())==1 and res.stderr.startswith('lsuv-07a: error: argument'), res.stderr

def _bad_files(tmp_path):
    "A missing file, a truncated and a corrupt MNIST, other arrays, a directory"
    real = open(os.environ[mnist_env], 'rb').read() if os.environ.get(mnist_env) else b'PK\x03\x04' + bytes(4000)
    (tmp_path/'truncated.npz').write_bytes(real[:len(real)//2])
    (tmp_path/'corrupt.npz').write_bytes(np.random.default_rng(0).bytes(5000))
    np.savez(tmp_path/'other.npz', x_train=np.zeros((10,28,28), dtype=np.uint8))
    (tmp_path/'folder.npz').mkdir()
    return {'missing': tmp_path/'missing.npz', **{p: tmp_path/f'{p}.npz' for p in ('truncated','corrupt','other','folder')}}

def _check_failure(res, debug=False):
    assert res.returncode not in (0, 2)
    if debug: return 'Traceback' in res.stderr
    lines = res.stderr.strip().splitlines()
    assert 1<=len(lines)<=3 and 'Traceback' not in res.stderr, res.stderr
    for s in ('--data', mnist_env, mnist_url, mnist_sha256): assert s in res.stderr, (s, res.stderr)
    return True

def test_bad_data(tmp_path):
    files = _bad_files(tmp_path)
    *runs,debug = run_all([(lsuv_07a, '--data', str(p), '--epochs', '0') for p in files.values()] +
                          [(lsuv_07a, '--data', str(tmp_path/'missing.npz'), '--debug')])
    for (what,path),res in zip(files.items(), runs):
        assert _check_failure(res), what
        assert str(path) in res.stderr, what
    assert _check_failure(debug, debug=True)

def test_no_data_no_network(tmp_path):
    env = {k:v for k,v in os.environ.items() if k!=mnist_env} | {'FASTAI_HOME': str(tmp_path/'fastai')}
    res = run(offline_07a, '--epochs', '0', env=env)
    assert _check_failure(res)
    assert 'Could not download' in res.stderr and not (tmp_path/'fastai'/'data'/'mnist.npz').exists()

def test_study_grid_end_to_end(tmp_path):
    "`lsuv-study` on a 2-seed, 1-lr grid of short runs, resumed, one row rerun alone, then the analysis of its CSV"
    from fastai_lsuv.study.grid import compare_inits, divergence_counts, read_grid, study_answer
    grid = ['--lrs', '0.3', '--seeds', '0-1', '--epochs', '1', '--batches', '4']
    def study(out, *args):
        res = run(study_code, '--out', str(out), *args)
        assert res.returncode==0, res.stderr
        return res.stdout
    assert '8 to run' in study(tmp_path/'grid.csv', *grid)
    assert '8 runs already there, 0 to run' in study(tmp_path/'grid.csv', *grid)
    study(tmp_path/'one.csv', *grid[:2], '--seeds', '1', *grid[4:], '--inits', 'orthogonal-lsuv-std-first')
    df,one = read_grid(tmp_path/'grid.csv'),read_grid(tmp_path/'one.csv')
    row = df[(df.seed==1)&(df.init=='orthogonal-lsuv-std-first')].drop(columns='seconds').reset_index(drop=True)
    assert row.equals(one.drop(columns='seconds')), (row, one)
    assert len(compare_inits(df))==5 and divergence_counts(df).shape==(1, 4)
    assert 'std first - mean first' in study_answer(df)

def test_help_grid_reruns(tmp_path):
    "`lsuv-study --grid help`, 2 networks, both optimisers, 3 batches a run: a random row, run alone, is the same row"
    grid = ['--grid', 'help', '--nets', 'mlp', 'vit', '--sgd-lrs', '0.3', '--adam-lrs', '0.003', '--seeds', '0',
            '--inits', 'default', 'orthogonal-lsuv-std-first', '--batches', '3']
    res,est = run_all([(study_code, '--out', str(tmp_path/'grid.csv'), *grid),
                       (study_code, '--estimate', '--jobs', '2', *grid)])
    assert res.returncode==0 and '8 to run' in res.stdout, res.stderr
    # --estimate times a run per network and optimiser, and runs nothing
    assert est.returncode==0 and '8 runs' in est.stdout and '[1/' not in est.stdout, est.stdout
    rows = list(csv.DictReader(open(tmp_path/'grid.csv')))
    assert {(r['net'], r['opt']) for r in rows}=={(n, o) for n in ('mlp','vit') for o in ('sgd','adam')}
    row = rows[np.random.default_rng().integers(len(rows))]
    one = run(study_code, '--grid', 'help', '--out', str(tmp_path/'one.csv'), '--nets', row['net'],
              '--opts', row['opt'], '--lrs', row['lr'], '--seeds', row['seed'], '--inits', row['init'],
              '--batches', '3')
    assert one.returncode==0, one.stderr
    assert next(csv.DictReader(open(tmp_path/'one.csv'))) | {'seconds': ''} == row | {'seconds': ''}

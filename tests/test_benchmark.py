"The benchmarks run end to end: the speed table, targets and depth plot (no timing asserted) and the zoo's hard cases"
import importlib.util, subprocess, sys
from pathlib import Path
import pandas as pd, pytest
from fastai_lsuv.reference import max_factor

root = Path(__file__).parents[1]

def test_speed_benchmark_quick(tmp_path):
    res = subprocess.run([sys.executable, str(root/'benchmarks/speed.py'), '--quick', '--threads', '1', '--out', str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode==0, res.stderr
    table = (tmp_path/'speed_cpu.md').read_text()
    assert table in res.stdout
    for method in ['plain forward', 'lsuv_init (fastai_lsuv', 'lsuv_init_course', 'PyPI lsuv', '### Small layers']: assert method in table
    for target in ['lsuv_init time / forward time', 'course loop time / lsuv_init time', 'PyPI lsuv time / lsuv_init time',
                   'lsuv_init peak memory / forward peak', 'max relative parameter difference',
                   'mobilenet_v3_small, batch 2x3x32x32: lsuv_init time / forward time', 'plain CNNs of 16 channels: lsuv_init time']:
        row = next(l for l in table.splitlines() if l.startswith(f'| {target}'))
        assert row.rstrip(' |').endswith(('PASS','FAIL','SKIP')), row
    # the one-pass result equals the course loop's on the tiny model too
    assert next(l for l in table.splitlines() if 'parameter difference' in l).rstrip(' |').endswith('PASS')
    depth_rows = [l.split('|')[1:-1] for l in table.splitlines() if l.startswith(('| 2 |', '| 4 |'))]
    assert [r[0].strip() for r in depth_rows]==['2','4']
    assert '| of which the mode (ms) | of which the table (ms) |' in table and all(len(r)==11 for r in depth_rows)
    png = (tmp_path/'depth_cpu.png').read_bytes()
    assert png.startswith(b'\x89PNG') and len(png)>1000

# ---------------------------------------------------------------- the model zoo's hard cases

zoo_fast = ['tv:efficientnet_b0', 'tv:convnext_tiny', 'custom:transformer', 'timm:seresnext26d_32x4d', 'timm:test_nfnet',
            'custom:weight_norm', 'custom:bias_dominated', 'custom:awd_lstm', 'hf:gpt2']
zoo_course = ['custom:transformer', 'custom:weight_norm', 'custom:bias_dominated', 'custom:awd_lstm', 'timm:test_nfnet']  # fast enough
# timm and transformers are optional (the zoo and dev extras install them); without them the zoo runs the rest
extras = {'timm:': 'timm', 'hf:': 'transformers'}
missing = tuple(k for k,v in extras.items() if importlib.util.find_spec(v) is None)
weight_factor_bound = max_factor  # no weight's norm moves by more than LSUV's bound, up or down

@pytest.fixture(scope='module')
def zoo(tmp_path_factory):
    out = tmp_path_factory.mktemp('zoo')
    res = subprocess.run([sys.executable, str(root/'benchmarks/zoo.py'), '--fast', '--repeats', '2', '--bs', '4', '--size', '32',
                          '--course', ','.join(zoo_course),
                          '--course-budget', '60', '--threads', '1', '--out', str(out)], capture_output=True, text=True, timeout=600)
    assert res.returncode==0, res.stderr
    table = (out/'zoo_cpu_bs4.md').read_text()
    assert table in res.stdout and '### Summary' in table
    return pd.read_csv(out/'zoo_cpu_bs4.csv').set_index('model')

def check_zoo(zoo, prop, model):
    "Assert `prop` of `model`'s row"
    if model.startswith(missing): pytest.skip(f"{model} needs an extra: pip install -e '.[zoo]'")
    if prop=='runs': assert zoo.index.tolist()==[m for m in zoo_fast if not m.startswith(missing)]
    r = zoo.loc[model]
    if prop!='runs' and isinstance(r['error'], str): pytest.skip(f"{model} raised: {r['error']}")
    if prop=='runs': assert not isinstance(r['error'], str), r['error']
    elif prop=='finite': assert r['finite']
    elif prop=='seed': assert r['seed_diff']==0, r['seed_diff']
    elif prop=='on_target': assert r['off_rows']==0, f"{r['off_rows']} rows off target, worst {r['worst_dev']}"
    # or, where float32's course loop measures through rounding (a bias that dwarfs Wx), equal to the course loop in float64
    elif prop=='course': assert r['course_diff']<=1e-5 or r['course64_diff']<=1e-5, (r['course_diff'], r['course64_diff'])
    elif prop=='bounded': assert r['max_wfactor']<=weight_factor_bound*(1+1e-6), r['max_wfactor']
    elif prop=='attention': assert 'not run' not in r['statuses'], r['statuses']
    elif prop=='conv1d': assert r['statuses']=='ok:16', r['statuses']  # 4 blocks of 4 `Conv1D`; the head is tied

@pytest.mark.parametrize('model', zoo_fast)
@pytest.mark.parametrize('prop', ['runs', 'finite', 'seed', 'on_target', 'bounded'])
def test_zoo_fast(zoo, prop, model): check_zoo(zoo, prop, model)

@pytest.mark.parametrize('model', zoo_course)
def test_zoo_equals_course_loop(zoo, model): check_zoo(zoo, 'course', model)

def test_zoo_course_threads(zoo):
    "Where the one-pass result is further than 1e-5 from the course loop's, the table says how far the course loop moves with another thread count"
    compared = zoo[zoo['course_out_diff'].notna()]
    assert (compared['course_threads_diff'].notna()==(compared['course_out_diff']>1e-5)).all(), compared[['course_out_diff', 'course_threads_diff']]
    assert (compared['course_threads_diff'].dropna()>=0).all()

def test_zoo_attention_out_proj(zoo):
    "`nn.MultiheadAttention` calls `out_proj` functionally: LSUV initialises the attention block as one module"
    check_zoo(zoo, 'attention', 'custom:transformer')

def test_zoo_gpt2_conv1d(zoo):
    "Hugging Face's `Conv1D` (GPT-2) is a default target: every one initialised, none `not run`"
    check_zoo(zoo, 'conv1d', 'hf:gpt2')

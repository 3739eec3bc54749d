"`python -m build` makes an sdist and a wheel with the right metadata, and the wheel works in a fresh environment"
import os, shutil, subprocess, sys, tarfile, tomllib, zipfile
from email.parser import Parser
from pathlib import Path
import pytest
import fastai_lsuv

root = Path(__file__).parents[1]
project = tomllib.loads((root/'pyproject.toml').read_text())['project']
_not_source = shutil.ignore_patterns('.git', '_proc', '_docs', 'build', 'dist', '*.egg-info', '__pycache__', '.venv',
                                     '.pytest_cache', '.hypothesis', '*.npz', 'models', 'benchmarks')

def _run(*cmd, **kwargs):
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert res.returncode==0, f"{' '.join(map(str, cmd))} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout

@pytest.fixture(scope='module')
def dists(tmp_path_factory):
    "The sdist and the wheel `python -m build` makes from a copy of the source tree (the wheel is built from the sdist)"
    tmp = tmp_path_factory.mktemp('build')
    src = shutil.copytree(root, tmp/'src', ignore=_not_source)
    # no isolation: the build backend installed with the dev extras (setuptools>=77) is used, so nothing is downloaded
    _run(sys.executable, '-m', 'build', '--no-isolation', '--outdir', tmp/'dist', src)
    sdist,wheel = sorted((tmp/'dist').glob('*.tar.gz')),sorted((tmp/'dist').glob('*.whl'))
    assert len(sdist)==1 and len(wheel)==1, f"expected one sdist and one wheel, got {sdist+wheel}"
    return sdist[0],wheel[0]

def _metadata(wheel):
    with zipfile.ZipFile(wheel) as z:
        info = next(n.split('/')[0] for n in z.namelist() if n.endswith('.dist-info/METADATA'))
        return Parser().parsestr(z.read(f'{info}/METADATA').decode()),z.read(f'{info}/entry_points.txt').decode(),z.namelist()

def test_names_and_version(dists):
    version = fastai_lsuv.__version__
    sdist,wheel = dists
    assert sdist.name==f'fastai_lsuv-{version}.tar.gz'
    assert wheel.name==f'fastai_lsuv-{version}-py3-none-any.whl'

def test_wheel_metadata(dists):
    meta,entry_points,files = _metadata(dists[1])
    assert meta['Name']=='fastai-lsuv' and meta['Version']==fastai_lsuv.__version__
    assert meta['License-Expression']==project['license']
    assert meta['Summary']==project['description']
    assert meta['Requires-Python']==project['requires-python']
    requires = meta.get_all('Requires-Dist')
    for dep in project['dependencies']: assert dep in requires, f"the wheel does not require {dep}"
    assert 'dev' in meta.get_all('Provides-Extra')
    assert meta.get_payload().startswith('# fastai_lsuv'), "the long description is the README"
    assert 'fastai_lsuv = fastai_lsuv._modidx:d' in entry_points, "nbdev's entry point for doc links"
    for name,target in project.get('scripts', {}).items():
        assert f'{name} = {target}' in entry_points, f"console script {name} missing"
    for mod in ('__init__', 'core', 'callback', 'plot', 'all', '_modidx'): assert f'fastai_lsuv/{mod}.py' in files
    assert not [f for f in files if f.startswith(('tests/', 'nbs/', 'tools/'))]

def test_sdist_builds_the_wheel(dists):
    "The sdist holds the source the wheel is built from (`python -m build` made the wheel from it)"
    with tarfile.open(dists[0]) as t: names = {n.split('/', 1)[1] for n in t.getnames() if '/' in n}
    assert {'pyproject.toml', 'README.md', 'fastai_lsuv/core.py', 'fastai_lsuv/callback.py'} <= names

_check = """
import sys, torch
from torch import nn
import fastai_lsuv
from fastai_lsuv.all import *
assert fastai_lsuv.__file__.startswith(sys.prefix), f"imported {fastai_lsuv.__file__}, not the installed wheel"
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(20, 50), nn.ReLU(), nn.Linear(50, 10))
stats = lsuv_init(model, torch.randn(64, 20)*4)
assert list(stats.status)==['ok', 'ok'] and ((stats['std']-1).abs()<1e-3).all(), stats
print(fastai_lsuv.__version__)
"""

def test_wheel_works_in_fresh_venv(dists, tmp_path):
    "The wheel, installed into a new virtual environment, imports and runs `lsuv_init` outside the repository"
    venv = tmp_path/'venv'
    # the system site-packages give torch and fastai; the package itself only comes from the wheel
    _run(sys.executable, '-m', 'venv', '--system-site-packages', '--without-pip', venv)
    py = venv/'bin/python'
    _run(sys.executable, '-m', 'pip', '--python', py, 'install', '--no-deps', '--no-index', '--force-reinstall', dists[1])
    env = {k:v for k,v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    env['MPLBACKEND'] = 'Agg'
    out = _run(py, '-c', _check, cwd=tmp_path, env=env)
    assert out.strip()==fastai_lsuv.__version__
    for name in project.get('scripts', {}): _run(venv/'bin'/name, '--help', cwd=tmp_path, env=env)

"`python -m build` makes an sdist and a wheel with the right metadata, and the wheel works in a fresh environment"
import os, shutil, site, subprocess, sys, tarfile, zipfile
from email.parser import Parser
from pathlib import Path
try: import tomllib
except ModuleNotFoundError: import tomli as tomllib  # Python 3.10, as nbdev does
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
print(fastai_lsuv.__version__, torch.__file__)
"""

def _site_dirs():
    "Where the running interpreter's installed packages live (a venv's own, or the base interpreter's)"
    dirs = site.getsitepackages() + ([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])
    return [d for d in dirs if Path(d).is_dir()]

def _fresh_venv(path):
    """A new virtual environment that reaches the running interpreter's packages (torch, fastai, ...) through a `.pth` file.
    A `.pth` file's plain paths are appended to `sys.path` without running the `.pth` files they hold, so an editable
    install of this package there stays inactive: `fastai_lsuv` can only come from what is installed into the venv"""
    _run(sys.executable, '-m', 'venv', '--without-pip', path)
    py = path/'bin/python'
    venv_site = Path(_run(py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])').strip())
    (venv_site/'_running_interpreter.pth').write_text('\n'.join(_site_dirs())+'\n')
    return py

def test_wheel_works_in_fresh_venv(dists, tmp_path):
    "The wheel, installed into a new virtual environment, imports and runs `lsuv_init` outside the repository"
    venv = tmp_path/'venv'
    py = _fresh_venv(venv)
    _run(sys.executable, '-m', 'pip', '--python', py, 'install', '--no-deps', '--no-index', '--force-reinstall', dists[1])
    env = {k:v for k,v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV', 'PYTHONHOME')}
    env.update(MPLBACKEND='Agg', PYTHONNOUSERSITE='1')
    version,torch_file = _run(py, '-c', _check, cwd=tmp_path, env=env).split()
    assert version==fastai_lsuv.__version__
    import torch
    assert torch_file==torch.__file__, "the venv reaches the running interpreter's torch"
    for name in project.get('scripts', {}): _run(venv/'bin'/name, '--help', cwd=tmp_path, env=env)

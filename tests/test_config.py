"pyproject.toml is the configuration nbdev 3 reads; settings.ini mirrors it for nbdev 2 tools"
import configparser
from pathlib import Path
try: import tomllib
except ModuleNotFoundError: import tomli as tomllib  # Python 3.10, as nbdev does
import fastai_lsuv
from nbdev.config import get_config

root = Path(__file__).parents[1]
pyproject = tomllib.loads((root/'pyproject.toml').read_text())
ini = configparser.ConfigParser(interpolation=None)
ini.read(root/'settings.ini')
settings = ini['DEFAULT']

def _ini_value(v):
    if isinstance(v, bool): return str(v)
    return str(v)

def test_nbdev_keys_mirrored():
    nbdev = pyproject['tool']['nbdev']
    assert nbdev, "pyproject.toml needs a [tool.nbdev] table"
    for k,v in nbdev.items():
        assert k in settings, f"settings.ini lacks nbdev key {k!r}"
        assert settings[k]==_ini_value(v), f"{k}: settings.ini has {settings[k]!r}, pyproject.toml {v!r}"

def test_project_keys_mirrored():
    proj = pyproject['project']
    assert settings['lib_name']==proj['name'].replace('-', '_')
    assert settings['version']==fastai_lsuv.__version__
    assert settings['description']==proj['description']
    assert settings['min_python']==proj['requires-python'].lstrip('>=')
    assert settings['author']==proj['authors'][0]['name'] and settings['author_email']==proj['authors'][0]['email']
    assert settings['git_url']==proj['urls']['Repository']
    assert settings['requirements'].split()==proj['dependencies']
    assert settings['dev_requirements'].split()==proj['optional-dependencies']['dev']
    assert settings['keywords'].split()==[k for k in proj['keywords']]
    assert dict(l.split('=', 1) for l in settings['console_scripts'].split())==proj['scripts']

def test_nbdev_reads_pyproject():
    cfg = get_config(root)
    assert cfg.config_file==root/'pyproject.toml'
    assert cfg.lib_path==root/'fastai_lsuv' and cfg.nbs_path==root/'nbs'
    assert cfg.version==fastai_lsuv.__version__

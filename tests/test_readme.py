"What a new user types is what CI runs, README.md is nbs/index.ipynb rendered, and it stays a short page for users"
import importlib.util, json, re
from pathlib import Path
import pytest

root = Path(__file__).parents[1]
spec = importlib.util.spec_from_file_location('render_readme', root/'tools/render_readme.py')
render_readme = importlib.util.module_from_spec(spec)
spec.loader.exec_module(render_readme)

def readme_commands():
    "The shell commands of the README's sh blocks"
    blocks = re.findall(r"```(?:sh|bash)\n(.*?)```", (root/'README.md').read_text(), re.S)
    return [l.strip() for b in blocks for l in b.splitlines() if l.strip() and not l.strip().startswith('#')]

def test_ci_runs_readme_install_and_test():
    "A user install of the package alone, and the development install and the test command that CI runs"
    cmds,ci = readme_commands(),(root/'.ci/run').read_text().splitlines()
    install = [c for c in cmds if c.startswith('pip install')]
    assert any(re.match(r'pip install (git\+https://\S+|\.)$', c) for c in install), f"no user install among {install}"
    dev = [c for c in install if c.startswith('pip install -e')]
    test = [c for c in cmds if c.startswith('pytest')]
    assert dev and test, "the README must give the development install and the test command"
    assert dev[0] in ci, f"CI does not install with the README's command {dev[0]!r}"
    assert test[0] in ci, f"CI does not test with the README's command {test[0]!r}"

def test_readme_is_rendered_index():
    stale = render_readme.stale()
    assert not stale, f"{stale} out of date with nbs/index.ipynb: run `python tools/render_readme.py --execute`"

def test_readme_main_job_and_its_data():
    "`lsuv-07a`, and where it finds MNIST offline: the variable, the URL and the checksum it checks"
    from fastai_lsuv.study.data import mnist_url, mnist_sha256, mnist_env
    text = (root/'README.md').read_text()
    assert 'lsuv-07a' in readme_commands() and f'export {mnist_env}=' in text
    assert mnist_url in text and mnist_sha256 in text

def test_quick_start_on_real_data():
    "The quick start trains on MNIST through the project's loader, not on the test fixtures, and shows what LSUV did"
    text = (root/'README.md').read_text()
    assert 'fastai_lsuv.test_utils' not in text and 'mnist_dls(' in text and 'cbs=LSUVCallback()' in text
    # index.ipynb runs in tests/test_notebooks.py; here, its stored outputs: the fit, the statistics as a markdown table, the plot
    assert '| epoch | train_loss | valid_loss | accuracy | time |' in text
    assert re.search(r'^\| +\| module \| layer \| mean_before \| std_before \| mean \| std \| iters \| status \|$', text, re.M)
    assert '![png](README_files/' in text and '<table' not in text

def test_readme_is_short_and_for_users():
    "Read in two minutes: short, no internal column names of the benchmarks, no commit hashes, no failed targets"
    text = (root/'README.md').read_text()
    assert len(text.splitlines()) <= 150 and len(text.split()) <= 1500, "the README's detail belongs in a notebook, benchmarks/README.md or CONTRIBUTING.md"
    internal = {c for c in (root/'benchmarks/results/zoo_cpu.csv').read_text().splitlines()[0].split(',') if '_' in c}
    assert internal and not [c for c in internal if re.search(rf'\b{c}\b', text)]
    assert not re.findall(r'\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}\b', text), "a commit hash"
    assert 'FAIL' not in text
    for f in ('benchmarks/README.md', 'CONTRIBUTING.md', 'nbs/21_order_study.ipynb', 'benchmarks/results/order_study.png'):
        assert f'](' + f in text, f"README does not link {f}"

def test_readme_links_every_notebook():
    text = (root/'README.md').read_text()
    for nb in sorted((root/'nbs').glob('[0-9]*.ipynb')):
        assert f'](nbs/{nb.name})' in text, f"README does not link {nb.name}: run `python tools/render_readme.py --execute`"

def _nb(path, cells):
    "Write a notebook of `(cell_type, source, outputs)` to `path`"
    nb = dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[
        dict(cell_type=t, id=f'c{i}', metadata={}, source=s, **(dict(outputs=o, execution_count=1) if t=='code' else {}))
        for i,(t,s,o) in enumerate(cells)])
    path.write_text(json.dumps(nb))
    return path

def _out(text): return [dict(output_type='stream', name='stdout', text=text)]

def test_renderer_does_what_quarto_would(tmp_path):
    nb = _nb(tmp_path/'index.ipynb', [
        ('code', '#| hide\nsecret = 1', _out('hidden output')),
        ('markdown', '# My title\n> My summary', None),
        ('markdown', 'See [the core](00_core.ipynb), [a result](../benchmarks/r.md) and [fastai](https://docs.fast.ai).', None),
        ('code', 'print("shown")', _out('shown\n')),
        ('code', '#| echo: false\nprint("no code")', _out('only the output\n')),
        ('code', '#| output: false\nprint("no output")', _out('dropped output\n')),
        ('code', '#| include: false\nprint("nothing")', _out('nothing at all\n'))])
    text,images = render_readme.render(nb, nbs='nbs')
    assert text.startswith('# My title\n\n> My summary\n')
    assert 'secret' not in text and 'hidden output' not in text
    assert '](nbs/00_core.ipynb)' in text and '](benchmarks/r.md)' in text and '](https://docs.fast.ai)' in text
    assert '```python\nprint("shown")\n```' in text and '    shown' in text
    assert 'only the output' in text and 'no code' not in text
    assert 'print("no output")' in text and 'dropped output' not in text
    assert 'nothing' not in text and '#|' not in text
    assert images == {}

def test_html_tables_become_markdown():
    df = ('<div>\n<table border="1" class="dataframe">\n  <thead>\n    <tr style="text-align: right;">\n      <th></th>\n'
          '      <th>module</th>\n      <th>std</th>\n    </tr>\n  </thead>\n  <tbody>\n    <tr>\n      <th>0</th>\n'
          '      <td>0.0</td>\n      <td>a|b</td>\n    </tr>\n  </tbody>\n</table>\n</div>')
    assert render_readme.html_tables_to_markdown(df) == '|  | module | std |\n| --- | --- | --- |\n| 0 | 0.0 | a\\|b |'
    spans = '<table><tr><th colspan="2">a</th></tr><tr><td>1</td><td>2</td></tr></table>'
    assert render_readme.html_tables_to_markdown(spans) == spans

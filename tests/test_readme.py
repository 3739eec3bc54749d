"What a new user types is what CI runs, and README.md is nbs/index.ipynb rendered"
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
    cmds,ci = readme_commands(),(root/'.ci/run').read_text().splitlines()
    install = [c for c in cmds if c.startswith('pip install')]
    test = [c for c in cmds if c.startswith('pytest')]
    assert install and test, "the README must give an install command and a test command"
    assert install[0] in ci, f"CI does not install with the README's command {install[0]!r}"
    assert test[0] in ci, f"CI does not test with the README's command {test[0]!r}"

def test_readme_is_rendered_index():
    stale = render_readme.stale()
    assert not stale, f"{stale} out of date with nbs/index.ipynb: run `python tools/render_readme.py --execute`"

def test_readme_sections_in_order():
    text = (root/'README.md').read_text()
    assert text.startswith('# fastai_lsuv\n\n> ')
    heads = re.findall(r'^## (.+)$', text, re.M)
    want = ['Install', 'The two commands', 'Quick start', 'What LSUV did', 'Performance', 'Guarantees', 'Does the order matter?',
            'The notebooks']
    assert [h for h in heads if h in want]==want, f"README sections {heads}"
    assert 'lsuv-07a' in readme_commands()
    assert 'cbs=LSUVCallback()' in text and '![png](README_files/' in text, "the quick start, its output and the plot"

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

"The documentation notebooks are committed with their outputs, so GitHub and `nbdev-docs` show their tables and figures"
import ast, importlib.util, json, re
from pathlib import Path
import pytest

root = Path(__file__).parents[1]
spec = importlib.util.spec_from_file_location('render_readme', root/'tools/render_readme.py')
render_readme = importlib.util.module_from_spec(spec)
spec.loader.exec_module(render_readme)

_re_directive = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')
# calls that end a cell without showing anything: fastcore's test_*, checks, settings, closing or saving a figure
_quiet = re.compile(r'^(test_\w*|check_\w*|assert\w*|set_\w+|pin_test_threads|filterwarnings|simplefilter|close|savefig|\w+_)$')

def _name(f):
    "The name a call is made through: `f` for `f(...)` and `obj.f(...)`"
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ''

def _calls(tree):
    "The names of the functions the cell calls when it runs: not those only called inside the functions and classes it defines"
    run = [s for s in tree.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return {_name(n.func) for s in run for n in ast.walk(s) if isinstance(n, ast.Call)}

def is_display_cell(source:str) -> bool:
    "Whether a code cell shows something a reader should see: an expression's value, a `show_doc`, a print, a plot or a fit"
    lines = source.splitlines()
    opts = dict(m.groups() for l in lines if (m:=_re_directive.match(l)))
    if {'export', 'exporti', 'exports', 'hide', 'default_exp'} & opts.keys(): return False
    if any(opts.get(k, '').lower()=='false' for k in ('eval', 'output', 'include')): return False
    try: tree = ast.parse('\n'.join(l for l in lines if not l.lstrip().startswith(('%', '!'))))
    except SyntaxError: return True
    if not tree.body or all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in tree.body): return False
    calls = _calls(tree)
    if calls & {'show_doc', 'print', 'display', 'fit', 'fit_one_cycle', 'fit_flat_cos', 'fit_sgdr', 'fine_tune', 'lr_find'}: return True
    # a figure shows unless the cell closes it
    if any(re.match(r'(plot\w*|subplots)$', c) for c in calls) and 'close' not in calls: return True
    last = tree.body[-1]
    if not isinstance(last, ast.Expr): return False
    return not (isinstance(last.value, ast.Call) and _quiet.match(_name(last.value.func)))

def cells_without_output(nb_path) -> list:
    "The display cells of notebook `nb_path` that carry no output, as `id: first line`"
    cells = json.loads(Path(nb_path).read_text())['cells']
    return [f"{c.get('id')}: {''.join(c['source']).splitlines()[0]}" for c in cells
            if c['cell_type']=='code' and is_display_cell(''.join(c['source'])) and not c.get('outputs')]

@pytest.mark.parametrize('name', render_readme.docs_nbs)
def test_docs_notebook_has_outputs(name):
    missing = cells_without_output(root/'nbs'/f'{name}.ipynb')
    assert not missing, (f"{name}.ipynb has display cells without output: {missing}; "
                         f"run `python tools/render_readme.py --docs {name}`")

def test_display_cells():
    "What counts as a display cell"
    shown = ['learn.lsuv.stats', 'show_doc(LSUVCallback)', 'learn.lsuv.plot_stats();', 'fig = plot_study(grid)',
             "print(f'{x:.3f}')", 'learn.fit(1)', 'x = 1\nx, x+1', '#| echo: false\nMarkdown("a")']
    quiet = ['#| export\ndef f(): return 1', '#| hide\nx', 'import torch\nfrom torch import nn', 'x = 1',
             'test_eq(1, 1)', 'assert x', 'plt.close(fig)', '#| eval: false\nfig.savefig("a.png")', 'torch.set_num_threads(1)',
             "pd.set_option('display.precision', 4)", 'fig = plot_stats(s)\ntest_eq(len(fig.axes), 2)\nplt.close(fig)',
             'def report(x): print(x)']
    assert all(map(is_display_cell, shown)) and not any(map(is_display_cell, quiet))

def _nb(path, cells):
    "Write a notebook of `(source, outputs)` code cells to `path`"
    path.write_text(json.dumps(dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[
        dict(cell_type='code', id=f'c{i}', metadata={}, execution_count=None, source=s, outputs=o) for i,(s,o) in enumerate(cells)])))
    return path

def test_stripped_output_is_found(tmp_path):
    "Strip the output of a docs notebook's display cell: the check names the cell"
    nb = json.loads((root/'nbs/05_plot.ipynb').read_text())
    shown = [c for c in nb['cells'] if c['cell_type']=='code' and is_display_cell(''.join(c['source']))]
    assert shown and not cells_without_output(root/'nbs/05_plot.ipynb')
    shown[0]['outputs'] = []
    (tmp_path/'stripped.ipynb').write_text(json.dumps(nb))
    assert cells_without_output(tmp_path/'stripped.ipynb') == [f"{shown[0]['id']}: {''.join(shown[0]['source']).splitlines()[0]}"]
    out = [dict(output_type='stream', name='stdout', text='1\n')]
    assert cells_without_output(_nb(tmp_path/'t.ipynb', [('x', out), ('x', []), ('x = 1', [])])) == ['c1: x']

def test_package_warnings_left_out():
    "The render drops other packages' warnings and logs from the saved outputs, and keeps the notebook's and LSUV's own"
    drop = render_readme._re_pkg_warning.match
    assert drop('/usr/lib/python3/site-packages/torch/jit/_script.py:1491: FutureWarning: deprecated\n  warnings.warn(\n')
    assert drop('W1207 15:42:55.143000 24506 site-packages/torch/utils/cpp_extension.py:183] No CUDA runtime is found\n')
    assert not drop("/usr/lib/python3/site-packages/fastai_lsuv/api.py:73: UserWarning: LSUV: module '0' did not run\n")
    assert not drop('/tmp/ipykernel_1/2.py:3: UserWarning: from the notebook\n')

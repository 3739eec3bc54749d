"""Render nbs/index.ipynb to README.md, offline, and execute the documentation notebooks so they keep their outputs.

`nbdev-readme` runs nbdev's notebook processors and then Quarto; Quarto cannot be installed everywhere, so this
command runs the same nbdev processors (`FilterDefaults`, as `nbdev.serve.proc_nbs` does: `#| hide` cells dropped,
the title cell turned into front matter) and then nbconvert's markdown exporter, doing the few things Quarto would:
the front matter becomes the `# title` and `> description`, the `#| echo/output/include: false` cell options are
honoured, links relative to `nbs/` are made relative to the repository root, and pandas' and fastprogress' HTML
tables become markdown tables. Images in the outputs are written to `README_files/`.

The documentation notebooks (`docs_nbs`) are committed with their outputs, as fastai's are, so that GitHub and
`nbdev-docs` (which renders saved outputs) show their tables and figures. `--execute` and `--docs` run them in a
Jupyter kernel as a user would (cwd `nbs/`, without nbdev's `IN_TEST`, so torch keeps its threads), on the cells
`nbdev-test` runs (`#| eval: false` and the `tst_flags` cells are left out), save the outputs, less the warnings and
logs of other installed packages (which name this machine's paths), and `nbdev-clean` them.

    python tools/render_readme.py            # README.md from the outputs stored in index.ipynb
    python tools/render_readme.py --execute  # run index.ipynb first and store its outputs
    python tools/render_readme.py --docs     # run every documentation notebook (index.ipynb among them) first
    python tools/render_readme.py --docs 05_plot 21_order_study   # only these
    python tools/render_readme.py --check    # exit 1 if README.md is not what index.ipynb renders to
"""
from __future__ import annotations
import argparse, json, os, posixpath, re, subprocess, sys
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
import nbformat
from fastcore.nbio import read_nb
from fastcore.xtras import working_directory
from nbconvert import MarkdownExporter
from nbconvert.preprocessors import ExecutePreprocessor
from traitlets.config import Config
from nbdev.config import get_config
from nbdev.processors import FilterDefaults
from nbdev.test import nb_test_cells

root = Path(__file__).resolve().parents[1]
files_dir = 'README_files'
# the notebooks a user reads as documentation: committed with the outputs of their tables, figures and `show_doc`s
docs_nbs = ('03_api', '04_callback', '05_plot', '20_course_07a', '21_order_study', '30_examples', 'index')
_re_link = re.compile(r'(!?\[[^\]]*\]\()([^)\s]+)(\))')
_re_style = re.compile(r'<style[^>]*>.*?</style>\s*', re.S)
_re_directive = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')

def _from_nbs(target:str, nbs:str) -> str:
    "`target`, a link written relative to the notebooks folder `nbs`, relative to the repository root instead"
    if re.match(r'^([a-z][\w+.-]*:|#|/)', target): return target
    return posixpath.normpath(posixpath.join(nbs, target))

def _fix_links(text:str, nbs:str) -> str: return _re_link.sub(lambda m: m[1]+_from_nbs(m[2], nbs)+m[3], text)

_re_table = re.compile(r'(?:<div>\s*)?<table[^>]*>.*?</table>(?:\s*</div>)?', re.S)

class _Table(HTMLParser):
    "The rows of an HTML table, each a list of its cells' text; `spans` when a cell spans rows or columns"
    def __init__(self):
        super().__init__()
        self.rows,self.cell,self.spans = [],None,False
    def handle_starttag(self, tag, attrs):
        if tag=='tr': self.rows.append([])
        elif tag in ('td','th'):
            self.cell = []
            self.spans |= any(k in ('colspan','rowspan') and v!='1' for k,v in attrs)
    def handle_data(self, data):
        if self.cell is not None: self.cell.append(data)
    def handle_endtag(self, tag):
        if tag in ('td','th') and self.cell is not None:
            self.rows[-1].append(' '.join(''.join(self.cell).split()).replace('|', '\\|'))
            self.cell = None

def html_tables_to_markdown(html:str) -> str:
    "`html` with each simple table (a pandas `DataFrame`'s, fastprogress') as a markdown table, as Quarto's GFM output has them"
    def md(m):
        t = _Table()
        t.feed(m[0])
        rows = [r for r in t.rows if r]
        if t.spans or not rows or len({len(r) for r in rows})>1: return m[0]
        return '\n'.join('| '+' | '.join(r)+' |' for r in [rows[0], ['---']*len(rows[0]), *rows[1:]])
    return _re_table.sub(md, html)

def _quarto_options(cell):
    "Apply the `#| echo/output/include` options Quarto honours; returns `None` for a cell left out"
    opts = getattr(cell, 'directives_', {}) or {}
    def false(k): return str(opts.get(k, '')).lower()=='false'
    if false('include'): return None
    if cell.cell_type=='code':
        cell.source = '\n'.join(l for l in cell.source.splitlines() if not _re_directive.match(l)).strip()
        if false('echo'): cell.metadata['tags'] = ['remove_input']
        if false('output'): cell.outputs = []
    return cell

def processed_nb(nb_path:Path, nbs:str|None=None) -> nbformat.NotebookNode:
    "`nb_path` through nbdev's doc processors and Quarto's cell options, its links made relative to the root from `nbs`"
    with working_directory(root):
        cfg = get_config()
        nb = read_nb(nb_path)
        FilterDefaults()(nb)
    if nbs is None: nbs = Path(nb_path).resolve().parent.relative_to(root).as_posix()
    fm = getattr(nb, 'frontmatter_', {})
    # the front matter cell becomes the title, as Quarto's title block does
    cells = [c for c in nb.cells if not (c.cell_type=='raw' and c.source.startswith('---'))]
    cells = [c for c in map(_quarto_options, cells) if c is not None and (c.source or c.get('outputs'))]
    for c in cells:
        if c.cell_type=='markdown': c.source = _fix_links(c.source, nbs)
        for o in c.get('outputs', []):
            data = o.get('data', {})
            if 'text/markdown' in data: data['text/markdown'] = _fix_links(''.join(data['text/markdown']), nbs)
            # GitHub shows the text of <style> blocks (pandas', fastprogress') instead of applying them
            if 'text/html' in data: data['text/html'] = html_tables_to_markdown(_re_style.sub('', ''.join(data['text/html'])))
    title = f"# {fm.get('title', cfg.title)}" + (f"\n\n> {fm['description']}" if fm.get('description') else '')
    cells.insert(0, dict(cell_type='markdown', id='title', metadata={}, source=title))
    # drop nbdev's bookkeeping keys (`idx_`, `directives_`...) so nbformat sees a plain notebook
    plain = [{k:v for k,v in c.items() if not k.endswith('_')} for c in cells]
    meta = dict(language_info={'name': 'python'})
    return nbformat.from_dict(dict(nbformat=4, nbformat_minor=5, metadata=meta, cells=json.loads(json.dumps(plain))))

def render(nb_path:Path|None=None, nbs:str|None=None) -> tuple[str, dict]:
    "The README text for `nb_path` (default: the configured `readme_nb`, links relative to its folder `nbs`) and its images, `{path: bytes}`"
    nb_path = Path(nb_path or get_config(root).nbs_path/get_config(root).readme_nb)
    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {'remove_input'}
    c.ExtractOutputPreprocessor.output_filename_template = 'readme_{cell_index}_{index}{extension}'
    text,res = MarkdownExporter(config=c).from_notebook_node(processed_nb(nb_path, nbs), resources={'output_files_dir': files_dir})
    text = re.sub(r'\n{3,}', '\n\n', re.sub(r'^[ \t]+$', '', text, flags=re.M)).strip()+'\n'
    return text, dict(res.get('outputs', {}))

def write_readme(dest:Path=root) -> list[Path]:
    "Write README.md and its images into `dest`, removing images of earlier renders; returns the files written"
    text,images = render()
    (dest/files_dir).mkdir(exist_ok=True)
    for old in (dest/files_dir).glob('readme_*'):
        if old.relative_to(dest).as_posix() not in images: old.unlink()
    written = [dest/'README.md']
    written[0].write_text(text)
    for name,data in images.items():
        (dest/name).write_bytes(data)
        written.append(dest/name)
    if not images: (dest/files_dir).rmdir()
    return written

def stale(dest:Path=root) -> list[str]:
    "The README files in `dest` that differ from what index.ipynb renders to"
    text,images = render()
    res = [] if (dest/'README.md').exists() and (dest/'README.md').read_text()==text else ['README.md']
    res += [n for n,data in images.items() if not (dest/n).exists() or (dest/n).read_bytes()!=data]
    existing = {p.relative_to(dest).as_posix() for p in (dest/files_dir).glob('readme_*')}
    return res + sorted(existing-set(images))

@contextmanager
def _as_a_user():
    "The environment a Jupyter user runs the notebooks in: no nbdev `IN_TEST` (which pins torch to one thread), inline plots"
    saved = {k:os.environ.pop(k) for k in ('IN_TEST', 'MPLBACKEND') if k in os.environ}
    try: yield
    finally: os.environ.update(saved)

# a warning or log line of an installed package (other than this one) names the file it comes from
_re_pkg_warning = re.compile(r'^[^\n]*(site|dist)-packages[/\\](?!fastai_lsuv)\S+:\d+')

class NbdevCellsExecutor(ExecutePreprocessor):
    "nbconvert's executor on the cells `nbdev-test` runs (`run_ids`); the others are left without output"
    def __init__(self, run_ids, **kwargs):
        super().__init__(**kwargs)
        self.run_ids = set(run_ids)
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type!='code': return cell, resources
        if cell.get('id') not in self.run_ids:
            cell.outputs = []
            return cell, resources
        cell,resources = super().preprocess_cell(cell, resources, index)
        # warnings and logs of installed packages say more about this machine (its paths, its versions) than the notebook
        cell.outputs = [o for o in cell.outputs if not (o.output_type=='stream' and o.name=='stderr' and _re_pkg_warning.match(o.text))]
        return cell, resources

def execute(names=docs_nbs):
    "Run the notebooks `names` of nbs/ in a Jupyter kernel (cwd nbs/, as nbdev does), save their outputs and `nbdev-clean` them"
    cfg = get_config(root)
    for name in names:
        nb_path = cfg.nbs_path/f"{Path(name).stem}.ipynb"
        print(f"executing {nb_path.relative_to(root)}", flush=True)
        text = nb_path.read_text()
        run_ids = [c.id for c in nb_test_cells(nb_path, skip_flags=cfg.tst_flags.split())]
        nb = nbformat.reads(text, as_version=4)
        with _as_a_user():
            NbdevCellsExecutor(run_ids, kernel_name='python3', timeout=None).preprocess(nb, {'metadata': {'path': str(nb_path.parent)}})
        # an edit saved while the notebook ran is newer than what ran: keep it, and say so
        if nb_path.read_text()!=text: sys.exit(f"{nb_path.relative_to(root)} changed while it ran; its outputs were not saved: run again")
        nbformat.write(nb, nb_path)
        subprocess.run(['nbdev-clean', '--fname', str(nb_path)], cwd=root, check=True)

def main(argv=None):
    p = argparse.ArgumentParser(description="Render nbs/index.ipynb to README.md with nbdev's processors and nbconvert")
    p.add_argument('--execute', action='store_true', help='run index.ipynb and store its outputs first')
    p.add_argument('--docs', nargs='*', metavar='NB', choices=docs_nbs,
                   help=f"run the documentation notebooks ({', '.join(docs_nbs)}), or only those named, and store their outputs first")
    p.add_argument('--check', action='store_true', help='only check that README.md is up to date')
    args = p.parse_args(argv)
    if args.check:
        bad = stale()
        if bad: sys.exit(f"README out of date with nbs/index.ipynb: {', '.join(bad)}; run `python tools/render_readme.py`")
        return
    if args.docs is not None: execute(args.docs or docs_nbs)
    elif args.execute: execute([get_config(root).readme_nb])
    for f in write_readme(): print(f"wrote {f.relative_to(root)}")

if __name__ == '__main__': main()

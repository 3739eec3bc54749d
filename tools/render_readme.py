"""Render nbs/index.ipynb to README.md, offline.

`nbdev-readme` runs nbdev's notebook processors and then Quarto; Quarto cannot be installed everywhere, so this
command runs the same nbdev processors (`FilterDefaults`, as `nbdev.serve.proc_nbs` does: `#| hide` cells dropped,
the title cell turned into front matter) and then nbconvert's markdown exporter, doing the few things Quarto would:
the front matter becomes the `# title` and `> description`, the `#| echo/output/include: false` cell options are
honoured, and links relative to `nbs/` are made relative to the repository root. Images in the outputs are written
to `README_files/`.

    python tools/render_readme.py            # README.md from the outputs stored in index.ipynb
    python tools/render_readme.py --execute  # run index.ipynb first (cwd nbs/, as nbdev does) and store its outputs
    python tools/render_readme.py --check    # exit 1 if README.md is not what index.ipynb renders to
"""
from __future__ import annotations
import argparse, json, posixpath, re, subprocess, sys
from pathlib import Path
import nbformat
from fastcore.nbio import read_nb
from fastcore.xtras import working_directory
from nbconvert import MarkdownExporter
from traitlets.config import Config
from nbdev.config import get_config
from nbdev.processors import FilterDefaults

root = Path(__file__).resolve().parents[1]
files_dir = 'README_files'
_re_link = re.compile(r'(!?\[[^\]]*\]\()([^)\s]+)(\))')
_re_style = re.compile(r'<style[^>]*>.*?</style>\s*', re.S)
_re_directive = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')

def _from_nbs(target:str, nbs:str) -> str:
    "`target`, a link written relative to the notebooks folder `nbs`, relative to the repository root instead"
    if re.match(r'^([a-z][\w+.-]*:|#|/)', target): return target
    return posixpath.normpath(posixpath.join(nbs, target))

def _fix_links(text:str, nbs:str) -> str: return _re_link.sub(lambda m: m[1]+_from_nbs(m[2], nbs)+m[3], text)

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
            if 'text/html' in data: data['text/html'] = _re_style.sub('', ''.join(data['text/html']))
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
    text = re.sub(r'\n{3,}', '\n\n', text).strip()+'\n'
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

def execute_index():
    "Run index.ipynb in place with nbs/ as the working directory, as `nbdev-test` does, then clean it with nbdev"
    cfg = get_config(root)
    nb = cfg.nbs_path/cfg.readme_nb
    subprocess.run(['jupyter', 'nbconvert', '--to', 'notebook', '--execute', '--inplace', nb.name], cwd=nb.parent, check=True)
    subprocess.run(['nbdev-clean', '--fname', str(nb)], cwd=root, check=True)

def main(argv=None):
    p = argparse.ArgumentParser(description="Render nbs/index.ipynb to README.md with nbdev's processors and nbconvert")
    p.add_argument('--execute', action='store_true', help='run index.ipynb and store its outputs first')
    p.add_argument('--check', action='store_true', help='only check that README.md is up to date')
    args = p.parse_args(argv)
    if args.check:
        bad = stale()
        if bad: sys.exit(f"README out of date with nbs/index.ipynb: {', '.join(bad)}; run `python tools/render_readme.py`")
        return
    if args.execute: execute_index()
    for f in write_readme(): print(f"wrote {f.relative_to(root)}")

if __name__ == '__main__': main()

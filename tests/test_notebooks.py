"Every notebook in nbs/ is a test: run each one with nbdev's own runner, as `nbdev-test` does"
from pathlib import Path
import pytest
import nbdev.test as nbt
from nbdev.config import get_config

nbs_path = Path(__file__).parents[1]/'nbs'
notebooks = sorted(p for p in nbs_path.glob('*.ipynb') if not p.name.startswith(('_', '.')))

@pytest.mark.parametrize('nb', notebooks, ids=lambda p: p.name)
def test_notebook(nb):
    ok,_ = nbt.test_nb(nb, skip_flags=get_config(nbs_path).tst_flags.split())
    assert ok, f"{nb.name} failed; run `nbdev-test {nb} --do-print` to see the cell"

def test_all_notebooks_found():
    expected = {'00_core', '00a_mode', '01_reference', '02_engine', '03_api', '04_callback', '05_plot', '10_study_course', '11_study_data',
                '12_study_reproduce', '13_study_grid', '20_course_07a', '21_order_study', '30_examples', '90_test_utils', 'index'}
    assert {f'{n}.ipynb' for n in expected} <= {p.name for p in notebooks}

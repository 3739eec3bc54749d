"The speed benchmark runs end to end: its table, targets and depth plot come out (no timing is asserted)"
import subprocess, sys
from pathlib import Path

root = Path(__file__).parents[1]

def test_speed_benchmark_quick(tmp_path):
    res = subprocess.run([sys.executable, str(root/'benchmarks/speed.py'), '--quick', '--threads', '1', '--out', str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode==0, res.stderr
    table = (tmp_path/'speed_cpu.md').read_text()
    assert table in res.stdout
    for method in ['plain forward', 'lsuv_init (fastai_lsuv', 'lsuv_init_course', 'PyPI lsuv']: assert method in table
    for target in ['lsuv_init time / forward time', 'course loop time / lsuv_init time', 'PyPI lsuv time / lsuv_init time',
                   'lsuv_init peak memory / forward peak', 'max relative parameter difference']:
        row = next(l for l in table.splitlines() if l.startswith(f'| {target}'))
        assert row.rstrip(' |').endswith(('PASS','FAIL','SKIP')), row
    # the one-pass result equals the course loop's on the tiny model too
    assert next(l for l in table.splitlines() if 'parameter difference' in l).rstrip(' |').endswith('PASS')
    assert [l.split('|')[1].strip() for l in table.splitlines() if l.startswith('| 2 |') or l.startswith('| 4 |')]==['2','4']
    png = (tmp_path/'depth_cpu.png').read_bytes()
    assert png.startswith(b'\x89PNG') and len(png)>1000

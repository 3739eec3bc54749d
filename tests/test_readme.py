"What a new user types is what CI runs"
import re
from pathlib import Path

root = Path(__file__).parents[1]

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

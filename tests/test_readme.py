"""README's Python example runs as printed (in a fresh process, in a scratch directory)."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_example_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), re.S)
    assert len(blocks) == 1
    proc = subprocess.run([sys.executable, "-c", blocks[0]], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    count, last = proc.stdout.strip().splitlines()
    assert int(count) > 100_000
    name, median = last.split()
    assert name == "mobilenet_v2-hybrid-SSDDDDD-int8-a0.35-r96" and float(median) > 0
    assert (tmp_path / "export" / "v2-hybrid" / "manifest.json").is_file()

"""`pip install .` must give readers a working package: the wheel carries the zoo and the explorer runtime."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_includes_package_data(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(tmp_path),
         str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("attnmem-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("attnmem/viz/explorer.js", "attnmem/viz/explorer.css", "attnmem/zoo/__main__.py",
                     "attnmem/zoo/kernel_regression.pt", "attnmem/zoo/kernel_regression.json"):
        assert required in names, f"{required} is missing from the wheel"
    shipped = {p.name for p in (ROOT / "src" / "attnmem" / "zoo").glob("*.pt")}
    assert shipped <= {Path(n).name for n in names}, "a zoo checkpoint is missing from the wheel"
    assert wheel.stat().st_size < 20 * 1024 * 1024

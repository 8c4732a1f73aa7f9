"""README.md's config reference is the one scripts/config_reference.py generates from the schema."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_config_reference_is_current():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "config_reference.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_schema_key_is_in_the_readme():
    from trainer.schema import KEYS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in KEYS:
        assert f"| `{name}` |" in readme

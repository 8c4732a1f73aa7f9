"""Start the crackviewer desktop app from a source checkout: `python main.py [options]` (same as `crackviewer`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crackviewer.app import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())

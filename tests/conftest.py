import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# precision = "auto" from CPU flags only: no timed probe, no ~/.cache write (trainer/training/capability.py)
os.environ.setdefault("CRACKVIEWER_CAPABILITY", "flags")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED_CRACKS = ROOT.parent / "shared" / "data" / "cracks"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def shared_cracks() -> Path:
    """The real crack data beside the project; tests that need it skip with a reason when it is missing."""
    if not (SHARED_CRACKS / "manifest.csv").is_file():
        pytest.skip(f"real crack data not found at {SHARED_CRACKS} (../shared/data/cracks); synthetic tests still run")
    return SHARED_CRACKS


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory) -> Path:
    """A small synthetic manifest dataset (64x64), shared by the whole test session."""
    from trainer.datasets.synthetic import make_synthetic_dataset

    out = tmp_path_factory.mktemp("synthetic") / "cracks"
    return make_synthetic_dataset(out, n_train_pos=8, n_train_neg=4, n_val_pos=4, n_val_neg=2,
                                  n_test_pos=4, n_test_neg=2, size=(64, 64), seed=3)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """Four training images (two steps an epoch at batch 2), no val, a two-image test split: runs take seconds."""
    from trainer.datasets.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("tiny") / "cracks", n_train_pos=2, n_train_neg=2,
                                  n_val_pos=0, n_val_neg=0, n_test_pos=1, n_test_neg=1, size=(64, 64), seed=3)

# Tests write reports without the offscreen figure subprocess (tests/test_report.py covers rendering).
os.environ.setdefault("CRACK_REPORT_FIGURES", "0")

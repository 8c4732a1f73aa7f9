"""Scale lookup: scale.json beside the dataset, the manifest's mm_per_px column, --scale; validation names the file."""
import json

import pytest

from trainer.errors import DataError
from trainer.measure.scale import UNIT_MM, UNIT_PX, load_scale


def _manifest(root, text):
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.csv").write_text(text, encoding="utf-8")


def test_no_scale_means_pixels(tmp_path):
    s = load_scale(tmp_path)
    assert s.empty and s.mm_per_px("a") is None and s.unit("a") == UNIT_PX
    assert load_scale(None, 0.2).mm_per_px("anything") == 0.2


def test_precedence_images_then_manifest_then_cli_then_dataset_default(tmp_path):
    _manifest(tmp_path, "name,label,split,MM_per_px\nimg_a,1,test,0.05\nimg_b,1,test,\nimg_c,1,train,0.07\n")
    (tmp_path / "scale.json").write_text(json.dumps({"mm_per_px": 0.1, "images": {"img_c": 0.08,
                                                                                   "img_d.jpg": 0.09}}))
    s = load_scale(tmp_path)
    assert s.mm_per_px("img_a") == 0.05            # manifest column (header matched by name, any case)
    assert s.mm_per_px("img_b") == 0.1             # empty cell: the dataset default
    assert s.mm_per_px("img_c") == 0.08            # scale.json images win over the manifest
    assert s.mm_per_px("img_d") == 0.09            # keys may be file names
    assert s.mm_per_px("other") == 0.1 and s.unit("other") == UNIT_MM
    s2 = load_scale(tmp_path, 0.3)                 # --scale overrides the dataset default, not per-image values
    assert s2.mm_per_px("other") == 0.3 and s2.mm_per_px("img_a") == 0.05
    assert len(s.sources) == 2


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "abc"])
def test_bad_manifest_value_names_file_and_line(tmp_path, bad):
    _manifest(tmp_path, f"name,label,mm_per_px\nx,1,0.1\ny,1,{bad}\n")
    with pytest.raises(DataError) as e:
        load_scale(tmp_path)
    assert str(tmp_path / "manifest.csv") in str(e.value) and "line 3" in str(e.value)


@pytest.mark.parametrize("content, what", [
    ('{"mm_per_px": 0}', "greater than 0"),
    ('{"mm_per_px": true}', "greater than 0"),
    ('{"images": {"a": "x"}}', "not a number"),
    ('{"images": [1]}', "images must be"),
    ('{"mm_per_pix": 1}', "unknown key"),
    ('[0.1]', "JSON object"),
    ('{oops', "not valid JSON"),
])
def test_bad_scale_json_names_file(tmp_path, content, what):
    (tmp_path / "scale.json").write_text(content)
    with pytest.raises(DataError, match=what) as e:
        load_scale(tmp_path)
    assert str(tmp_path / "scale.json") in str(e.value)


def test_bad_cli_scale():
    with pytest.raises(DataError, match="--scale"):
        load_scale(None, -0.1)

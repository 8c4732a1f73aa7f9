"""cracks.csv / images.csv / cracks.geojson: round trip, units, the width alarm."""
import numpy as np
import pytest

import measure_synth as synth
from trainer.measure.export import (CRACK_COLUMNS, IMAGE_COLUMNS, WidthAlarm, read_csv_rows, read_geojson,
                                    write_measurements)
from trainer.measure.geometry import measure_mask


@pytest.fixture(scope="module")
def geoms():
    a = synth.straight((120, 160), (60.3, 40.2), 80, 3, 20) | synth.branching(
        (120, 160), (110.2, 70.4), [(90, 40), (210, 40), (330, 30)], 7)
    b = np.zeros((50, 60), bool)
    return measure_mask(a), measure_mask(b)


def test_round_trip_with_scale_and_alarm(tmp_path, geoms):
    ga, gb = geoms
    paths = write_measurements(tmp_path, [("a", ga, 0.1, "a.png"), ("b", gb, None, "b.png")],
                               alarm=WidthAlarm(mm=0.5))
    assert not list(tmp_path.glob(".*.tmp"))
    cracks = read_csv_rows(paths["cracks"])
    assert list(cracks[0]) == CRACK_COLUMNS and len(cracks) == ga.n_cracks == 2
    for row, c in zip(cracks, ga.cracks):
        assert row["image"] == "a" and row["unit"] == "mm" and row["crack"] == c.id
        assert row["length"] == pytest.approx(c.length * 0.1, abs=1e-4)
        assert row["width_max"] == pytest.approx(c.width_max * 0.1, abs=1e-4)
        assert row["length_px"] == pytest.approx(c.length, abs=1e-3)
        assert row["area_px"] == c.area and row["area"] == pytest.approx(c.area * 0.01)
        assert (row["bbox_x"], row["bbox_y"], row["bbox_w"], row["bbox_h"]) == c.bbox
        assert row["wide"] == int(c.width_max * 0.1 > 0.5)
    assert sorted(r["wide"] for r in cracks) == [0, 1]          # 0.3 mm thin one, 0.7 mm Y
    images = read_csv_rows(paths["images"])
    assert list(images[0]) == IMAGE_COLUMNS and [r["image"] for r in images] == ["a", "b"]
    ra, rb = images
    assert ra["n_cracks"] == 2 and ra["n_wide"] == 1 and ra["widest_crack"] == ga.widest.id
    assert ra["total_length"] == pytest.approx(ga.total_length * 0.1, abs=1e-3)
    assert ra["cracked_area_px"] == ga.cracked_area and (ra["height"], ra["width"]) == (120, 160)
    assert rb["unit"] == "px" and rb["n_cracks"] == 0 and rb["widest_crack"] == "" and rb["mm_per_px"] == ""
    feats = read_geojson(paths["geojson"])
    assert len(feats) == 2
    for f, c in zip(feats, ga.cracks):
        assert f["properties"]["crack"] == c.id and f["properties"]["image"] == "a"
        assert f["geometry"]["type"] == ("LineString" if len(c.paths) == 1 else "MultiLineString")
        assert len(f["lines"]) == c.n_branches == len(f["widths"])
        for line, widths, p, w in zip(f["lines"], f["widths"], c.paths, c.path_widths):
            assert np.allclose(line, p, atol=0.006) and np.allclose(widths, w, atol=0.001)


def test_pixels_without_scale_and_the_alarm_of_each_unit(tmp_path, geoms):
    ga, _ = geoms
    paths = write_measurements(tmp_path, [("a", ga, None, "")], alarm=WidthAlarm(mm=0.3))
    rows = read_csv_rows(paths["cracks"])
    assert {r["unit"] for r in rows} == {"px"} and {r["wide"] for r in rows} == {""}    # a mm alarm: not in px
    assert rows[0]["length"] == pytest.approx(ga.cracks[0].length, abs=1e-4)
    paths = write_measurements(tmp_path, [("a", ga, None, "")], alarm=WidthAlarm(mm=0.3, px=5))
    assert sorted(r["wide"] for r in read_csv_rows(paths["cracks"])) == [0, 1]          # 3 px and 7 px wide

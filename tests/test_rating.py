"""Tests for pulse_teach.rating and its screens (pulse_teach.live.rating): lesson 06's class experiments."""
from __future__ import annotations

import pytest
import torch

from pulse_teach.live import MOSWidget, PollWidget
from pulse_teach.rating import (
    Rating,
    fool_rate,
    mann_whitney,
    merge_ratings,
    mos_table,
    mos_trials,
    pick,
    poll_trials,
    read_ratings,
    score,
    write_ratings,
)


def _images(k: int, value: float) -> torch.Tensor:
    return torch.full((k, 3, 8, 8), value)


def test_mos_trials_hide_the_method_and_keep_every_picture():
    images = {"bicubic": _images(3, 0.1), "PULSE": _images(3, 0.9)}
    trials = mos_trials(images, seed=1)
    assert [t.index for t in trials] == list(range(6))
    assert sorted((t.method, t.item) for t in trials) == sorted((m, k) for m in images for k in range(3))
    assert [t.method for t in trials] != ["bicubic"] * 3 + ["PULSE"] * 3  # shuffled
    assert all(torch.equal(t.image, images[t.method][t.item]) for t in trials)
    assert [t.method for t in mos_trials(images, seed=1)] == [t.method for t in trials]  # seeded
    with pytest.raises(ValueError, match="at least one picture"):
        mos_trials({"bicubic": _images(0, 0)})


def test_mos_table_and_mann_whitney_separate_methods_rated_apart():
    trials = mos_trials({"bicubic": _images(8, 0.1), "PULSE": _images(8, 0.9)})
    ratings = [score(t, "ana", 1 + (t.item % 2) if t.method == "bicubic" else 4 + (t.item % 2)) for t in trials]
    table = mos_table(ratings)
    assert table["bicubic"]["mos"] == 1.5 and table["PULSE"]["mos"] == 4.5 and table["PULSE"]["n"] == 8
    assert 0 < table["PULSE"]["ci95"] < 0.5
    test = mann_whitney(ratings, "PULSE", "bicubic")
    assert test["u"] == 64 and test["p"] < 0.01  # every PULSE score above every bicubic one
    same = mann_whitney(ratings, "PULSE", "PULSE")
    assert same["p"] > 0.9
    with pytest.raises(ValueError, match="need scores for both"):
        mann_whitney(ratings, "PULSE", "nearest")
    with pytest.raises(ValueError, match="one of"):
        score(trials[0], "ana", 6)


def test_poll_puts_the_real_face_on_a_random_side_and_counts_fools():
    real, fake = _images(20, 0.0), {"PULSE": _images(20, 1.0)}
    trials = poll_trials(real, fake, seed=3)
    sides = [t.real_side for t in trials]
    assert 3 <= sides.count("left") <= 17
    for t in trials:
        left_is_real = torch.equal(t.image, real[t.item])
        assert left_is_real == (t.real_side == "left") and torch.equal(t.other if left_is_real else t.image, fake["PULSE"][t.item])
    always_left = [pick(t, "bo", "left") for t in trials]
    rate = fool_rate(always_left)["PULSE"]
    assert rate["fooled"] == sides.count("right") and rate["n"] == 20 and 0 <= rate["p"] <= 1
    assert fool_rate([pick(t, "bo", t.real_side) for t in trials])["PULSE"]["fool_rate"] == 0
    with pytest.raises(ValueError, match="one face per real face"):
        poll_trials(real, {"PULSE": _images(3, 1.0)})
    with pytest.raises(ValueError, match="'left' or 'right'"):
        pick(trials[0], "bo", "middle")


def test_ratings_round_trip_through_csv_and_pool_a_class(tmp_path):
    trials = mos_trials({"bicubic": _images(2, 0.1), "PULSE": _images(2, 0.9)})
    poll = poll_trials(_images(2, 0.0), {"PULSE": _images(2, 1.0)})
    ana = [score(t, "ana", 3) for t in trials] + [pick(t, "ana", "left") for t in poll]
    files = [write_ratings(tmp_path / "a.csv", ana), write_ratings(tmp_path / "b.csv", ana)]
    assert read_ratings(files[0]) == ana
    pooled = merge_ratings(files)
    assert len(pooled) == 2 * len(ana) and {r.rater for r in pooled} == {"ana", "ana#2"}
    assert mos_table(pooled)["PULSE"]["n"] == 4
    (tmp_path / "bad.csv").write_text("experiment,rater,trial,method,item,answer\nmos,ana,0,PULSE,0,7\n")
    with pytest.raises(ValueError, match="bad.csv, line 2: a mos answer must be one of"):
        read_ratings(tmp_path / "bad.csv")
    (tmp_path / "other.csv").write_text("name,score\n")
    with pytest.raises(ValueError, match="not a ratings file"):
        merge_ratings([tmp_path / "other.csv"])
    with pytest.raises(ValueError, match="no ratings files"):
        merge_ratings([])


def test_mos_screen_records_button_presses_and_finishes(monkeypatch):
    trials = mos_trials({"bicubic": _images(2, 0.1), "PULSE": _images(2, 0.9)})
    finished = []
    screen = MOSWidget(trials, rater="cy", on_done=finished.append)
    first_png = bytes(screen.image.value)
    assert first_png.startswith(b"\x89PNG") and "1 of 4" in screen.status.value
    screen.buttons[4].click()  # "5 excellent", as a press in the browser
    assert screen.ratings == [Rating("mos", "cy", 0, trials[0].method, trials[0].item, "5")]
    assert "2 of 4" in screen.status.value
    for value in (1, 2, 3):
        screen.answer(value)
    assert screen.done and finished == [screen.ratings] and all(b.disabled for b in screen.buttons)
    assert "Done: 4 answers" in screen.status.value
    with pytest.raises(ValueError, match="all trials are answered"):
        screen.answer(3)


def test_poll_screen_shows_both_faces_and_scores_the_answer():
    trials = poll_trials(_images(2, 0.0), {"PULSE": _images(2, 1.0)}, seed=5)
    screen = PollWidget(trials, rater="di")
    assert all(bytes(image.value).startswith(b"\x89PNG") for image in screen.images)
    screen.buttons[0 if trials[0].real_side == "left" else 1].click()
    screen.answer("left" if trials[1].real_side == "right" else "right")
    assert [r.answer for r in screen.ratings] == ["correct", "fooled"] and screen.done
    with pytest.raises(ValueError, match="non-empty list of trials"):
        PollWidget([])
    with pytest.raises(ValueError, match="PollWidget shows pairs"):
        PollWidget(mos_trials({"PULSE": _images(2, 1.0)}))
    with pytest.raises(ValueError, match="MOSWidget shows single pictures"):
        MOSWidget(trials)


def test_mos_figure_puts_the_class_beside_the_paper():
    from pulse_teach.figures import mos_figure
    from pulse_teach.rating import PAPER_MOS

    fig = mos_figure({"bicubic": {"mos": 1.5, "n": 4, "ci95": 0.4}, "PULSE": {"mos": 3.0, "n": 4, "ci95": 0.2}}, PAPER_MOS)
    assert [ax.get_title() for ax in fig.axes] == ["your class", "PULSE paper, 40 raters (Table 1)"]
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == list(PAPER_MOS)
    assert "3.60" in [t.get_text() for t in fig.axes[1].texts] and len(mos_figure({"PULSE": {"mos": 3.0}}).axes) == 1


@pytest.mark.parametrize("images, message", [
    ({"a": torch.rand(3, 8, 8)}, "images\\['a'\\] must be a \\(N, 3, H, W\\) float tensor"),  # one picture, not a batch
    ({"a": torch.zeros(2, 3, 8, 8, dtype=torch.uint8)}, "float tensor in \\[0, 1\\], got torch.uint8"),
    (torch.rand(2, 3, 8, 8), "need a dict"),
    ({}, "need a dict of at least one method"),
])
def test_mos_trials_refuse_pictures_of_another_kind(images, message):
    with pytest.raises(ValueError, match=message):
        mos_trials(images)


def test_answers_must_fit_the_trial():
    mos, = mos_trials({"PULSE": _images(1, 0.5)})
    pair, = poll_trials(_images(1, 0.0), {"PULSE": _images(1, 1.0)})
    for bad in (3.0, True, "4", 0):
        with pytest.raises(ValueError, match="integers"):
            score(mos, "x", bad)
    import numpy as np

    assert score(mos, "x", np.int64(4)).answer == "4"
    with pytest.raises(ValueError, match="for a pair \\(a poll trial\\) use pick"):
        score(pair, "x", 3)
    with pytest.raises(ValueError, match="for one picture \\(a MOS trial\\) use score"):
        pick(mos, "x", "left")
    with pytest.raises(ValueError, match="same size"):
        poll_trials(_images(1, 0.0), {"PULSE": torch.zeros(1, 3, 16, 16)})
    with pytest.raises(ValueError, match="same size"):
        poll_trials(_images(1, 0.0), {})


def test_class_files_as_spreadsheets_save_them(tmp_path):
    header = "experiment,rater,trial,method,item,answer"
    (tmp_path / "bom.csv").write_bytes(("\ufeff" + header + "\r\nmos,José,0,PULSE,0,4\r\n\r\n").encode("utf-8"))
    assert read_ratings(tmp_path / "bom.csv") == [Rating("mos", "José", 0, "PULSE", 0, "4")]
    (tmp_path / "latin.csv").write_bytes((header + "\nmos,José,0,PULSE,0,4\n").encode("cp1252"))
    with pytest.raises(ValueError, match="latin.csv: not UTF-8 text"):
        read_ratings(tmp_path / "latin.csv")
    (tmp_path / "semi.csv").write_text(header.replace(",", ";") + "\n")
    with pytest.raises(ValueError, match="separated by ';'"):
        read_ratings(tmp_path / "semi.csv")
    (tmp_path / "odd.csv").write_text(header + "\nmos,ana,²,PULSE,0,4\n")
    with pytest.raises(ValueError, match="odd.csv, line 2: bad row"):
        read_ratings(tmp_path / "odd.csv")
    with pytest.raises(ValueError, match="a list of paths"):
        merge_ratings(str(tmp_path / "bom.csv"))


def test_merging_never_gives_two_raters_one_name(tmp_path):
    trial, = mos_trials({"PULSE": _images(1, 0.5)})
    files = [write_ratings(tmp_path / f"{k}.csv", [score(trial, name, 3)]) for k, name in enumerate(["ana", "ana", "ana#2"])]
    assert [r.rater for r in merge_ratings(files)] == ["ana", "ana#2", "ana#2#2"]

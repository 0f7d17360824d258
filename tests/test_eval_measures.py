"""kinetype.eval measures, look-alikes, eval set and per-clip scoring, on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from kinetype.eval.evalset import eval_items
from kinetype.render.words import bundled_words, held_out_words, load_evalset
from kinetype.eval.lookalikes import alike_pairs, lookalike_map
from kinetype.eval.measures import (ciede2000, delta_e, dilate, erode, flicker, frame_mae, loop_seam, mask_iou, ned,
                                    srgb_to_lab, vote, word_scores)
from kinetype.eval.readers import Reading, reader_available
from kinetype.eval.score import score_clip
from kinetype.render import render_clip
from kinetype.render.templates import get_template, load_templates


class PerfectReader:
    """Reads what the test tells it to: isolates the measures from OCR."""

    name, version = "perfect", "test"

    def __init__(self, text: str):
        self.text = text

    def read(self, frame):
        return Reading(self.text, 1.0)


@pytest.fixture(scope="module")
def clip():
    template = get_template(load_templates(), "drop-bounce-in-ltr")
    return render_clip(template, "Hello", 6, size=128, num_frames=12)  # solid fill (stripes stray from the named colour)


@pytest.fixture(scope="module")
def item(clip):
    from kinetype.eval.evalset import EvalItem

    return EvalItem(0, "drop-bounce-in-ltr", "Hello", 6, "English", "bounce in")


# --- legibility -------------------------------------------------------------------------------


def test_word_scores_exact_case_insensitive_and_ned():
    assert word_scores("Hello", "Hello") == {"exact": 1.0, "ci": 1.0, "merged": 1.0, "ned": 1.0}
    s = word_scores("HELLO", "Hello")
    assert (s["exact"], s["ci"], s["merged"], s["ned"]) == (0.0, 1.0, 1.0, 1.0)
    assert word_scores("He llo", "Hello")["exact"] == 1.0  # readers split wide tracking
    assert word_scores("", "Hello") == {"exact": 0.0, "ci": 0.0, "merged": 0.0, "ned": 0.0}
    assert ned("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert ned("", "") == 1.0


def test_lookalikes_come_from_the_font_outlines():
    assert ("l", "I") in alike_pairs("lato-regular")  # a sans whose I and l are one bar
    assert alike_pairs("courier-prime-regular") == ()  # a slab mono serifs them apart
    assert not any({a.lower(), b.lower()} == {"o", "q"} for a, b in alike_pairs("roboto-condensed-bold"))  # Q's tail is a stroke
    lato = lookalike_map("lato-regular")
    assert word_scores("Ilama", "llama", lato)["merged"] == 1.0
    assert word_scores("Ilama", "llama", lookalike_map("courier-prime-regular"))["merged"] == 0.0
    assert word_scores("Ilama", "llama", lato)["ci"] == 0.0


def test_vote_counts_agreement_then_confidence():
    assert vote([("Hel1o", 0.99), ("Hello", 0.6), ("Hello", 0.5)]) == "Hello"
    assert vote([("Hel1o", 0.9), ("Hello", 0.6)]) == "Hel1o"
    assert vote([]) == ""


# --- masks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 1, 4, 10])
def test_iou_of_a_square_shifted_by_k_pixels(k):
    a = np.zeros((64, 64), bool)
    a[10:30, 10:30] = True
    b = np.roll(a, k, axis=1)
    assert mask_iou(a, b) == pytest.approx((20 - k) / (20 + k))  # overlap 20(20-k), union 20(20+k)


def test_iou_edge_cases():
    z = np.zeros((8, 8), bool)
    assert mask_iou(z, z) == 1.0
    assert mask_iou(z, ~z) == 0.0
    with pytest.raises(ValueError):
        mask_iou(z, np.zeros((4, 4), bool))


def test_erode_and_dilate():
    m = np.zeros((9, 9), bool)
    m[2:7, 2:7] = True
    assert erode(m, 1).sum() == 9 and erode(m, 3).sum() == 0
    assert dilate(m, 1).sum() == 49 and (erode(dilate(m, 1), 1) == m).all()


# --- colour -----------------------------------------------------------------------------------

# Sharma, Wu & Dalal (2005), supplementary test data: pairs 1, 7, 17, 19, 25, 34.
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
]


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA)
def test_ciede2000_matches_sharma_test_data(lab1, lab2, expected):
    assert float(ciede2000(lab1, lab2)) == pytest.approx(expected, abs=1e-4)
    assert float(ciede2000(lab2, lab1)) == pytest.approx(expected, abs=1e-4)  # symmetric


def test_known_colour_gives_delta_e_zero_and_srgb_white_is_l100():
    assert float(delta_e((220, 38, 38), (220, 38, 38))) == 0.0
    assert srgb_to_lab((255, 255, 255)) == pytest.approx([100.0, 0.0, 0.0], abs=1e-3)
    assert float(delta_e((0, 0, 0), (255, 255, 255))) == pytest.approx(100.0, abs=1e-3)


# --- flicker ----------------------------------------------------------------------------------


def test_flicker_is_zero_on_the_reference_and_measures_noise_where_it_is_still():
    ref = np.zeros((4, 8, 8, 3), np.uint8)
    ref[:, :, :4] = 100  # still everywhere
    assert flicker(ref, ref) == 0.0
    noisy = ref.copy()
    noisy[1] += 10  # frame 1 brighter: changes 0->1 and 1->2 by 10 everywhere
    assert flicker(noisy, ref) == pytest.approx(10 * 2 / 3)
    moving = ref.copy()
    moving[2, 0, 0] = 5  # the reference moves at one pixel: that pixel is left out
    assert np.isfinite(flicker(noisy, moving))


def test_loop_seam_compares_the_jump_back_with_a_typical_step():
    clip = np.zeros((5, 4, 4, 3), np.uint8)
    for t in range(5):
        clip[t] = 10 * t  # steady steps of 10; the jump back from 40 to 0 is 4 steps
    assert loop_seam(clip) == pytest.approx(4.0)
    looped = np.concatenate([clip[:3], clip[1::-1]])  # 0 10 20 10 0: back where it started
    assert loop_seam(looped) == 0.0
    assert np.isnan(loop_seam(np.zeros((3, 2, 2, 3), np.uint8)))  # a still clip has no typical step


def test_frame_mae_is_the_mean_absolute_difference_in_levels():
    a = np.zeros((2, 2, 3), np.uint8)
    b = a.copy()
    b[0, 0] = 255
    assert frame_mae(a, b) == pytest.approx(255 / 4) and frame_mae(b, a) == frame_mae(a, b)


# --- the eval set -----------------------------------------------------------------------------


def test_evalset_is_disjoint_from_the_renderer_words_and_well_formed():
    s = load_evalset()
    words = [*s.english, *s.random]
    assert len(s.english) >= 300 and len(s.random) >= 300 and len(s.motions) >= 50
    assert all(3 <= len(w) <= 10 and w.isascii() and w.isalpha() for w in words)
    assert not held_out_words() & set(bundled_words())
    assert any(w.isupper() for w in s.english) and any(w.islower() for w in s.english) and any(w.istitle() for w in s.english)


def test_eval_items_are_deterministic_prefixes_half_english():
    templates = load_templates()
    a, b = eval_items(templates, 10, seed=3), eval_items(templates, 20, seed=3)
    assert a == b[:10]
    assert a != eval_items(templates, 10, seed=4)
    assert [i.word_type for i in a[:4]] == ["English", "random", "English", "random"]
    by_id = {t.id: t for t in templates}
    assert all(i.motion in [m.strip() for m in by_id[i.template_id].motion_tag.split(",")] for i in b)


def test_render_word_mix_never_draws_an_eval_word():
    from kinetype.shards.plan import WordSource

    ws = WordSource(tuple(bundled_words()), 0.5, False)
    held = held_out_words()
    hit = next(i for i in range(20000) if ws._draw_mix(np.random.default_rng([0, 1, i])).lower() in held)
    assert ws.draw(np.random.default_rng([0, 1, hit])).lower() not in held
    assert ws.draw(np.random.default_rng([0, 1, hit + 1])) == ws._draw_mix(np.random.default_rng([0, 1, hit + 1]))


# --- one clip ---------------------------------------------------------------------------------


def test_a_render_scored_against_itself(clip, item):
    row = score_clip(item, clip.frames, clip, {"perfect": PerfectReader("Hello")})
    assert row["rest"] and row["perfect.ci"] == row["perfect.exact"] == row["perfect.ned"] == 1.0
    assert mask_iou(clip.text_mask, clip.text_mask) == 1.0
    assert row["iou"] > 0.5  # the region found from the pixels agrees with the glyph masks
    assert row["flicker"] == 0.0
    assert row["text_delta_e"] < 5 and row["background_delta_e"] < 5


def test_a_blank_clip_scores_zero(clip, item):
    from kinetype.render.palettes import COLOURS

    blank = np.empty_like(clip.frames)
    blank[:] = COLOURS[clip.metadata["plan"]["style"]["palette"]["background"]]
    row = score_clip(item, blank, clip, {"perfect": PerfectReader("")})
    assert row["perfect.ci"] == 0.0 and row["perfect.ned"] == 0.0
    empty = ~clip.text_mask.any(axis=(1, 2))  # frames before the letters arrive: both masks empty
    assert row["iou"] == pytest.approx(empty.mean())
    assert row["text_delta_e"] > 10


def test_a_shifted_clip_lowers_iou(clip, item):
    ious = []
    for k in (0, 3, 8):
        row = score_clip(item, np.roll(clip.frames, k, axis=2), clip, {})
        ious.append(row["iou"])
    assert ious[0] > ious[1] > ious[2]


@pytest.mark.parametrize("reader", ["ppocr", "tesseract"])
def test_each_reader_reads_a_crisp_render_of_a_known_word(reader):
    why = reader_available(reader)
    if why:
        pytest.skip(why)
    from kinetype.eval.readers import make_reader

    template = get_template(load_templates(), "fade-in-ltr")
    c = render_clip(template, "Kinetic", 1)
    reading = make_reader(reader).read(c.frames[np.flatnonzero(c.at_rest)[-1]])
    if reader == "ppocr":  # the default reader: exact case, confident, with its detection boxes
        assert reading.text == "Kinetic" and reading.confidence > 0.8 and len(reading.boxes) >= 1
    assert reading.text.lower() == "kinetic"


def test_ppocr_decoding_is_told_the_alphabet():
    """A digit the recogniser prefers is never the answer: the engine draws only letters."""
    from kinetype.eval.readers import LettersOnly

    class Greedy:  # the interface of rapidocr's CTCLabelDecode: greedy argmax over (B, T, C)
        character = ["blank", "1", "l", "0", "O", "é", " "]

        def __call__(self, preds, *args, **kwargs):
            return ["".join(self.character[i] for i in row if i) for row in preds.argmax(-1)]

    preds = np.array([[[0.0, 0.6, 0.3, 0.0, 0.0, 0.1, 0.0],   # "1" over "l"
                       [0.9, 0.0, 0.0, 0.05, 0.05, 0.0, 0.0],  # blank stays
                       [0.0, 0.0, 0.0, 0.7, 0.2, 0.1, 0.0]]], np.float32)  # "0" over "O"
    assert Greedy()(preds) == ["10"]
    assert LettersOnly(Greedy())(preds) == ["lO"]

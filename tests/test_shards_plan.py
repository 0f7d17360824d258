"""The sample plan: sample i -> (template, word, seed) is a pure function of (seed, i, template ids)."""

from collections import Counter
from pathlib import Path

import pytest

from kinetype.errors import KinetypeError
from kinetype.render.words import bundled_words
from kinetype.shards.plan import RenderConfig, WordSource, key_index, make_plan, read_word_file, sample_key
from kinetype.render.words import validate_word

IDS = [f"t{i:02d}" for i in range(7)]


def plan(seed=0, n=100, ids=IDS, **kw):
    return make_plan(RenderConfig(templates=Path("x"), n=n, seed=seed, **kw), ids)


def test_same_seed_same_samples_whatever_the_order_of_templates():
    a = [plan().spec(i) for i in range(100)]
    b = [plan(ids=list(reversed(IDS))).spec(i) for i in reversed(range(100))][::-1]
    assert a == b
    assert [plan(seed=1).spec(i) for i in range(100)] != a


def test_exact_values_are_stable():
    # Guards against accidental changes of the mapping (which would change every dataset).
    s = plan(seed=7).spec(3)
    assert (s.key, s.index) == ("s000000003", 3)
    assert s == plan(seed=7).spec(3)
    assert s.template_id in IDS and validate_word(s.word) and 0 <= s.seed < 2**31


def test_keys_have_no_dots_and_round_trip():
    assert sample_key(123456) == "s000123456" and "." not in sample_key(5) and key_index("s000123456") == 123456


def test_templates_are_balanced():
    counts = Counter(plan(n=7 * 30 + 3).spec(i).template_id for i in range(7 * 30 + 3))
    assert max(counts.values()) - min(counts.values()) <= 1 and len(counts) == 7


def test_default_words_mix_random_letters_and_english():
    words = [plan(n=400).spec(i).word for i in range(400)]
    english = {w.lower() for w in bundled_words()}
    share = sum(w.lower() in english for w in words) / len(words)
    assert 0.35 < share < 0.65
    assert {len(w) for w in words} >= {1, 12}
    assert any(w.isupper() for w in words) and any(w.islower() for w in words)
    for w in words:
        validate_word(w)


def test_bundled_word_list_is_clean():
    words = bundled_words()
    assert 3000 < len(words) < 10000
    for w in words:
        validate_word(w)


def test_word_file(tmp_path):
    f = tmp_path / "w.txt"
    f.write_text("# my words\nHello\n\nWorld\n")
    assert read_word_file(f) == ["Hello", "World"]
    cfg = RenderConfig(templates=Path("x"), n=20, words=f)
    assert {make_plan(cfg, IDS).spec(i).word for i in range(20)} == {"Hello", "World"}
    f.write_text("fine\nno way\n")
    with pytest.raises(KinetypeError, match=r"w.txt:2: .*U\+0020"):
        read_word_file(f)


def test_shard_ranges():
    cfg = RenderConfig(templates=Path("x"), n=10, shard_size=4)
    assert cfg.num_shards == 3 and [list(cfg.shard_range(k)) for k in range(3)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    with pytest.raises(KinetypeError, match="--n"):
        RenderConfig(templates=Path("x"), n=0)


def test_word_source_fingerprint_changes_with_words():
    assert WordSource(("a", "b")).fingerprint() != WordSource(("a", "c")).fingerprint()

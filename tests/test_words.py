import pytest

from kinetype.errors import WordError
from kinetype.render.words import parse_word_caption, validate_word, word_caption


def test_word_caption_format_matches_kinety():
    assert word_caption("Hello") == "H^|e|l|l|o"
    assert word_caption("ABc") == "A^|B^|c"
    assert word_caption("x") == "x"


def test_parse_word_caption_round_trips():
    for w in ("Hello", "ABCDEFGHIJKL", "zZ"):
        assert parse_word_caption(word_caption(w)) == w


@pytest.mark.parametrize("bad, needle", [
    ("", "empty"), ("He llo", "U+0020"), ("Héllo", "'é'"), ("abc1", "'1'"), ("ABCDEFGHIJKLM", "13 letters"),
    ("a-b", "'-'"), ("a\nb", "U+000A"),
])
def test_bad_words_are_refused_naming_the_problem(bad, needle):
    with pytest.raises(WordError) as e:
        validate_word(bad)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg


def test_twelve_letters_are_fine():
    assert validate_word("abcdefghijkL") == "abcdefghijkL"

"""The bundled font library and the manifest checks."""

import pickle
import shutil
import time
from pathlib import Path

import pytest
import skia
from fontTools import subset
from fontTools.ttLib import TTFont

from kinetype.errors import FontError
from kinetype.render import fonts as fonts_mod
from kinetype.render.fonts import CLASSES, LETTERS, FontInfo, FontLibrary, font_table

REPO_FONTS = Path(__file__).resolve().parents[1] / "fonts"


@pytest.fixture(scope="module")
def lib() -> FontLibrary:
    return FontLibrary.load(REPO_FONTS)


# --- the bundled library ------------------------------------------------------------------------

def test_bundled_library_loads(lib):
    assert len(lib.fonts) >= 45
    assert len(lib.families()) >= 20
    assert [f.id for f in lib.fonts] == sorted(f.id for f in lib.fonts)
    assert len({f.id for f in lib.fonts}) == len(lib.fonts)
    assert FontLibrary.load(REPO_FONTS) is lib  # cached per folder


def test_default_folder_is_repo_fonts(lib, monkeypatch):
    monkeypatch.delenv("KINETYPE_FONTS", raising=False)
    assert fonts_mod.default_folder().resolve() == REPO_FONTS.resolve()
    assert FontLibrary.load() is lib


def test_every_class_has_mixed_case_fonts(lib):
    for cls in CLASSES:
        usable = [f for f in lib.with_classes([cls]) if not f.caps_only]
        assert usable, f"no font for class {cls}"
        assert all(cls in f.classes for f in usable)


def test_weights_and_styles(lib):
    weights = {f.weight for f in lib.fonts}
    assert {300, 400, 700, 900} <= weights
    assert any(f.italic for f in lib.fonts)
    for f in lib.fonts:
        assert f.italic == ("Italic" in f.style)


def test_every_font_has_the_52_letters(lib):
    for f in lib.fonts:
        gids = lib.typeface(f).unicharsToGlyphs([ord(c) for c in LETTERS])
        assert all(gids), f.path


def test_caps_only_detection(lib):
    caps = {f.family for f in lib.fonts if f.caps_only}
    assert {"Bebas Neue", "Humor Sans"} <= caps
    for family in ("Lato", "Open Sans", "Lobster", "Comic Neue", "EB Garamond", "Fira Code", "Dancing Script"):
        assert family not in caps
    assert all(f.caps_only for f in lib.fonts if f.family == "Bebas Neue")


def test_licences(lib):
    for f in lib.fonts:
        assert f.licence in ("OFL-1.1", "Apache-2.0")
        assert f.licence_file.is_file()
        text = f.licence_file.read_text(encoding="utf-8", errors="replace")
        expected = "SIL OPEN FONT LICENSE" if f.licence == "OFL-1.1" else "Apache License"
        assert expected.lower() in text.lower(), f.licence_file
        assert f.path.is_relative_to(REPO_FONTS.resolve())


def test_ids_get_and_classes(lib):
    lato = lib.get("lato-bold")
    assert (lato.family, lato.style, lato.weight, lato.italic) == ("Lato", "Bold", 700, False)
    assert lib.get("lato-light-italic").italic
    with pytest.raises(FontError, match="no-such-font"):
        lib.get("no-such-font")
    with pytest.raises(FontError, match="blackletter"):
        lib.with_classes(["serif", "blackletter"])
    mono = lib.with_classes(["mono"])
    assert mono and all("mono" in f.classes for f in mono)


def test_handles_are_cached_and_info_pickles(lib):
    f = lib.get("lato-regular")
    assert lib.typeface(f) is lib.typeface(f)
    assert isinstance(lib.typeface(f), skia.Typeface)
    hbf = lib.hb_font(f)
    assert hbf is lib.hb_font(f) and hbf.face.upem > 0
    assert pickle.loads(pickle.dumps(f)) == f
    again = pickle.loads(pickle.dumps(lib))
    assert again.get("lato-regular") == f


def test_font_table(lib):
    rows = font_table(lib)
    assert [r["family"] for r in rows] == list(lib.families())
    lato = next(r for r in rows if r["family"] == "Lato")
    assert set(lato) >= {"family", "styles", "classes", "licence"}
    assert "Bold" in lato["styles"] and lato["licence"] == "OFL-1.1"


def test_load_is_fast():
    best = float("inf")
    for _ in range(2):
        fonts_mod._load.cache_clear()
        fonts_mod._typeface.cache_clear()
        t0 = time.perf_counter()
        FontLibrary.load(REPO_FONTS)
        best = min(best, time.perf_counter() - t0)
    assert best < 1.0


# --- manifest checks on small libraries in tmp_path ---------------------------------------------

LATO = REPO_FONTS / "lato" / "Lato-Regular.ttf"
BEBAS = REPO_FONTS / "bebas-neue" / "BebasNeue-Regular.otf"


def _entry(**fields) -> dict:
    base = {"family": "Lato", "style": "Regular", "weight": 400, "italic": False, "classes": ["sans"],
            "file": "Lato-Regular.ttf", "licence": "OFL-1.1", "licence_file": "OFL.txt", "package": "fonts-lato"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return '"' + v + '"'
    return repr(v)


def _make_library(folder: Path, entries: list[dict], fonts=(LATO,)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in fonts:
        shutil.copyfile(f, folder / f.name)
    (folder / "OFL.txt").write_text("SIL OPEN FONT LICENSE Version 1.1\n")
    text = "\n".join("[[font]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in e.items()) for e in entries)
    (folder / "fonts.toml").write_text(text)
    return folder


def test_small_library_and_env_override(tmp_path, monkeypatch):
    folder = _make_library(tmp_path / "lib", [_entry(), _entry(family="Bebas Neue", file=BEBAS.name,
                                                               classes=["display", "condensed"])],
                           fonts=(LATO, BEBAS))
    monkeypatch.setenv("KINETYPE_FONTS", str(folder))
    lib = FontLibrary.load()
    assert [f.id for f in lib.fonts] == ["bebas-neue-regular", "lato-regular"]
    assert lib.get("bebas-neue-regular").caps_only and not lib.get("lato-regular").caps_only
    assert lib.get("lato-regular").path == (folder / LATO.name).resolve()
    assert isinstance(lib.fonts[0], FontInfo) and lib.fonts[0].classes == ("display", "condensed")


@pytest.mark.parametrize("fields, field", [
    (dict(weight=None), "weight"),  # missing
    (dict(family=None), "family"),
    (dict(weight="700"), "weight"),  # wrong type
    (dict(weight=950), "weight"),
    (dict(italic="no"), "italic"),
    (dict(classes=["sans", "gothic"]), "classes"),
    (dict(classes=[]), "classes"),
    (dict(licence="GPL-2.0"), "licence"),
    (dict(file="Missing.ttf"), "file"),  # missing file
    (dict(licence_file="LICENSE"), "licence_file"),
    (dict(colour="red"), "colour"),  # unknown field
])
def test_bad_manifest_names_file_and_field(tmp_path, fields, field):
    folder = _make_library(tmp_path / "lib", [_entry(**fields)])
    with pytest.raises(FontError) as e:
        FontLibrary.load(folder)
    msg = str(e.value)
    assert "\n" not in msg
    assert str(folder.resolve() / "fonts.toml") in msg and f"font[0].{field}" in msg


def test_bad_toml_and_missing_manifest(tmp_path):
    with pytest.raises(FontError, match="no font manifest"):
        FontLibrary.load(tmp_path)
    (tmp_path / "fonts.toml").write_text("[[font]\nfamily = ")
    with pytest.raises(FontError, match="fonts.toml: not valid TOML"):
        FontLibrary.load(tmp_path)


def test_duplicate_ids_refused(tmp_path):
    folder = _make_library(tmp_path / "lib", [_entry(), _entry()])
    with pytest.raises(FontError, match="duplicate font id 'lato-regular'"):
        FontLibrary.load(folder)


def test_font_missing_letters_is_refused(tmp_path):
    folder = tmp_path / "lib"
    folder.mkdir()
    keep = [c for c in LETTERS if c not in "Qqz"]
    font = TTFont(LATO)
    sub = subset.Subsetter(subset.Options())
    sub.populate(text="".join(keep))
    sub.subset(font)
    font.save(folder / "Lato-Regular.ttf")
    _make_library(folder, [_entry()], fonts=())
    with pytest.raises(FontError) as e:
        FontLibrary.load(folder)
    msg = str(e.value)
    assert "Lato-Regular.ttf" in msg and "Qqz" in msg

"""Bad inputs and faults across every command (engine, dataset, train, generate, eval), as a generated table.

For every case: a non-zero exit, one line on stderr naming the culprit (the option, file or sample),
no traceback, and every file that existed before byte-for-byte unchanged. One small real dataset
(8 clips, 64 px, 8 frames) is rendered once; damaged copies of it are made once per module.
Then a few faults that need more than a table: kill -9 of `render` (its workers must end), the
loader's count of samples lost in a truncated shard, Ctrl-C, and `templates validate`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from kinetype.cli import app
from kinetype.errors import KinetypeError
from test_shards_helpers import REPO, copy_some_templates

runner = CliRunner()
TINY = ["--size", "64", "--frames", "8", "--fps", "8"]
TEMPLATE = "drop-bounce-in-ltr"

# --- the world the cases run in -------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A folder holding a rendered dataset, damaged copies of it, and files a bad command must not touch."""
    root = tmp_path_factory.mktemp("world")
    templates = copy_some_templates(root / "templates", count=1)
    ds = root / "ds"
    r = runner.invoke(app, ["render", "--templates", str(templates), "--n", "8", "--shard-size", "4", "--out", str(ds),
                            "--workers", "1", "--seed", "3", "--quiet", *TINY])
    assert r.exit_code == 0, r.output
    (root / "keep.png").write_bytes(b"\x89PNG precious bytes")
    (root / "keep.txt").write_text("a regular file\n")
    (root / "keep_dir").mkdir()
    (root / "keep_dir" / "inside.txt").write_text("do not lose me\n")
    (root / "empty").mkdir()
    (root / "words_bad.txt").write_text("Hello\nwor1d\n")
    (root / "words_empty.txt").write_text("# only a comment\n\n")
    (root / "bad_templates").mkdir()
    (root / "bad_templates" / "x.toml").write_text('[[template]]\nid = "x-y"\ndescription = "d"\nmotion_tag = "m"\n'
                                                   '[template.enter]\nmotion = "nope"\n')
    (root / "garbage_templates").mkdir()
    (root / "garbage_templates" / "g.toml").write_text("this is = = not toml [")

    def damaged(name: str, change) -> None:
        dest = root / name
        shutil.copytree(ds, dest)
        change(dest)

    def truncate(d: Path) -> None:
        tar = d / "shard-000001.tar"
        tar.write_bytes(tar.read_bytes()[: tar.stat().st_size // 3])

    def flip_byte(d: Path) -> None:
        tar = d / "shard-000000.tar"
        raw = bytearray(tar.read_bytes())
        raw[700] ^= 0xFF
        tar.write_bytes(bytes(raw))

    def rewrite_manifest(d: Path, edit) -> None:
        table = pq.read_table(d / "manifest.parquet")
        buf = io.BytesIO()
        pq.write_table(edit(table), buf)
        (d / "manifest.parquet").write_bytes(buf.getvalue())

    def edit_word(d: Path) -> None:
        def edit(t):
            words = t.column("word").to_pylist()
            words[2] = words[2] + "x" if len(words[2]) < 12 else words[2][:-1]
            return t.set_column(t.column_names.index("word"), "word", pa.array(words))
        rewrite_manifest(d, edit)

    damaged("ds_truncated", truncate)
    damaged("ds_flipped", flip_byte)
    damaged("ds_no_parquet", lambda d: (d / "shard-000000.parquet").unlink())
    damaged("ds_edited_word", edit_word)
    damaged("ds_no_column", lambda d: rewrite_manifest(d, lambda t: t.drop_columns(["font"])))
    damaged("ds_garbage_manifest", lambda d: (d / "manifest.parquet").write_bytes(b"garbage, not parquet"))
    damaged("ds_garbage_config", lambda d: (d / "render_config.json").write_text("{ not json"))
    damaged("ds_list_config", lambda d: (d / "render_config.json").write_text("[1, 2]"))
    damaged("ds_no_stats", lambda d: (d / "shard-000001.stats.json").unlink())
    damaged("ds_garbage_parquet", lambda d: (d / "shard-000001.parquet").write_bytes(b"PAR1 garbage PAR1"))
    damaged("ds_no_tar", lambda d: (d / "shard-000000.tar").unlink())
    damaged("ds_empty_tar", lambda d: (d / "shard-000001.tar").write_bytes(b""))

    def fifo(d: Path) -> None:
        (d / "shard-000001.tar").unlink()
        os.mkfifo(d / "shard-000001.tar")

    def edit_json(name: str, **changes):
        def change(d: Path) -> None:
            record = json.loads((d / name).read_text())
            target = record["config"] if name == "render_config.json" else record
            target.update(changes)
            (d / name).write_text(json.dumps(record))
        return change

    damaged("ds_fifo", fifo)
    damaged("ds_extra_shard", lambda d: shutil.copy(d / "shard-000000.tar", d / "shard-000007.tar"))
    damaged("ds_stats_types", edit_json("shard-000000.stats.json", failed=[1]))
    damaged("ds_stats_samples", edit_json("shard-000001.stats.json", samples="4"))
    damaged("ds_stats_failures", edit_json("shard-000001.stats.json", failures=[3]))
    damaged("ds_huge_n", edit_json("render_config.json", n=10**12))
    damaged("ds_seed_2_64", edit_json("render_config.json", seed=2**64))
    _model_world(root)
    _hostile_world(root, ds)
    return root


def _model_world(root: Path) -> None:
    """A tiny model, damaged copies of it, and training configs with one bad value each."""
    import json as _json

    from safetensors.torch import load_file, save_file

    from model_helpers import tiny_pipeline_folder
    from kinetype.model.weights import digests

    model = tiny_pipeline_folder(root / "model", num_frames=4)
    shutil.copytree(model, root / "model_flipped")
    f = root / "model_flipped" / "denoiser" / "model.safetensors"
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    f.write_bytes(bytes(raw))
    shutil.copytree(model, root / "model_nan")
    f = root / "model_nan" / "denoiser" / "model.safetensors"
    state = load_file(f)
    state[sorted(state)[0]].view(-1)[0] = float("nan")
    save_file(state, f)
    index = _json.loads((root / "model_nan" / "model_index.json").read_text())
    index["sha256"] = digests(root / "model_nan")
    (root / "model_nan" / "model_index.json").write_text(_json.dumps(index))
    shutil.copytree(model, root / "model_garbage_index")
    (root / "model_garbage_index" / "model_index.json").write_text("{ not json")
    for name, text in CONFIGS.items():
        (root / f"{name}.toml").write_text(text)
    (root / "cfg_latin1.toml").write_bytes("# caf\u00e9\n[optim]\nlr = 0.001\n".encode("latin-1"))
    for name, change in DAMAGED_MODELS.items():
        shutil.copytree(model, root / name)
        change(root / name)
        if name not in ("model_no_digests", "model_unlisted"):
            index = _json.loads((root / name / "model_index.json").read_text())
            if isinstance(index.get("sha256"), dict):  # as a re-export would record them: only the damage differs
                index["sha256"] = digests(root / name)
                (root / name / "model_index.json").write_text(_json.dumps(index))
    for name, text in {"templates_big_int": '[[template]]\nid = "x-y"\ndescription = "d"\nmotion_tag = "m"\n'
                       '[template.enter]\nmotion = "fly"\nduration = 99999999999999999999999\n',
                       "templates_deep": '[[template]]\nid = "x"\nfoo = ' + "[" * 200 + "]" * 200 + "\n"}.items():
        (root / name).mkdir()
        (root / name / "t.toml").write_text(text)
    (root / "templates_latin1").mkdir()
    (root / "templates_latin1" / "t.toml").write_bytes("# caf\u00e9\n".encode("latin-1"))


def _json_edit(file: str, **changes):
    def change(folder: Path) -> None:
        data = json.loads((folder / file).read_text())
        data.update(changes)
        (folder / file).write_text(json.dumps(data))
    return change


def _text(file: str, text: str):
    return lambda folder: (folder / file).write_text(text)


def _retype_weights(folder: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    f = folder / "denoiser" / "model.safetensors"
    state = load_file(f)
    state[sorted(state)[0]] = state[sorted(state)[0]].to(torch.int32)
    save_file(state, f)


def _unlisted(folder: Path) -> None:
    index = json.loads((folder / "model_index.json").read_text())
    del index["sha256"]["denoiser/model.safetensors"]
    (folder / "model_index.json").write_text(json.dumps(index))
    f = folder / "denoiser" / "model.safetensors"
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    f.write_bytes(bytes(raw))


def _drop_digests(folder: Path) -> None:
    index = json.loads((folder / "model_index.json").read_text())
    del index["sha256"]
    (folder / "model_index.json").write_text(json.dumps(index))


# Model folders damaged but not corrupt (every digest recorded for what is there), and the culprit.
DAMAGED_MODELS = {
    "model_size_str": _json_edit("model_index.json", size_px="32"), "model_size_30": _json_edit("model_index.json", size_px=30),
    "model_size_huge": _json_edit("model_index.json", size_px=10**9), "model_fps_0": _json_edit("model_index.json", fps=0),
    "model_objective": _json_edit("model_index.json", objective="nope"),
    "model_components_str": _json_edit("model_index.json", components="autoencoder"),
    "model_sha_list": _json_edit("model_index.json", sha256=["x"]), "model_no_size": _json_edit("model_index.json", size_px=None),
    "model_den_garbage": _text("denoiser/config.json", "{ garbage"), "model_den_list": _text("denoiser/config.json", "[1, 2]"),
    "model_den_groups": _json_edit("denoiser/config.json", norm_groups=7),
    "model_text_heads_0": _json_edit("text_encoder/config.json", heads=0),
    "model_den_channels": _json_edit("denoiser/config.json", channels=[32]),
    "model_ae_empty": _text("autoencoder/config.json", "{}"), "model_int_weights": _retype_weights,
    "model_unlisted": _unlisted, "model_no_digests": _drop_digests,
}
MODEL_CULPRITS = {
    "model_size_str": "size_px", "model_size_30": "size_px", "model_size_huge": "size_px", "model_fps_0": "fps",
    "model_objective": "objective", "model_components_str": "components", "model_sha_list": "sha256",
    "model_no_size": "size_px", "model_den_garbage": "denoiser/config.json", "model_den_list": "denoiser/config.json",
    "model_den_groups": "norm_groups", "model_text_heads_0": "heads", "model_den_channels": "denoiser",
    "model_ae_empty": "autoencoder/config.json", "model_int_weights": "I32", "model_unlisted": "not listed",
    "model_no_digests": "sha256",
}


CONFIGS = {
    "cfg_lr_word": '[optim]\nlr = "fast"\n', "cfg_batch_zero": "[data]\nbatch_size = 0\n",
    "cfg_dtype": '[data]\nvideo_dtype = "rgb"\n', "cfg_precision": 'precision = "fp8"\n',
    "cfg_channels": "[model.denoiser]\nchannels = []\n", "cfg_scalar_table": "data = 3\n",
    "cfg_unknown": "[optim]\nspeed = 3\n", "cfg_syntax": "[optim\nlr = 1\n", "cfg_steps_float": "[optim]\nmax_steps = 2.5\n",
    "cfg_stage": "[stages.vidoe.optim]\nmax_steps = 3\n",
    "cfg_groups": "[model.denoiser]\nnorm_groups = 7\n", "cfg_ae_groups": "[model.autoencoder]\nnorm_num_groups = 5\n",
    "cfg_stage_scalar": "[stages]\nvideo = 3\n", "cfg_stages_scalar": "stages = 3\n",
    "cfg_seed_2_64": "seed = 18446744073709551616\n", "cfg_seed_2_40": "seed = 1099511627776\n",
    "cfg_deep": "a = " + "[" * 3000 + "]" * 3000 + "\n", "cfg_heads": "[model.text]\nheads = 0\n",
}


def snapshot(root: Path) -> dict[str, str]:
    """Every regular file: small ones by their bytes, weights and shards (over 64 KiB) by size,
    modification time and inode, which any write or replacement changes (the world holds a hundred
    model folders: hashing them for every case would cost minutes)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            out[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest() if st.st_size <= 1 << 16
                                             else f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}")
    return out


# --- the table --------------------------------------------------------------------------------------

# (args, culprit named on stderr, allowed exit codes). "{w}" is the world folder.
USER = (2,)
CASES: list[tuple[list[str], str, tuple[int, ...]]] = []


def case(args: str | list[str], culprit: str, codes: tuple[int, ...] = USER) -> None:
    CASES.append((args.split() if isinstance(args, str) else args, culprit, codes))


PREVIEW = f"preview {TEMPLATE} --templates {{w}}/templates --out {{w}}/new/p.gif"
RENDER = "render --templates {w}/templates --n 4 --shard-size 2 --out {w}/new/ds --quiet --workers 1 " + " ".join(TINY)
SHEET = "templates sheet --templates {w}/templates --out {w}/new/sheets --size 32"

# Numbers out of range, each naming its option.
for opt, values in {"--size": ["0", "15", "4097", "-1"], "--frames": ["0", "-1", "1001"], "--fps": ["0", "121", "-5"],
                    "--seed": ["-1", "-100"]}.items():
    for v in values:
        case(f"{PREVIEW} {opt} {v}".split(), opt)
for opt, values in {"--n": ["0", "-1"], "--shard-size": ["0", "-3"], "--size": ["0", "17", "15", "63", "4097"],
                    "--frames": ["0", "-1", "1001"], "--fps": ["0", "121"], "--seed": ["-1"],
                    "--workers": ["0", "-2", "1000"], "--num-shards": ["0", "-1"], "--shard-index": ["-1", "1"]}.items():
    for v in values:
        case(f"{RENDER} {opt} {v}".split(), opt)
case(f"{RENDER} --num-shards 2 --shard-index 5".split(), "--shard-index")
for opt, values in {"--per-sheet": ["0", "-1"], "--size": ["0", "15", "5000"], "--seed": ["-1"]}.items():
    for v in values:
        case(f"{SHEET} {opt} {v}".split(), opt)
for v in ["0", "-1"]:
    case(f"shards inspect {{w}}/ds --sheet {{w}}/keep.png --samples {v}".split(), "--samples")
    case(f"shards inspect {{w}}/ds --samples {v}".split(), "--samples")
for v in ["0", "-2", "1000"]:
    case(f"shards verify {{w}}/ds --workers {v}".split(), "--workers")
case("shards inspect {w}/ds --seed -1".split(), "--seed")

# Wrong types and unknown options: click's usage errors, as one line naming the option.
for cmd, opt in [(PREVIEW, "--size"), (PREVIEW, "--frames"), (PREVIEW, "--fps"), (PREVIEW, "--seed"),
                 (RENDER, "--n"), (RENDER, "--workers"), (RENDER, "--size"), (RENDER, "--shard-size"),
                 (RENDER, "--num-shards"), (SHEET, "--per-sheet"), (SHEET, "--size"),
                 ("shards inspect {w}/ds", "--samples"), ("shards verify {w}/ds", "--workers")]:
    for bad in ["abc", "1.5"]:
        case(f"{cmd} {opt} {bad}".split(), opt)
for cmd in [PREVIEW, RENDER, SHEET, "shards verify {w}/ds", "shards inspect {w}/ds", "export {w}/ds {w}/new/x",
            "templates list", "fonts list"]:
    case(f"{cmd} --bogus".split(), "--bogus")
case("shards verify", "FOLDER")
case("export {w}/ds", "OUT")
case("templates sheet", "--out")

# Words, including text Rich would read as markup.
for word in ["[/x]", "[bold]x", "", "a b", "é", "x" * 13, "1abc", "ab-c", "[red]", "Hel[lo"]:
    shown = word[:1] if word and word[0] in "[1" else ("empty" if not word else "")
    case([*f"{PREVIEW}".split(), "--word", word], shown or "word")
    case([*SHEET.split(), "--word", word], shown or "word")

# Output paths: under a file, a folder where a file goes, unknown suffixes, flags that do not fit.
for out in ["{w}/keep.txt/p.gif", "{w}/keep.txt/deeper/p.png", "{w}/keep_dir", "{w}/new/p.txt", "{w}/new/p"]:
    case(f"preview {TEMPLATE} --templates {{w}}/templates --out {out}".split(), "--out")
case(f"{PREVIEW} --masks".split(), "--masks")
case(f"preview {TEMPLATE} --templates {{w}}/templates --out {{w}}/new/p.mp4 --masks".split(), "--masks")
case(f"preview {TEMPLATE} --templates {{w}}/templates --out {{w}}/new/p.mp4 --size 17".split(), "--size")
case("preview --templates {w}/templates --out {w}/new/p.gif".split(), "TEMPLATE_ID")
case("preview no-such-template --templates {w}/templates --out {w}/new/p.gif".split(), "no-such-template")
for out in ["{w}/keep.txt/sheets", "{w}/keep.txt"]:
    case(f"templates sheet --templates {{w}}/templates --out {out} --size 32".split(), "--out")
for out in ["{w}/keep.txt/ds", "{w}/keep.txt"]:
    case(f"render --templates {{w}}/templates --n 4 --shard-size 2 --out {out} --quiet --workers 1 {' '.join(TINY)}".split(), "keep.txt")
for sheet, culprit in [("{w}/keep.txt/s.png", "--sheet"), ("{w}/keep_dir", "--sheet"), ("{w}/new/s.jpg", "--sheet"),
                       ("{w}/keep.txt", "--sheet")]:
    case(f"shards inspect {{w}}/ds --sheet {sheet}".split(), culprit)

# Template folders that are missing, files, empty, or hold bad files — for every command that reads them.
for templates, culprit in [("{w}/missing", "missing"), ("{w}/keep.txt", "keep.txt"), ("{w}/empty", "empty"),
                           ("{w}/bad_templates", "x.toml"), ("{w}/garbage_templates", "g.toml")]:
    case(f"templates list --templates {templates}".split(), culprit)
    case(f"preview {TEMPLATE} --templates {templates} --out {{w}}/new/p.gif".split(), culprit)
    case(f"templates sheet --templates {templates} --out {{w}}/new/sheets".split(), culprit)
    case(f"render --templates {templates} --n 4 --out {{w}}/new/ds --quiet {' '.join(TINY)}".split(), culprit)

# Word lists.
for words, culprit in [("{w}/missing.txt", "missing.txt"), ("{w}/words_bad.txt", "words_bad.txt"),
                       ("{w}/words_empty.txt", "words_empty.txt"), ("{w}/keep_dir", "keep_dir")]:
    case(f"{RENDER} --words {words}".split(), culprit)

# Dataset folders that are not datasets, for every dataset command.
NOT_DATASETS = [("{w}/missing", "missing"), ("{w}/keep.txt", "keep.txt"), ("{w}/empty", "empty"),
                ("{w}/ds_garbage_config", "render_config.json"), ("{w}/ds_list_config", "render_config.json")]
for folder, culprit in NOT_DATASETS:
    case(f"shards verify {folder}".split(), culprit)
    case(f"shards inspect {folder}".split(), culprit)
    case(f"shards inspect {folder} --sheet {{w}}/keep.png".split(), culprit)
    case(f"export {folder} {{w}}/new/export".split(), culprit)

# Damaged datasets: verify finds each fault (exit 1 corrupt, 3 missing, 4 both).
DAMAGED = [("ds_truncated", "shard-000001.tar", (1, 4)), ("ds_flipped", "shard-000000.tar", (1,)),
           ("ds_no_parquet", "shard-000000.parquet", (1,)), ("ds_edited_word", "manifest", (1,)),
           ("ds_no_column", "font", (1,)), ("ds_garbage_manifest", "manifest.parquet", (1,)),
           ("ds_no_stats", "shard-000001", (3, 4)), ("ds_garbage_parquet", "shard-000001.parquet", (1,)),
           ("ds_no_tar", "shard-000000", (3, 4)), ("ds_empty_tar", "shard-000001.tar", (1, 4))]
for name, culprit, codes in DAMAGED:
    case(f"shards verify {{w}}/{name}".split(), culprit, codes)
    case(f"shards verify {{w}}/{name} --workers 2".split(), culprit, codes)

# Foreign or malformed data: a FIFO named like a shard (never opened: it would block), a shard the plan
# does not have, stats files of wrong types, a render record claiming a huge n or seed.
for name, culprit, codes in [("ds_fifo", "FIFO", USER), ("ds_extra_shard", "shard-000007.tar", (1,)),
                             ("ds_stats_types", "shard-000000.stats.json", (1,)),
                             ("ds_stats_samples", "shard-000001.stats.json", (1,)),
                             ("ds_stats_failures", "shard-000001.stats.json", (1,)),
                             ("ds_huge_n", "render_config.json", USER), ("ds_seed_2_64", "render_config.json", USER)]:
    case(f"shards verify {{w}}/{name}".split(), culprit, codes)
    case(f"shards verify {{w}}/{name} --workers 2".split(), culprit, codes)
for name, culprit in [("ds_fifo", "FIFO"), ("ds_stats_types", "shard-000000.stats.json"),
                      ("ds_stats_samples", "shard-000001.stats.json"), ("ds_huge_n", "render_config.json"),
                      ("ds_seed_2_64", "render_config.json")]:
    case(f"shards inspect {{w}}/{name} --sheet {{w}}/keep.png".split(), culprit)
    case(f"export {{w}}/{name} {{w}}/new/export".split(), culprit)
for name, culprit in [("ds_fifo", "FIFO"), ("ds_huge_n", "render_config.json"), ("ds_seed_2_64", "render_config.json")]:
    case(f"train --preset tiny --out {{w}}/new/run --shards {{w}}/{name}".split(), culprit)  # the loader, too

# Exports that must leave nothing: an existing target, a target under a file, a damaged dataset.
for out in ["{w}/keep_dir", "{w}/keep.txt", "{w}/keep.txt/x", "{w}/empty"]:
    case(f"export {{w}}/ds {out}".split(), out.replace("{w}/", ""))
case("export --format nope {w}/ds {w}/new/export".split(), "--format")
for name, culprit in [("ds_truncated", "shard-000001.tar"), ("ds_garbage_config", "render_config.json"),
                      ("ds_no_tar", "shard-000000.tar"), ("ds_empty_tar", "shard-000001.tar")]:
    case(f"export {{w}}/{name} {{w}}/new/export".split(), culprit)
# Contact sheets of damaged datasets.
for name, culprit in [("ds_garbage_manifest", "manifest.parquet"), ("ds_no_tar", "shard-000000.tar"),
                      ("ds_empty_tar", "shard-000001.tar"), ("ds_garbage_config", "render_config.json")]:
    case(f"shards inspect {{w}}/{name} --sheet {{w}}/keep.png".split(), culprit)


# Training: data, configs, flags; nothing may be created.
TRAIN = "train --preset tiny --out {w}/new/run"
for spec in ["{w}/nope", "{w}/empty", "{w}/keep.txt"]:
    case(f"{TRAIN} --shards {spec}".split(), spec.replace("{w}/", ""))
    case(f"{TRAIN} --shards {spec} --stage autoencoder".split(), spec.replace("{w}/", ""))
for name, culprit in [("cfg_lr_word", "optim.lr"), ("cfg_batch_zero", "data.batch_size"), ("cfg_dtype", "video_dtype"),
                      ("cfg_precision", "precision"), ("cfg_channels", "channels"), ("cfg_scalar_table", "data"),
                      ("cfg_unknown", "speed"), ("cfg_syntax", "cfg_syntax.toml"), ("cfg_steps_float", "max_steps"),
                      ("cfg_stage", "vidoe")]:
    for extra in ("", " --dry-run", " --stage image"):
        case(f"{TRAIN} --shards synthetic --config {{w}}/{name}.toml{extra}".split(), culprit)
# Configs that pass the type check but cannot build a model, or that no parser should take whole.
for name, culprit in [("cfg_groups", "norm_groups"), ("cfg_ae_groups", "num_groups"), ("cfg_stage_scalar", "stages.video"),
                      ("cfg_stages_scalar", "stages"), ("cfg_seed_2_64", "seed"), ("cfg_seed_2_40", "seed"),
                      ("cfg_deep", "nested too deeply"), ("cfg_heads", "heads"), ("cfg_latin1", "not UTF-8")]:
    for extra in ("", " --dry-run"):
        case(f"{TRAIN} --shards synthetic --config {{w}}/{name}.toml{extra}".split(), culprit)
for seed in ("4294967296", "18446744073709551616"):
    case(f"{TRAIN} --shards synthetic --seed {seed}".split(), "seed")
    case(f"{RENDER} --seed {seed}".split(), "--seed")
    case(f"generate Hello --motion wave --model {{w}}/model --out {{w}}/new/g.gif --seed {seed}".split(), "--seed")
    case(f"eval renders --n 2 --out {{w}}/new/ev --seed {seed}".split(), "--seed")
    case(f"{PREVIEW} --seed {seed}".split(), "--seed")
for n in ("100000001", "10000000000"):
    case(f"{RENDER} --n {n}".split(), "--n")
    case(f"{RENDER} --shard-size {n}".split(), "--shard-size")
# Template files no TOML reader should take whole: the file and key named, for every command that reads them.
for name, culprit in [("templates_big_int", "duration"), ("templates_deep", "nested too deeply"),
                      ("templates_latin1", "not UTF-8")]:
    case(f"templates list --templates {{w}}/{name}".split(), culprit)
    case(f"render --templates {{w}}/{name} --n 4 --out {{w}}/new/ds --quiet {' '.join(TINY)}".split(), culprit)
    case(f"preview --random --templates {{w}}/{name} --out {{w}}/new/p.gif".split(), culprit)
case(f"{TRAIN} --shards synthetic --config {{w}}/missing.toml".split(), "missing.toml")
case(f"{TRAIN} --shards synthetic --preset huge".split(), "huge")
case(f"{TRAIN} --shards synthetic --stage sideways".split(), "sideways")
case(f"{TRAIN} --shards synthetic --stage autoencoder --resume".split(), "--resume")
case(f"{TRAIN} --shards synthetic --resume".split(), "--resume")
case(f"{TRAIN} --shards synthetic --stage video --init {{w}}/empty".split(), "empty")
case(f"{TRAIN} --shards synthetic --stage video --autoencoder {{w}}/keep_dir".split(), "keep_dir")
case(f"{TRAIN} --shards synthetic --max-steps 0".split(), "max_steps")

# Generation: numbers, outputs, models (damaged ones too); nothing may be written.
GEN = "generate Hello --motion wave --model {w}/model --steps 2"
for opt, values in {"--steps": ["0", "-1"], "--guidance": ["nan", "inf", "-1"], "--frames": ["0", "-2"],
                    "--fps": ["0", "500"], "--seed": ["-1"], "--sampler": ["nope"]}.items():
    for v in values:
        case(f"{GEN} --out {{w}}/new/g.gif {opt} {v}".split(), opt)
for out in ["{w}/keep_dir", "{w}/keep.txt/g.gif", "{w}/new/g.avi"]:
    case(f"{GEN} --out {out}".split(), out.replace("{w}/", "").split("/")[0] if "avi" not in out else ".avi")
for model, culprit in [("nomodel", "nomodel"), ("model_flipped", "model.safetensors"), ("model_nan", "non-finite"),
                       ("model_garbage_index", "model_index.json"), ("keep_dir", "keep_dir")]:
    case(f"generate Hello --motion wave --steps 2 --out {{w}}/new/g.gif --model {{w}}/{model}".split(), culprit)
case("generate He11o --motion wave --out {w}/new/g.gif --model {w}/model".split(), "position 3")
case("generate Hello --motion xyzzy --out {w}/new/g.gif --model {w}/model".split(), "xyzzy")
case("generate Hello --template nope --out {w}/new/g.gif --model {w}/model".split(), "nope")
case("generate Hello --out {w}/new/g.gif --model {w}/model".split(), "--motion")

# Evaluation: counts, outputs, models.
for n in ("0", "-3"):
    case(f"eval renders --n {n} --out {{w}}/new/ev".split(), "--n")
    case(f"eval model --model {{w}}/model --n {n} --out {{w}}/new/ev".split(), "--n")
for out in ["{w}/keep.txt", "{w}/keep.txt/ev"]:
    case(f"eval renders --n 2 --out {out}".split(), "keep.txt")
case("eval renders --n 2 --size 0 --out {w}/new/ev".split(), "--size")
case("eval renders --n 2 --reader nope --out {w}/new/ev".split(), "nope")
for model, culprit in [("nomodel", "nomodel"), ("model_flipped", "model.safetensors"), ("model_nan", "non-finite")]:
    case(f"eval model --model {{w}}/{model} --n 2 --out {{w}}/new/ev".split(), culprit)
def _drop_digests(folder: Path) -> None:
    index = json.loads((folder / "model_index.json").read_text())
    del index["sha256"]
    (folder / "model_index.json").write_text(json.dumps(index))


# Model folders damaged but not corrupt, for every command that reads one (one reader, one check).
for model, culprit in MODEL_CULPRITS.items():
    case(f"generate Hello --motion wave --steps 2 --out {{w}}/new/g.gif --model {{w}}/{model}".split(), culprit)
    case(f"eval model --model {{w}}/{model} --n 1 --steps 2 --out {{w}}/new/ev".split(), culprit)
    case(f"{TRAIN} --shards synthetic --stage video --init {{w}}/{model} --dry-run".split(), culprit)


# --- round three: hostile variants of the classes above ----------------------------------------------
# Each a variant the table above does not hold, in the classes of the reliability issues: model
# folders damaged but not corrupt, training configs that pass a first look, foreign data, numbers
# without a ceiling, template files, the Python API.

DEEP = "[" * 100_000 + "]" * 100_000  # deeper than any recursive reader's stack


def _index(**changes):
    return _json_edit("model_index.json", **changes)


def _index_without(key: str):
    def change(folder: Path) -> None:
        data = json.loads((folder / "model_index.json").read_text())
        del data[key]
        (folder / "model_index.json").write_text(json.dumps(data))
    return change


def _sha_edit(edit):
    def change(folder: Path) -> None:
        data = json.loads((folder / "model_index.json").read_text())
        data["sha256"] = edit(data["sha256"])
        (folder / "model_index.json").write_text(json.dumps(data))
    return change


def _raw_json(file: str, key: str, literal: str):
    """``key``'s value written as ``literal`` (NaN, a deep list): text no JSON writer makes."""
    def change(folder: Path) -> None:
        data = json.loads((folder / file).read_text())
        data[key] = "@@"
        (folder / file).write_text(json.dumps(data).replace('"@@"', literal))
    return change


def _not_a_file(file: str, kind: str):
    def change(folder: Path) -> None:
        (folder / file).unlink()
        if kind == "dir":
            (folder / file).mkdir()
        elif kind == "fifo":
            os.mkfifo(folder / file)
    return change


def _weights(file: str, edit):
    def change(folder: Path) -> None:
        from safetensors.torch import load_file, save_file

        state = load_file(folder / file)
        edit(state)
        save_file(state, folder / file)
    return change


def _first(edit):
    return lambda state: state.__setitem__(sorted(state)[0], edit(state[sorted(state)[0]]))


def _cut_weights(file: str, keep: float = 0.5, extra: bytes = b""):
    """The header whole, the data cut to ``keep`` of it (a copy the disk cut short), or ``extra`` appended."""
    def change(folder: Path) -> None:
        raw = (folder / file).read_bytes()
        start = 8 + int.from_bytes(raw[:8], "little")
        (folder / file).write_bytes(raw[: start + int((len(raw) - start) * keep)] + extra)
    return change


def _header_edit(file: str, edit):
    def change(folder: Path) -> None:
        raw = (folder / file).read_bytes()
        size = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + size])
        edit(header)
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        (folder / file).write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + size:])
    return change


def _extra_weights_file(listed: bool):
    def change(folder: Path) -> None:
        shutil.copy(folder / "text_encoder" / "model.safetensors", folder / "denoiser" / "extra.safetensors")
    return change


AE, DEN, TXT = "autoencoder/config.json", "denoiser/config.json", "text_encoder/config.json"
AE_W, DEN_W, TXT_W = "autoencoder/diffusion_pytorch_model.safetensors", "denoiser/model.safetensors", "text_encoder/model.safetensors"


def _bigger(t):
    import torch

    return torch.zeros(t.shape[0] + 1, *t.shape[1:]) if t.dim() else torch.zeros(2)


# name: (damage, culprit named on stderr). Digests are re-recorded after the damage (as a re-export
# would record them) except in HOSTILE_RAW_INDEX, whose index stays as the damage left it.
HOSTILE_MODELS = {
    # model_index.json
    "m_no_format": (_index_without("format"), "format"), "m_version": (_index(version=99), "version"),
    "m_stage_int": (_index(stage=3), "stage"), "m_text_kind": (_index(text_encoder="nope"), "text_encoder"),
    "m_text_clip": (_index(text_encoder="clip"), "text_encoder"), "m_no_objective": (_index_without("objective"), "objective"),
    "m_size_float": (_index(size_px=32.0), "size_px"), "m_size_bool": (_index(size_px=True), "size_px"),
    "m_size_neg": (_index(size_px=-32), "size_px"), "m_size_36": (_index(size_px=36), "size_px"),
    "m_frames_str": (_index(num_frames="4"), "num_frames"), "m_frames_0": (_index(num_frames=0), "num_frames"),
    "m_frames_over": (_index(num_frames=33), "num_frames"), "m_frames_1000": (_index(num_frames=1000), "num_frames"),
    "m_no_frames": (_index_without("num_frames"), "num_frames"), "m_fps_float": (_index(fps=8.5), "fps"),
    "m_fps_huge": (_index(fps=10**9), "fps"), "m_no_fps": (_index_without("fps"), "fps"),
    "m_comp_empty": (_index(components=[]), "components"),
    "m_comp_no_ae": (_index(components=["text_encoder", "denoiser"]), "components"),
    "m_comp_no_text": (_index(components=["autoencoder", "denoiser"]), "text_encoder"),
    "m_comp_unknown": (_index(components=["autoencoder", "text_encoder", "denoiser", "vocoder"]), "vocoder"),
    "m_comp_twice": (_index(components=["autoencoder", "autoencoder", "text_encoder", "denoiser"]), "components"),
    "m_comp_ints": (_index(components=[1, 2]), "components"), "m_comp_table": (_index(components={"autoencoder": 1}), "components"),
    "m_no_components": (_index_without("components"), "components"),
    "m_sha_int": (_sha_edit(lambda d: {**d, DEN_W: 1}), "sha256"), "m_sha_str": (_index(sha256="abc"), "sha256"),
    "m_sha_empty": (_index(sha256={}), "not listed"), "m_sha_short": (_sha_edit(lambda d: {**d, DEN_W: "ab12"}), "sha256"),
    "m_sha_outside": (_sha_edit(lambda d: {**d, "../model/" + DEN_W: d[DEN_W]}), "../model"),
    "m_sha_absolute": (_sha_edit(lambda d: {**d, "/etc/hostname": "0" * 64}), "/etc/hostname"),
    "m_sha_missing": (_sha_edit(lambda d: {**d, "denoiser/gone.safetensors": "0" * 64}), "gone.safetensors"),
    "m_sha_folder": (_sha_edit(lambda d: {**d, "denoiser": "0" * 64}), "denoiser"),
    "m_sha_null": (_index(sha256=None), "sha256"),
    "m_noise_str": (_index(noise="mixed"), "noise"),
    "m_noise_corr": (_index(noise={"kind": "mixed", "correlation": 1.5}), "correlation"),
    "m_noise_kind": (_index(noise={"kind": "brown", "correlation": 0.5}), "brown"),
    "m_noise_key": (_index(noise={"kind": "independent", "correlation": 0.0, "seed": 1}), "seed"),
    "m_noise_inf": (_raw_json("model_index.json", "noise", '{"kind": "mixed", "correlation": 1e400}'), "correlation"),
    "m_nan_fps": (_raw_json("model_index.json", "fps", "NaN"), "NaN"),
    "m_deep_index": (_raw_json("model_index.json", "extra", DEEP), "model_index.json"),
    "m_index_list": (_text("model_index.json", "[]"), "model_index.json"),
    "m_index_dir": (_not_a_file("model_index.json", "dir"), "model_index.json"),
    "m_index_fifo": (_not_a_file("model_index.json", "fifo"), "model_index.json"),
    # denoiser/config.json
    "d_channels_str": (_json_edit(DEN, channels=[32, "64"]), "channels"), "d_channels_0": (_json_edit(DEN, channels=[0, 64]), "channels"),
    "d_channels_int": (_json_edit(DEN, channels=64), "channels"), "d_channels_3": (_json_edit(DEN, channels=[32, 64, 64]), "channels"),
    "d_attention_long": (_json_edit(DEN, attention_levels=[True, True, True]), "attention_levels"),
    "d_head_0": (_json_edit(DEN, head_dim=0), "head_dim"), "d_head_neg": (_json_edit(DEN, head_dim=-16), "head_dim"),
    "d_groups_0": (_json_edit(DEN, norm_groups=0), "norm_groups"), "d_ff_0": (_json_edit(DEN, ff_mult=0), "ff_mult"),
    "d_layers_0": (_json_edit(DEN, layers_per_level=0), "layers_per_level"),
    "d_layers_huge": (_json_edit(DEN, layers_per_level=10**6), "layers_per_level"),
    "d_max_frames_0": (_json_edit(DEN, max_frames=0), "max_frames"),
    "d_max_frames_huge": (_json_edit(DEN, max_frames=10**12), "max_frames"),
    "d_glyph_str": (_json_edit(DEN, glyph_channels="yes"), "glyph_channels"),
    "d_latent_8": (_json_edit(DEN, latent_channels=8), "latent_channels"),
    "d_context_3": (_json_edit(DEN, context_dim=3), "context_dim"),
    "d_nan": (_raw_json(DEN, "head_dim", "NaN"), "NaN"), "d_deep": (_raw_json(DEN, "channels", DEEP), DEN),
    "d_dir": (_not_a_file(DEN, "dir"), DEN), "d_fifo": (_not_a_file(DEN, "fifo"), DEN),
    "d_missing": (_not_a_file(DEN, "none"), DEN), "d_empty": (_text(DEN, ""), DEN),
    # text_encoder/config.json
    "t_kind_clip": (_json_edit(TXT, kind="clip"), "kind"), "t_width_0": (_json_edit(TXT, width=0), "width"),
    "t_width_odd": (_json_edit(TXT, width=65), "width"), "t_depth_0": (_json_edit(TXT, depth=0), "depth"),
    "t_depth_huge": (_json_edit(TXT, depth=10**6), "depth"), "t_tokens_0": (_json_edit(TXT, max_tokens=0), "max_tokens"),
    "t_tokens_huge": (_json_edit(TXT, max_tokens=10**12), "max_tokens"), "t_heads_neg": (_json_edit(TXT, heads=-2), "heads"),
    "t_missing": (_not_a_file(TXT, "none"), TXT), "t_list": (_text(TXT, "[]"), TXT), "t_fifo": (_not_a_file(TXT, "fifo"), TXT),
    # autoencoder/config.json (a diffusers AutoencoderKL)
    "a_channels_str": (_json_edit(AE, block_out_channels="abc"), "block_out_channels"),
    "a_channels_empty": (_json_edit(AE, block_out_channels=[]), "block_out_channels"),
    "a_layers_str": (_json_edit(AE, layers_per_block="1"), "layers_per_block"),
    "a_layers_float": (_json_edit(AE, layers_per_block=1.5), "layers_per_block"),
    "a_latent_0": (_json_edit(AE, latent_channels=0), "latent_channels"),
    "a_groups_0": (_json_edit(AE, norm_num_groups=0), "norm_num_groups"),
    "a_groups_5": (_json_edit(AE, norm_num_groups=5), "norm_num_groups"),
    "a_scaling_str": (_json_edit(AE, scaling_factor="x"), "scaling_factor"),
    "a_scaling_nan": (_raw_json(AE, "scaling_factor", "NaN"), "NaN"),
    "a_scaling_0": (_json_edit(AE, scaling_factor=0), "scaling_factor"),
    "a_in_channels": (_json_edit(AE, in_channels=4), "in_channels"),
    "a_act": (_json_edit(AE, act_fn="nope"), "act_fn"),
    "a_blocks": (_json_edit(AE, down_block_types=["Nope", "Nope", "Nope"]), "down_block_types"),
    "a_deep": (_raw_json(AE, "block_out_channels", DEEP), AE), "a_dir": (_not_a_file(AE, "dir"), AE),
    "a_fifo": (_not_a_file(AE, "fifo"), AE),
    # weights: dtypes, shapes, names and lengths against the configs, for every component
    "w_text_bool": (_weights(TXT_W, _first(lambda t: t > 0)), "BOOL"),
    "w_ae_u8": (_weights(AE_W, _first(lambda t: t.to(__import__("torch").uint8))), "U8"),
    "w_den_shape": (_weights(DEN_W, _first(_bigger)), "shape"),
    "w_ae_shape": (_weights(AE_W, _first(_bigger)), "shape"),
    "w_ae_extra": (_weights(AE_W, lambda s: s.__setitem__("extra.weight", s[sorted(s)[0]].clone())), "extra.weight"),
    "w_ae_missing": (_weights(AE_W, lambda s: s.pop(sorted(s)[-1])), "missing"),
    "w_text_missing": (_weights(TXT_W, lambda s: s.pop(sorted(s)[-1])), "missing"),
    "w_ae_cut": (_cut_weights(AE_W), "diffusion_pytorch_model.safetensors"),
    "w_den_cut": (_cut_weights(DEN_W), DEN_W), "w_text_cut": (_cut_weights(TXT_W, 0.9), TXT_W),
    "w_den_long": (_cut_weights(DEN_W, 1.0, b"\0" * 64), DEN_W),
    "w_ae_offsets": (_header_edit(AE_W, lambda h: h[sorted(k for k in h if k != "__metadata__")[0]].__setitem__(
        "data_offsets", [0, 4])), "diffusion_pytorch_model.safetensors"),
    "w_extra_file": (_extra_weights_file(True), "extra.safetensors"),
    "w_fifo_file": (lambda f: os.mkfifo(f / "denoiser" / "extra.safetensors"), "extra.safetensors"),
    "w_dir_file": (lambda f: (f / "denoiser" / "extra.safetensors").mkdir(), "extra.safetensors"),
}
HOSTILE_RAW_INDEX = {"m_sha_int", "m_sha_str", "m_sha_empty", "m_sha_short", "m_sha_outside", "m_sha_absolute",
                     "m_sha_missing", "m_sha_folder", "m_sha_null", "m_index_list", "m_index_dir", "m_index_fifo",
                     "m_deep_index", "m_nan_fps", "w_fifo_file", "w_dir_file"}

HOSTILE_CONFIGS = {
    # name: (TOML bytes, culprit)
    "h_bom_bad": ("\ufeff[optim]\nlr = \"fast\"\n".encode(), "optim.lr"),
    "h_utf16": ("[optim]\nlr = 0.001\n".encode("utf-16"), "UTF-8"),
    "h_deep_tables": (("[" + ".".join(["a"] * 40) + "]\nx = 1\n").encode(), "nested too deeply"),
    "h_deep_inline": (("a = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n").encode(), "nested too deeply"),
    "h_nul": (b"[optim]\nlr = 0.001\x00\n", "h_nul.toml"),
    "h_batch_huge": (b"[data]\nbatch_size = 1000000000\n", "data.batch_size"),
    "h_workers_huge": (b"[data]\nnum_workers = 100000\n", "data.num_workers"),
    "h_buffer_huge": (b"[data]\nshuffle_buffer = 1000000000000\n", "data.shuffle_buffer"),
    "h_size_huge": (b"[data]\nsize_px = 1048576\n", "data.size_px"),
    "h_frames_huge": (b"[data]\nnum_frames = 100000\n[model.denoiser]\nmax_frames = 100000\n", "num_frames"),
    "h_max_frames_huge": (b"[model.denoiser]\nmax_frames = 1000000000000\n", "max_frames"),
    "h_layers_huge": (b"[model.denoiser]\nlayers_per_level = 1000000\n", "layers_per_level"),
    "h_depth_huge": (b"[model.text]\ndepth = 10000000\n", "depth"),
    "h_width_huge": (b"[model.text]\nwidth = 1099511627776\nheads = 1\n", "width"),
    "h_channels_huge": (b"[model.denoiser]\nchannels = [1099511627776, 1099511627776]\n", "channels"),
    "h_tokens_huge": (b"[model.text]\nmax_tokens = 1000000000000\n", "max_tokens"),
    "h_steps_huge": (b"[optim]\nmax_steps = 4611686018427387904\n", "max_steps"),
    "h_accum_huge": (b"[optim]\ngrad_accum_steps = 1000000000\n", "grad_accum_steps"),
    "h_log_huge": (b"log_every = 4611686018427387904\n", "log_every"),
    "h_keep_huge": (b"keep_checkpoints = 1000000000\n", "keep_checkpoints"),
    "h_prompts_huge": (b"num_val_prompts = 1000000000\n", "num_val_prompts"),
    "h_minutes_inf": (b"[optim]\nmax_minutes = inf\n", "max_minutes"),
    "h_lr_nan": (b"[optim]\nlr = nan\n", "optim.lr"),
    "h_clip_nan": (b"[optim]\ngrad_clip = nan\n", "grad_clip"),
    "h_glyph_clips_huge": (b"[loss]\nglyph_clips = 1000000000\n", "glyph_clips"),
    "h_ae_latent_huge": (b"[model.autoencoder]\nlatent_channels = 1000000000\n", "latent_channels"),
    "h_ae_layers_huge": (b"[model.autoencoder]\nlayers_per_block = 1000000\n", "layers_per_block"),
    "h_ff_huge": (b"[model.denoiser]\nff_mult = 1000000000\n", "ff_mult"),
    "h_head_huge": (b"[model.denoiser]\nhead_dim = 1000000000000\n", "head_dim"),
    "h_ff_0": (b"[model.denoiser]\nff_mult = 0\n", "ff_mult"),
    "h_scaling_0": (b"[model.autoencoder]\nscaling_factor = 0.0\n", "scaling_factor"),
    "h_scaling_nan": (b"[model.autoencoder]\nscaling_factor = nan\n", "scaling_factor"),
    "h_ae_kind": (b"[model.autoencoder]\nkind = \"glyph\"\nblock_out_channels = [8, 16]\nnorm_num_groups = 3\nglyph_norm = true\n",
                  "num_groups"),
    "h_text_width_heads": (b"[model.text]\nwidth = 10\nheads = 4\n", "model.text.width"),
    "h_stage_array": (b"[[stages]]\nx = 1\n", "stages"),
    "h_stage_list": (b"[stages]\nvideo = [1, 2]\n", "stages.video"),
    "h_stage_optim_int": (b"[stages.video]\noptim = 3\n", "stages.video"),
    "h_stage_bad_value": (b"[stages.video.optim]\nlr = \"fast\"\n", "stages.video"),
    "h_stage_other_bad": (b"[stages.image.optim]\nmax_steps = 0\n", "stages.image"),
    "h_stage_other_unknown": (b"[stages.autoencoder.optim]\nspeed = 3\n", "stages.autoencoder"),
    "h_stage_nested": (b"[stages.video.stages.image]\noptim = 1\n", "stages.video.stages"),
    "h_stage_in_stage": (b"[stages.video]\nstage = \"image\"\n", "stages.video.stage"),
    "h_noise_bad": (b"[model.noise]\nkind = \"mixed\"\ncorrelation = 1.0\n", "correlation"),
    "h_fps_0": (b"fps = 0\n", "fps"),
    "h_seed_neg": (b"seed = -1\n", "seed"),
}

HOSTILE_TEMPLATES = {
    "tpl_bom_bad": (("\ufeff[[template]]\nid = \"x-y\"\ndescription = \"d\"\nmotion_tag = \"m\"\n"
                    "[template.enter]\nmotion = \"nope\"\n").encode(), "nope"),
    "tpl_deep_tables": (("[" + ".".join(["a"] * 40) + "]\nx = 1\n").encode(), "nested too deeply"),
    "tpl_deep_inline": (("a = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n").encode(), "nested too deeply"),
    "tpl_utf16": ("[[template]]\nid = \"x\"\n".encode("utf-16"), "UTF-8"),
    "tpl_neg_int": (b'[[template]]\nid = "x-y"\ndescription = "d"\nmotion_tag = "m"\n[template.enter]\nmotion = "fly"\n'
                    b"duration = -99999999999999999999999\n", "duration"),
    "tpl_nan": (b'[[template]]\nid = "x-y"\ndescription = "d"\nmotion_tag = "m"\n[template.enter]\nmotion = "fly"\n'
                b"duration = nan\n", "duration"),
    "tpl_template_table": (b'template = 3\n', "template"),
}


def _hostile_world(root: Path, ds: Path) -> None:
    """Model folders, configs, datasets and template folders for the round-three variants."""
    from kinetype.model.weights import digests

    for name, (change, _) in HOSTILE_MODELS.items():
        shutil.copytree(root / "model", root / name)
        change(root / name)
        if name not in HOSTILE_RAW_INDEX:
            index = json.loads((root / name / "model_index.json").read_text())
            index["sha256"] = digests(root / name)
            (root / name / "model_index.json").write_text(json.dumps(index))
    for name, (raw, _) in HOSTILE_CONFIGS.items():
        (root / f"{name}.toml").write_bytes(raw)
    os.mkfifo(root / "cfg_fifo.toml")
    (root / "cfg_dir.toml").mkdir()
    for name, (raw, _) in HOSTILE_TEMPLATES.items():
        (root / name).mkdir()
        (root / name / "t.toml").write_bytes(raw)
    (root / "tpl_fifo").mkdir()
    os.mkfifo(root / "tpl_fifo" / "t.toml")
    (root / "tpl_dir").mkdir()
    (root / "tpl_dir" / "t.toml").mkdir()
    for name, (change, _, _) in HOSTILE_DATASETS.items():
        shutil.copytree(ds, root / name)
        change(root / name)


def _stats(shard: int, **changes):
    return _json_edit(f"shard-{shard:06d}.stats.json", **changes)


def _render_config(**changes):
    def change(folder: Path) -> None:
        record = json.loads((folder / "render_config.json").read_text())
        record["config"].update(changes)
        (folder / "render_config.json").write_text(json.dumps(record))
    return change


def _no_valid_sample(folder: Path) -> None:
    """Every shard a well-formed tar of samples that are not kinetype's (foreign data)."""
    import tarfile

    for tar in folder.glob("shard-*.tar"):
        with tarfile.open(tar, "w") as out:
            for i in range(4):
                data = f"not a clip {i}".encode()
                info = tarfile.TarInfo(f"s{i:09d}.txt")
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))


def _sample_count(shard: int, keep: int | None = None, extra: bool = False):
    """A shard tar holding ``keep`` of its samples, or one more (a copy of its first under a new key)."""
    def change(folder: Path) -> None:
        import tarfile

        tar = folder / f"shard-{shard:06d}.tar"
        with tarfile.open(tar) as f:
            members = [(m, f.extractfile(m).read()) for m in f.getmembers()]
        keys = sorted({m.name.split(".", 1)[0] for m, _ in members})
        chosen = keys[:keep] if keep is not None else keys
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as out:
            for m, data in members:
                if m.name.split(".", 1)[0] in chosen:
                    out.addfile(m, io.BytesIO(data))
            if extra:
                for m, data in members:
                    if m.name.startswith(keys[0] + "."):
                        m2 = tarfile.TarInfo("s999999999." + m.name.split(".", 1)[1])
                        m2.size = len(data)
                        out.addfile(m2, io.BytesIO(data))
        tar.write_bytes(buf.getvalue())
    return change


# name: (damage, culprit, exit codes of `shards verify`)
HOSTILE_DATASETS = {
    "dsh_stats_list": (_text("shard-000000.stats.json", "[1, 2]"), "shard-000000.stats.json", (1, 4)),
    "dsh_stats_null": (_text("shard-000000.stats.json", "null"), "shard-000000.stats.json", (1, 4)),
    "dsh_stats_nan": (_raw_json("shard-000000.stats.json", "samples", "NaN"), "shard-000000.stats.json", (1, 4)),
    "dsh_stats_neg": (_stats(0, samples=-1), "shard-000000.stats.json", (1, 4)),
    "dsh_stats_huge": (_stats(0, samples=10**12), "shard-000000.stats.json", (1, 4)),
    "dsh_stats_bool": (_stats(0, samples=True), "shard-000000.stats.json", (1, 4)),
    "dsh_stats_deep": (_raw_json("shard-000000.stats.json", "failures", DEEP), "shard-000000.stats.json", (1, 4)),
    "dsh_stats_failures_str": (_stats(0, failures="x"), "shard-000000.stats.json", (1, 4)),
    "dsh_stats_failures_obj": (_stats(0, failures=[{"nokey": 1}]), "shard-000000.stats.json", (1, 4)),
    "dsh_stats_sha_int": (_stats(0, tar_sha256=5), "shard-000000.stats.json", (1, 4)),
    "dsh_stats_fifo": (_not_a_file("shard-000000.stats.json", "fifo"), "shard-000000.stats.json", (1, 2, 3, 4)),
    "dsh_stats_dir": (_not_a_file("shard-000000.stats.json", "dir"), "shard-000000.stats.json", (1, 2, 3, 4)),
    "dsh_cfg_fifo": (_not_a_file("render_config.json", "fifo"), "render_config.json", USER),
    "dsh_cfg_dir": (_not_a_file("render_config.json", "dir"), "render_config.json", USER),
    "dsh_cfg_n_str": (_render_config(n="8"), "render_config.json", USER),
    "dsh_cfg_n_neg": (_render_config(n=-1), "render_config.json", USER),
    "dsh_cfg_n_float": (_render_config(n=8.5), "render_config.json", USER),
    "dsh_cfg_n_0": (_render_config(n=0), "render_config.json", USER),
    "dsh_cfg_shard_0": (_render_config(shard_size=0), "render_config.json", USER),
    "dsh_cfg_shard_huge": (_render_config(shard_size=10**12), "render_config.json", USER),
    "dsh_cfg_shard_float": (_render_config(shard_size=4.0), "render_config.json", USER),
    "dsh_cfg_size": (_render_config(size=15), "render_config.json", USER),
    "dsh_cfg_frames": (_render_config(num_frames="8"), "render_config.json", USER),
    "dsh_cfg_no_config": (_json_edit("render_config.json", config=None), "render_config.json", USER),
    "dsh_cfg_deep": (_raw_json("render_config.json", "extra", DEEP), "render_config.json", USER),
    "dsh_cfg_nan": (_raw_json("render_config.json", "config", '{"n": NaN}'), "render_config.json", USER),
    "dsh_cfg_empty": (_text("render_config.json", ""), "render_config.json", USER),
    "dsh_no_valid": (_no_valid_sample, "shard-000000.tar", (1,)),
    "dsh_one_more": (_sample_count(0, extra=True), "shard-000000.tar", (1,)),
    "dsh_one_less": (_sample_count(1, keep=3), "shard-000001.tar", (1, 3, 4)),
    "dsh_manifest_fifo": (_not_a_file("manifest.parquet", "fifo"), "manifest.parquet", (1, 2)),
    "dsh_parquet_fifo": (_not_a_file("shard-000000.parquet", "fifo"), "shard-000000.parquet", (1, 2)),
    "dsh_card_fifo": (_not_a_file("dataset_card.json", "fifo"), "dataset_card.json", (1, 2)),
    "dsh_tar_dir": (_not_a_file("shard-000001.tar", "dir"), "shard-000001.tar", (1, 2, 3, 4)),
}

for model, (_, culprit) in HOSTILE_MODELS.items():
    case(f"generate Hello --motion wave --steps 2 --out {{w}}/new/g.gif --model {{w}}/{model}".split(), culprit)
    case(f"eval model --model {{w}}/{model} --n 1 --steps 2 --out {{w}}/new/ev".split(), culprit)
    case(f"{TRAIN} --shards synthetic --stage video --init {{w}}/{model} --dry-run".split(), culprit)
for name, (_, culprit) in HOSTILE_CONFIGS.items():
    for extra in ("", " --dry-run"):
        case(f"{TRAIN} --shards synthetic --config {{w}}/{name}.toml{extra}".split(), culprit)
for name in ("cfg_fifo", "cfg_dir"):
    for extra in ("", " --dry-run"):
        case(f"{TRAIN} --shards synthetic --config {{w}}/{name}.toml{extra}".split(), f"{name}.toml")
for name, culprit in [*((n, c) for n, (_, c) in HOSTILE_TEMPLATES.items()), ("tpl_fifo", "t.toml"), ("tpl_dir", "t.toml")]:
    case(f"templates list --templates {{w}}/{name}".split(), culprit)
    case(f"templates validate {{w}}/{name}".split(), culprit, (1, 2))
    case(f"render --templates {{w}}/{name} --n 4 --out {{w}}/new/ds --quiet {' '.join(TINY)}".split(), culprit)
    case(f"preview --random --templates {{w}}/{name} --out {{w}}/new/p.gif".split(), culprit)
for name, (_, culprit, codes) in HOSTILE_DATASETS.items():
    case(f"shards verify {{w}}/{name}".split(), culprit, codes)
    case(f"shards verify {{w}}/{name} --workers 2".split(), culprit, codes)
    case(f"shards inspect {{w}}/{name} --sheet {{w}}/keep.png".split(), culprit)
    case(f"export {{w}}/{name} {{w}}/new/export".split(), culprit)
    case(f"{TRAIN} --shards {{w}}/{name} --max-steps 1".split(), culprit)
# Numbers with a ceiling, every one named.
for cmd, opt, values in [
        (GEN + " --out {w}/new/g.gif", "--guidance", ["1e300", "1000001", "-0.5"]),
        (GEN + " --out {w}/new/g.gif", "--mg", ["nan", "-1", "1e9", "inf"]),
        (GEN + " --out {w}/new/g.gif", "--steps", ["10001", "1000000000"]),
        (GEN + " --out {w}/new/g.gif", "--frames", ["33", "1000000000"]),
        (GEN + " --out {w}/new/g.gif", "--verify", ["0", "-1", "1000000000"]),
        ("eval model --model {w}/model --n 1 --out {w}/new/ev", "--guidance", ["nan", "1e300"]),
        ("eval model --model {w}/model --n 1 --out {w}/new/ev", "--mg", ["nan", "-1", "1e9"]),
        ("eval model --model {w}/model --n 1 --out {w}/new/ev", "--steps", ["0", "10001"]),
        ("eval model --model {w}/model --n 1 --out {w}/new/ev", "--workers", ["0", "-1", "100000"]),
        ("eval renders --n 2 --out {w}/new/ev", "--workers", ["0", "-1", "100000"]),
        ("eval renders --out {w}/new/ev", "--n", ["1000000001", "10000000000"]),
        ("eval model --model {w}/model --out {w}/new/ev", "--n", ["1000000001"]),
        (RENDER, "--num-shards", ["1000000001", "10000000000"]),
        (RENDER, "--workers", ["100000", "10000000000"]),
        ("shards inspect {w}/ds --sheet {w}/new/s.png", "--samples", ["1001", "10000000000"]),
        ("shards verify {w}/ds", "--workers", ["100000", "10000000000"]),
        (SHEET, "--per-sheet", ["1001", "10000000000"]),
        (SHEET, "--seed", ["4294967296", "18446744073709551616"]),
        ("shards inspect {w}/ds --sheet {w}/new/s.png", "--seed", ["4294967296", "18446744073709551616"]),
        (TRAIN + " --shards synthetic", "--max-steps", ["-1", "4611686018427387904"]),
        (TRAIN + " --shards synthetic", "--minutes", ["nan", "-1", "inf", "1e300"]),
        (TRAIN + " --shards synthetic", "--seed", ["-1"])]:
    for v in values:
        case(f"{cmd} {opt} {v}".split(), opt.lstrip("-").replace("-", "_") if cmd.startswith(TRAIN) else opt)


def test_the_table_is_large():
    assert len(CASES) >= 350, len(CASES)


@pytest.mark.parametrize("args,culprit,codes", CASES, ids=[" ".join(a)[:90] for a, _, _ in CASES])
def test_bad_input(world, args, culprit, codes):
    _check_bad_input(world, args, culprit, codes)


def _check_bad_input(world, args, culprit, codes):
    args = [a.replace("{w}", str(world)) for a in args]
    before = snapshot(world)
    result = runner.invoke(app, args)
    after = snapshot(world)
    stderr = result.stderr.strip()
    assert result.exit_code in codes, (result.exit_code, result.output)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert len(stderr.splitlines()) == 1, stderr
    assert culprit.lower() in stderr.lower() or culprit.lower() in result.stdout.lower(), stderr
    if codes == USER:
        assert culprit.lower() in stderr.lower(), stderr
    assert {k: v for k, v in after.items() if k in before} == before, "a file that existed was changed"
    new = set(after) - set(before)
    assert not new, f"a failed command left files: {sorted(new)[:5]}"


# --- the Python API: the CLI's rules, in one line, before any work ------------------------------------


def _api_cases():
    """(name, call(world, templates) -> None, words the one-line message must hold)."""
    def render(*args, **kw):
        def call(world, templates):
            from kinetype.render import render_clip

            render_clip(*[templates[0] if a is T else a for a in args], **{"num_frames": 2, **kw})
        return call

    def pipe(*args, **kw):
        def call(world, templates):
            from kinetype.pipeline import load_pipeline

            load_pipeline(world / "model")(*args, **{"steps": 1, **kw})
        return call

    def dataset(**kw):
        def call(world, templates):
            from kinetype.data import ShardDataset

            args = {"shards": str(world / "ds"), **kw}
            if isinstance(args["shards"], str):
                args["shards"] = args["shards"].replace("{w}", str(world))
            ShardDataset(**args)
        return call

    def load(model):
        def call(world, templates):
            from kinetype.pipeline import load_pipeline

            load_pipeline(model.replace("{w}", str(world)) if isinstance(model, str) else model)
        return call

    import numpy as np

    one = (["a static caption"], ["a dynamic caption"], ["H^|i"])
    return [
        ("render_clip: template a string", render("drop-bounce-in-ltr", "Hi", 0), ["template", "str"]),
        ("render_clip: seed a string", render(T, "Hi", "3"), ["seed", "'3'"]),
        ("render_clip: seed a float", render(T, "Hi", 1.5), ["seed", "1.5"]),
        ("render_clip: seed negative", render(T, "Hi", -1), ["seed", "-1"]),
        ("render_clip: seed 2^64", render(T, "Hi", 2**64), ["seed", str(2**64)]),
        ("render_clip: size a string", render(T, "Hi", 0, size="64"), ["--size", "'64'"]),
        ("render_clip: size a float", render(T, "Hi", 0, size=64.0), ["--size", "64.0"]),
        ("render_clip: size True", render(T, "Hi", 0, size=True), ["--size", "True"]),
        ("render_clip: word bytes", render(T, b"Hi", 0), ["word"]),
        ("render_clip: frames 0", render(T, "Hi", 0, num_frames=0), ["--frames", "0"]),
        ("pipeline: static a string", pipe("a", ["b"], ["c"]), ["static", "str"]),
        ("pipeline: captions of different lengths", pipe(["a", "b"], ["b"], ["c"]), ["dynamic", "1 item"]),
        ("pipeline: a caption not a string", pipe([1], ["b"], ["c"]), ["static", "1"]),
        ("pipeline: no captions", pipe([], [], []), ["static", "empty"]),
        ("pipeline: steps 0", pipe(*one, steps=0), ["steps", "0"]),
        ("pipeline: steps a float", pipe(*one, steps=2.5), ["steps", "2.5"]),
        ("pipeline: guidance nan", pipe(*one, guidance=float("nan")), ["guidance", "nan"]),
        ("pipeline: seed -1", pipe(*one, seed=-1), ["seed", "-1"]),
        ("pipeline: sampler unknown", pipe(*one, sampler="nope"), ["sampler", "nope"]),
        ("pipeline: frames 0", pipe(*one, num_frames=0), ["num_frames", "0"]),
        ("pipeline: frames beyond the model", pipe(*one, num_frames=10_000), ["num_frames", "10000"]),
        ("pipeline: masks of the wrong shape", pipe(*one, np.zeros((1, 2, 3))), ["glyph_masks", "(1, 2, 3)"]),
        ("pipeline: masks of strings", pipe(*one, np.full((1, 4, 32, 32), "x")), ["glyph_masks"]),
        ("load_pipeline: a number", load(3), ["model", "int"]),
        ("load_pipeline: a damaged folder", load("{w}/model_int_weights"), ["I32"]),
        ("ShardDataset: shards a number", dataset(shards=3), ["shards", "int"]),
        ("ShardDataset: frame_stride 0", dataset(frame_stride=0), ["frame_stride", "0"]),
        ("ShardDataset: num_frames a float", dataset(num_frames=2.5), ["num_frames", "2.5"]),
        ("ShardDataset: seed negative", dataset(seed=-1), ["seed", "-1"]),
        ("ShardDataset: a FIFO shard", dataset(shards="{w}/ds_fifo"), ["FIFO"]),
    ]


T = object()  # stands for the first bundled template
API_CASES = _api_cases()


@pytest.mark.parametrize("name,call,words", API_CASES, ids=[c[0] for c in API_CASES])
def test_the_python_api_checks_its_arguments_as_the_cli_does(world, templates, name, call, words):
    from kinetype.errors import KinetypeError

    before = snapshot(world)
    with pytest.raises(KinetypeError) as e:
        call(world, templates)
    message = str(e.value)
    assert "\n" not in message and all(w.lower() in message.lower() for w in words), message
    assert snapshot(world) == before


# --- faults beyond the table --------------------------------------------------------------------------


def test_garbage_manifest_is_one_line_in_inspect_and_verify(world):
    result = runner.invoke(app, ["shards", "verify", str(world / "ds_garbage_manifest")])
    assert result.exit_code == 1 and "ArrowInvalid" not in result.output and "not a readable parquet" in result.output


def test_inspect_shows_a_truncated_dataset_and_fails_naming_the_shard(world):
    result = runner.invoke(app, ["shards", "inspect", str(world / "ds_truncated")])
    assert result.exit_code == 2  # the summary is shown; the status does not call the dataset sound
    text = " ".join(result.stdout.split())
    assert "1 of 2 complete" in text and "damaged" in text and "shard-000001.tar" in text
    assert len(result.stderr.splitlines()) == 1 and "ds_truncated: shard-000001.tar is 20480 bytes" in result.stderr


def test_old_dataset_without_checksums_verifies_with_a_note(world, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(world / "ds", old)
    for stats in old.glob("*.stats.json"):
        record = json.loads(stats.read_text())
        record.pop("parquet_sha256")
        stats.write_text(json.dumps(record))
    card = json.loads((old / "dataset_card.json").read_text())
    card.pop("manifest_sha256")
    (old / "dataset_card.json").write_text(json.dumps(card))
    table = pq.read_table(old / "manifest.parquet").replace_schema_metadata(None)
    pq.write_table(table, old / "manifest.parquet")
    result = runner.invoke(app, ["shards", "verify", str(old)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "no checksum recorded (older dataset)" in text and "no shard checksums (older dataset)" in text


def test_loader_counts_every_sample_a_truncated_shard_lost(world):
    """A dataset folder with a truncated shard is refused before training (its tar is not the size
    its stats record); shards named by a pattern are read, and every lost sample counted."""
    from kinetype.data import ShardDataset

    with pytest.raises(KinetypeError, match="shard-000001.tar is 20480 bytes, its stats say"):
        ShardDataset(str(world / "ds_truncated"))
    ds = ShardDataset(str(world / "ds_truncated" / "shard-*.tar"))
    keys = [s["__key__"] for s in ds]
    assert len(keys) + ds.skipped == 8, (keys, ds.skipped)
    assert ds.skipped >= 2


def test_export_is_whole_and_never_overwrites(world, tmp_path):
    out = tmp_path / "export"
    assert runner.invoke(app, ["export", str(world / "ds"), str(out)]).exit_code == 0
    first = snapshot(out)
    result = runner.invoke(app, ["export", str(world / "ds"), str(out)])
    assert result.exit_code == 2 and "already exists" in result.stderr and snapshot(out) == first
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_ctrl_c_message_fits_the_command(world, monkeypatch):
    import kinetype.shards

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(kinetype.shards, "render_dataset", interrupted)
    result = runner.invoke(app, [*RENDER.replace("{w}", str(world)).split()])
    assert result.exit_code == 130, result.output and "finished shards are kept" in result.stderr and "train" not in result.stderr
    monkeypatch.setattr("kinetype.gallery.preview", interrupted)
    result = runner.invoke(app, [*PREVIEW.replace("{w}", str(world)).replace(TEMPLATE, "--random").split()])
    assert result.exit_code == 130, result.output
    assert "train" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_ctrl_c_while_an_extension_module_initialises_is_the_same_one_line(world, monkeypatch):
    """A Ctrl-C that lands while numpy/torch/skia initialise reaches Python as ``ImportError:
    initialization failed`` raised from the KeyboardInterrupt: still an interrupt, never a traceback."""
    import kinetype.shards

    def interrupted_import(*a, **k):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as e:
            raise ImportError("initialization failed") from e

    monkeypatch.setattr(kinetype.shards, "render_dataset", interrupted_import)
    result = runner.invoke(app, [*RENDER.replace("{w}", str(world)).split()])
    assert result.exit_code == 130, result.output
    assert result.stderr.strip().startswith("stopped: interrupted") and len(result.stderr.strip().splitlines()) == 1

    def broken_import(*a, **k):
        raise ImportError("libfoo.so: cannot open shared object file")

    monkeypatch.setattr(kinetype.shards, "render_dataset", broken_import)
    result = runner.invoke(app, [*RENDER.replace("{w}", str(world)).split()])
    assert result.exit_code not in (0, 130) and isinstance(result.exception, ImportError)  # a real import error is not hidden


def test_templates_validate_reports_every_error_and_takes_a_file(tmp_path):
    bad = tmp_path / "two.toml"
    bad.write_text('[[template]]\nid = "Bad Id"\ndescription = "d"\nmotion_tag = "m"\ncolour = 1\n'
                   '[template.enter]\nmotion = "fly"\nduration = "fast"\neasing = "nope"\n')
    result = runner.invoke(app, ["templates", "validate", str(bad)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    text = result.stderr
    for field in ("template[0].id", "template[0].colour", "template[0].enter.duration", "template[0].enter.easing"):
        assert field in text, text
    assert "[low, high]" in text or "range" in text  # square brackets in messages survive (not read as markup)
    good = REPO / "templates" / sorted(p.name for p in (REPO / "templates").glob("*.toml"))[0]
    assert runner.invoke(app, ["templates", "validate", str(good)]).exit_code == 0


def test_commands_fall_back_to_the_bundled_templates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["templates", "list", "--json"])
    assert result.exit_code == 0 and len(json.loads(result.stdout)) > 100


def test_help_keeps_square_brackets():
    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "(, , ...)" not in result.output and "[data]" in result.output


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_render_workers_end_when_the_parent_is_killed(world, tmp_path):
    args = [sys.executable, "-m", "kinetype", "render", "--templates", str(world / "templates"), "--n", "400",
            "--shard-size", "50", "--out", str(tmp_path / "ds"), "--workers", "2", "--quiet", *TINY]
    proc = subprocess.Popen(args, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        workers: list[int] = []
        while time.time() < deadline and len(workers) < 2 and proc.poll() is None:
            time.sleep(0.2)
            workers = [p for p in _children(proc.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")] \
                if Path(f"/proc/{proc.pid}").exists() else []
        assert len(workers) >= 1, "no worker processes started"
        time.sleep(1.0)  # let the initializers arm the parent-death signal
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 10
        while time.time() < deadline and any(Path(f"/proc/{p}").exists() for p in workers):
            time.sleep(0.2)
        alive = [p for p in workers if Path(f"/proc/{p}").exists()
                 and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
        assert not alive, f"workers {alive} outlived their parent"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

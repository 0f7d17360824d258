"""The `kinetype` command. Thin: each command parses its options and makes one library call.

Errors go through one path (:mod:`kinetype.cli_errors`): a bad input or an operating-system error is
one line on stderr and exit status 2, Ctrl-C is 130; see the exit-code table in the README.

Each command imports its library module inside its body: ``kinetype --help`` and a typo's error
start in about 0.5 s instead of 9.7 s with every command's modules (skia, torch, the model) loaded,
measured side by side on the 2-core development machine.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kinetype.cli_errors import EXIT_CHECK_FAILED, OneLineErrorsGroup, report, user_errors
from kinetype.errors import KinetypeError, random_seed
from kinetype.render.settings import ClipSettings
from kinetype.sample.settings import SAMPLER_NAMES, SamplingSettings

# Help text is Markdown, not Rich markup: "[data]" in a help string stays "[data]".
HELP_MARKUP = "markdown"
app = typer.Typer(help="Open, reproducible kinetic typography.", no_args_is_help=True, add_completion=False,
                  cls=OneLineErrorsGroup, rich_markup_mode=HELP_MARKUP, pretty_exceptions_show_locals=False)
templates_app = typer.Typer(help="List, validate and look at motion templates.", no_args_is_help=True,
                            rich_markup_mode=HELP_MARKUP)
fonts_app = typer.Typer(help="The bundled fonts.", no_args_is_help=True, rich_markup_mode=HELP_MARKUP)
shards_app = typer.Typer(help="Check and look at rendered WebDataset shards.", no_args_is_help=True,
                         rich_markup_mode=HELP_MARKUP)
app.add_typer(templates_app, name="templates")
app.add_typer(fonts_app, name="fonts")
app.add_typer(shards_app, name="shards")

console = Console()
err_console = Console(stderr=True)


def default_templates() -> Path:
    """:func:`kinetype.render.templates.default_templates`, imported only when a command runs (the
    engine's imports would slow down ``--help``)."""
    from kinetype.render.templates import default_templates as folder

    return folder()


# Shared option aliases (defined once, used by several commands).
TemplatesDir = Annotated[Optional[Path], typer.Option(
    "--templates", help="Folder of template files (default: ./templates if present, else the bundled ones).")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same clip (0 to 2^32-1).")]


def check_seed(seed: int) -> int:
    return random_seed(seed)


# --- engine: templates, fonts, preview --------------------------------------------------------


@templates_app.command("list")
@user_errors
def templates_list(
    templates: TemplatesDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per template instead of a table.")] = False,
):
    """List templates: id, category tags, motion tag and description."""
    from kinetype.gallery import template_records
    from kinetype.render.templates import load_templates

    templates = templates or default_templates()
    records = template_records(load_templates(templates))
    if as_json:

        print(json.dumps(records, indent=1))
        return
    table = Table("id", "tags", "motion", "description", title=escape(f"{len(records)} templates in {templates}"))
    for r in records:
        table.add_row(escape(r["id"]), escape(", ".join(r["tags"])), escape(r["motion_tag"]), escape(r["description"]))
    console.print(table)


@templates_app.command("validate")
@user_errors
def templates_validate(
    path: Annotated[Optional[Path], typer.Argument(
        help="Template folder or one template file (default: ./templates if present, else the bundled ones).")] = None,
):
    """Check template files; exit 0 when all are valid, else print every error of every file and exit 1."""
    from kinetype.render.templates import scan_templates

    path = path or default_templates()
    found, errors = scan_templates(path)
    for e in errors:
        report(str(e))
    if errors:
        # The count is the command's result, as the success line is (stdout): stderr holds the
        # errors alone, one line each, so one bad file is one line there.
        console.print(f"invalid: {len(errors)} error(s); {len(found)} valid template(s)", markup=False, highlight=False)
        raise typer.Exit(EXIT_CHECK_FAILED)
    console.print(f"{len(found)} templates valid in {path}", markup=False, highlight=False)


@templates_app.command("sheet")
@user_errors
def templates_sheet(
    out: Annotated[Path, typer.Option("--out", help="Folder for the PNG sheets.")],
    templates: TemplatesDir = None,
    word: Annotated[str, typer.Option("--word", help="Word drawn by every template.")] = "Type",
    size: Annotated[int, typer.Option("--size", help="Frame size in pixels.")] = 96,
    per_sheet: Annotated[int, typer.Option("--per-sheet", help="Templates per PNG sheet.")] = 20,
    seed: Seed = 0,
):
    """Write a gallery of every template as PNG sheets (one row of frames per template)."""
    from kinetype.gallery import template_sheets
    from kinetype.render.templates import load_templates
    from kinetype.render.words import validate_word

    word = validate_word(word)
    paths = template_sheets(load_templates(templates or default_templates()), out, word=word, per_sheet=per_sheet,
                            size=size, seed=check_seed(seed))
    console.print(f"wrote {len(paths)} sheets to {out}", markup=False, highlight=False)


@fonts_app.command("list")
@user_errors
def fonts_list(as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False):
    """Bundled font families: styles, classes, licences."""
    from kinetype.render.fonts import FontLibrary, font_table

    rows = font_table(FontLibrary.load())
    if as_json:

        print(json.dumps(rows, indent=1, default=str))
        return
    table = Table(*rows[0].keys(), title=f"{len(rows)} font families")
    for r in rows:
        table.add_row(*[escape(", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)) for v in r.values()])
    console.print(table)


@app.command()
@user_errors
def preview(
    template_id: Annotated[Optional[str], typer.Argument(help="Template id (see `kinetype templates list`).")] = None,
    word: Annotated[str, typer.Option("--word", help="1-12 letters A-Z, a-z.")] = "Hello",
    out: Annotated[Path, typer.Option("--out", help="Output .mp4, .gif (video) or .png (contact sheet).")] = Path("preview.gif"),
    seed: Seed = 0,
    masks: Annotated[bool, typer.Option("--masks", help="With .png: draw each frame's glyph mask beside it.")] = False,
    random_template: Annotated[bool, typer.Option("--random", help="Pick the template from the seed instead of by id.")] = False,
    templates: TemplatesDir = None,
    size: Annotated[int, typer.Option("--size", help="Frame size in pixels (even for .mp4).")] = ClipSettings.size,
    frames: Annotated[int, typer.Option("--frames", help="Number of frames.")] = ClipSettings.frames,
    fps: Annotated[int, typer.Option("--fps", help="Frames per second.")] = ClipSettings.fps,
):
    """Render one clip of a template and write it as a video or a contact sheet."""
    from kinetype.gallery import check_preview_args
    from kinetype.gallery import preview as run_preview
    from kinetype.render.templates import get_template, load_templates
    from kinetype.render.words import validate_word

    # Every argument is checked before the templates are read or anything is written.
    check_seed(seed)
    word = validate_word(word)
    check_preview_args(out, size=size, num_frames=frames, fps=fps, masks=masks)
    if not random_template and template_id is None:
        raise KinetypeError("give a TEMPLATE_ID or --random")
    all_templates = load_templates(templates or default_templates())
    template = all_templates[seed % len(all_templates)] if random_template else get_template(all_templates, template_id)
    info = run_preview(template, word, seed, out, size=size, num_frames=frames, fps=fps, masks=masks)
    c = info["captions"]
    console.print(f"[bold]{escape(template.id)}[/bold] → {escape(str(out))}\n  static:  {escape(c['static'])}\n"
                  f"  dynamic: {escape(c['dynamic'])}\n  word:    {escape(c['word'])}\n  motion:  {escape(c['motion'])}",
                  highlight=False)


# --- dataset: render, shards, export ----------------------------------------------------------

DatasetDir = Annotated[Path, typer.Argument(help="Dataset folder written by `kinetype render`.")]


@app.command()
@user_errors
def render(
    templates: TemplatesDir = None,
    n: Annotated[int, typer.Option("--n", help="Number of clips in the dataset.")] = 1000,
    out: Annotated[Path, typer.Option("--out", help="Output folder (shards, manifest, card).")] = Path("shards"),
    workers: Annotated[Optional[int], typer.Option("--workers", help="Worker processes (default: all cores).")] = None,
    seed: Seed = 0,
    shard_size: Annotated[int, typer.Option("--shard-size", help="Clips per shard.")] = 1000,
    size: Annotated[int, typer.Option("--size", help="Frame width and height in pixels (even: H.264 4:2:0).")] = ClipSettings.size,
    frames: Annotated[int, typer.Option("--frames", help="Frames per clip.")] = ClipSettings.frames,
    fps: Annotated[int, typer.Option("--fps", help="Frames per second.")] = ClipSettings.fps,
    words: Annotated[Optional[Path], typer.Option("--words", help="Word list, one per line (default: random letters mixed with English words).")] = None,
    num_shards: Annotated[int, typer.Option("--num-shards", help="Split the shards over this many jobs (Slurm arrays, Kubernetes jobs)...")] = 1,
    shard_index: Annotated[int, typer.Option("--shard-index", help="...and do the shards k with k % num-shards == shard-index.")] = 0,
    ray: Annotated[bool, typer.Option("--ray", help="Run one Ray task per shard (a local Ray instance unless --ray-address).")] = False,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="Address of the Ray cluster for --ray (e.g. ray://head:10001, or auto).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
):
    """Render a dataset of kinetic-typography clips to WebDataset shards (resumable: run the same command again)."""
    from kinetype.shards import RenderConfig, render_dataset
    from kinetype.shards.run import check_job_args

    check_job_args(workers, num_shards, shard_index)
    config = RenderConfig(templates=templates or default_templates(), n=n, seed=seed, shard_size=shard_size, size=size,
                          num_frames=frames, fps=fps, words=words)
    render_dataset(config, out, workers=workers, num_shards=num_shards, shard_index=shard_index, ray=ray or bool(ray_address),
                   ray_address=ray_address, progress=not quiet, console=err_console)


@shards_app.command("verify")
@user_errors
def shards_verify(
    folder: DatasetDir,
    workers: Annotated[int, typer.Option("--workers", help="Shards checked in parallel.")] = 1,
):
    """Decode every sample, check checksums and counts against the plan and the manifest. Exit status: 0 valid, 1 corrupt, 3 missing, 4 both."""
    from kinetype.workers import check_workers
    from kinetype.shards.verify import run_verify

    status, failure = run_verify(folder, workers=check_workers(workers), console=console)
    if failure is not None:
        report(failure, prefix="verify failed")
    raise typer.Exit(status)


@shards_app.command("inspect")
@user_errors
def shards_inspect(
    folder: DatasetDir,
    sheet: Annotated[Optional[Path], typer.Option("--sheet", help="Also write a contact sheet of random samples (PNG).")] = None,
    samples: Annotated[int, typer.Option("--samples", help="Samples on the contact sheet.")] = 6,
    seed: Seed = 0,
):
    """Summary table of a dataset (counts, bytes, templates, fonts, motions) and an optional contact sheet."""
    from kinetype.shards.inspect import inspect_dataset

    inspect_dataset(folder, sheet=sheet, samples=samples, seed=check_seed(seed), console=console)


@app.command("export")
@user_errors
def export(
    folder: DatasetDir,
    out: Annotated[Path, typer.Argument(help="Folder to write (must not exist yet).")],
    format: Annotated[str, typer.Option("--format", help="Target layout: kinety (the KineTy paper's code).")] = "kinety",
):
    """Export a dataset to another layout (KineTy's CSV + videos/ + mask/ folders), whole or not at all."""
    from kinetype.shards.export import run_export

    run_export(folder, out, format=format, console=console)


# --- model: train, generate -------------------------------------------------------------------

ModelDir = Annotated[Optional[Path], typer.Option("--model", help="Pipeline folder (default: the bundled model, inside the package: kinetype/assets/model).")]
MgScale = Annotated[Optional[float], typer.Option("--mg", help="Mitigating-gradient guidance (HARIVO): pulls consecutive frames together, strongest near noise; 0 = off, useful up to about 0.5. Default: MG_SCALE_DEFAULT in kinetype/sample/settings.py.")]
Motion = Annotated[Optional[str], typer.Option("--motion", help="Motion phrase, matched to the templates (e.g. 'bounce in').")]
ClipOut = Annotated[Optional[Path], typer.Option("--out", help="Output .mp4, .gif or .png (contact sheet). Default: WORD-motion.mp4 here, never overwriting a file.")]
TemplateId = Annotated[Optional[str], typer.Option("--template", help="Template id instead of a motion phrase.")]
Sampler = Annotated[str, typer.Option("--sampler", help=f"One of {', '.join(SAMPLER_NAMES)}.")]
Steps = Annotated[int, typer.Option("--steps", help="Sampling steps.")]
Guidance = Annotated[float, typer.Option("--guidance", help="Classifier-free guidance scale (1 = none).")]
Loop = Annotated[bool, typer.Option("--loop", help="The last frame leads back into the first (a motion that does not end where it starts plays forward and back).")]
Verify = Annotated[int, typer.Option("--verify", help="Sample up to N seeds (from --seed on) and keep the first whose word PP-OCR reads correctly, else the best read; 1 = no check.")]


@app.command()
@user_errors
def train(
    shards: Annotated[Optional[str], typer.Option("--shards", help="Shard folder or glob from `kinetype render` ('synthetic': built-in test clips).")] = "shards",
    stage: Annotated[Optional[str], typer.Option("--stage", help="Only this stage: autoencoder, image (single frames, static captions), video, or interpolation (a keyframe interpolator for --frames 4x the model's, from shards at 4x its fps). Default: the first three in turn.")] = None,
    preset: Annotated[Optional[str], typer.Option("--preset", help="cpu (this machine, the bundled model), tiny (tests), small (one GPU), base (several GPUs), paper. Default: small with CUDA, else cpu.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Run folder of one --stage, or the root of the three stage folders. Default: runs/kinetype.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file overriding the preset ([data], [optim], [loss], [model.denoiser], [stages.video.optim]...).")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Optimiser steps of each stage (with --minutes: the most).")] = None,
    minutes: Annotated[Optional[float], typer.Option("--minutes", help="Time budget of the training steps: the whole pipeline's, split 20/35/45% over the stages, or one --stage's. The schedule ends with it.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Insist on continuing --out from its last checkpoint (runs continue by themselves).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the resolved config and model size; train nothing.")] = False,
    init: Annotated[Optional[Path], typer.Option("--init", help="Start from a pipeline folder (the previous stage's RUN/pipeline).")] = None,
    autoencoder: Annotated[Optional[Path], typer.Option("--autoencoder", help="A local diffusers AutoencoderKL folder (frozen).")] = None,
    clip: Annotated[Optional[Path], typer.Option("--clip", help="A local CLIP text encoder folder (frozen) instead of the byte encoder.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the run (weights, data order, noise).")] = None,
):
    """Train the model: autoencoder, image and video stages in turn (or one --stage); resumes by itself."""
    from kinetype.train import train_command

    train_command(shards=shards, stage=stage, preset=preset, out=out, config=config, max_steps=max_steps,
                  minutes=minutes, resume=resume or None, dry_run=dry_run, init=init, autoencoder=autoencoder, clip=clip, seed=seed,
                  echo=lambda s: console.print(s, highlight=False, soft_wrap=True, markup=False))


@app.command()
@user_errors
def generate(
    word: Annotated[str, typer.Argument(help="1-12 letters A-Z, a-z.")],
    motion: Motion = None,
    out: ClipOut = None,
    style: Annotated[Optional[str], typer.Option("--style", help="Appearance phrase; replaces the template's static caption. Colours it names (e.g. 'gold on navy') reach a model with a colour embedding.")] = None,
    template: TemplateId = None,
    model: ModelDir = None,
    sampler: Sampler = SamplingSettings.sampler,
    steps: Steps = SamplingSettings.steps,
    guidance: Guidance = SamplingSettings.guidance,
    seed: Seed = 0,
    no_glyph: Annotated[bool, typer.Option("--no-glyph", help="Do not give the model the engine's glyph layout.")] = False,
    frames: Annotated[Optional[int], typer.Option("--frames", help="Frames (default: the model's). With an interpolator, (n+1) x the model's are made from its keyframes, at (n+1) x its fps.")] = None,
    fps: Annotated[Optional[int], typer.Option("--fps", help="Frames per second (default: the model's).")] = None,
    templates: TemplatesDir = None,
    mg: MgScale = None,
    verify: Verify = 1,
    loop: Loop = False,
):
    """Generate a kinetic-typography clip of WORD with a trained model (default: the bundled one)."""
    from kinetype.generate import generate as run_generate

    run_generate(word, motion=motion, out=out, style=style, template_id=template, model=model, sampler=sampler,
                 steps=steps, guidance=guidance, seed=seed, glyph=not no_glyph, num_frames=frames, fps=fps,
                 templates_dir=templates or default_templates(), mg=mg, verify=verify, loop=loop, echo=plain_echo)


@app.command()
@user_errors
def animate(
    image: Annotated[Path, typer.Argument(help="The design to animate (PNG, JPEG...): the clip starts from it.")],
    motion: Motion = None,
    word: Annotated[Optional[str], typer.Option("--word", help="The design's word (default: read from it by PP-OCR).")] = None,
    to: Annotated[Optional[Path], typer.Option("--to", help="A second design the clip ends on: the frames between are filled in.")] = None,
    loop: Loop = False,
    out: ClipOut = None,
    template: TemplateId = None,
    model: ModelDir = None,
    sampler: Sampler = SamplingSettings.sampler,
    steps: Steps = SamplingSettings.steps,
    guidance: Guidance = SamplingSettings.guidance,
    seed: Seed = 0,
    templates: TemplatesDir = None,
):
    """Animate a still design: the clip starts from it (--to: and ends on another, --loop: and leads back into it)."""
    from kinetype.animate import animate as run_animate

    run_animate(image, motion=motion, word=word, to=to, loop=loop, out=out, template_id=template, model=model,
                sampler=sampler, steps=steps, guidance=guidance, seed=seed,
                templates_dir=templates or default_templates(), echo=plain_echo)


def plain_echo(line: str) -> None:
    console.print(line, highlight=False, soft_wrap=True, markup=False)


# --- eval: measured legibility, motion and colour ----------------------------------------------

eval_app = typer.Typer(help="Measure legibility (OCR), motion and colour of engine renders or of a model's clips.",
                       no_args_is_help=True)
app.add_typer(eval_app, name="eval")
EvalN = Annotated[int, typer.Option("--n", help="Clips, drawn deterministically from the eval set.")]
EvalOut = Annotated[Optional[Path], typer.Option("--out", help="Folder for report.json, report.md, contact_sheet.png.")]
EvalReader = Annotated[str, typer.Option("--reader", help="OCR: ppocr (default), tesseract or both.")]
EvalWorkers = Annotated[Optional[int], typer.Option("--workers", help="Worker processes (default: all cores).")]
EvalQuiet = Annotated[bool, typer.Option("--quiet", help="No progress bar or tables.")]


@eval_app.command("renders")
@user_errors
def eval_renders(
    n: EvalN = 200,
    templates: TemplatesDir = None,
    out: EvalOut = Path("eval/renders"),
    seed: Seed = 0,
    reader: EvalReader = "ppocr",
    workers: EvalWorkers = None,
    size: Annotated[int, typer.Option("--size", help="Frame size in pixels (a model's size gives its ceiling).")] = ClipSettings.size,
    frames: Annotated[int, typer.Option("--frames", help="Frames per clip.")] = ClipSettings.frames,
    fps: Annotated[int, typer.Option("--fps", help="Frames per second.")] = ClipSettings.fps,
    quiet: EvalQuiet = False,
):
    """Score engine renders of the eval set: the legibility ceiling of any model trained on them."""
    from kinetype.eval import evaluate_renders

    started = time.perf_counter()
    evaluate_renders(n=n, seed=seed, templates=templates or default_templates(), readers=reader, workers=workers,
                     out=out, progress=not quiet, size=size, num_frames=frames, fps=fps)
    wrote_report(out, started)


@eval_app.command("autoencoder")
@user_errors
def eval_autoencoder(
    model: ModelDir = None,
    n: EvalN = 100,
    no_glyph: Annotated[bool, typer.Option("--no-glyph", help="Decode without the engine's glyph layout (the text-only ceiling).")] = False,
    out: EvalOut = Path("eval/autoencoder"),
    seed: Seed = 0,
    reader: EvalReader = "ppocr",
    workers: EvalWorkers = None,
    quiet: EvalQuiet = False,
):
    """Score the eval set's engine renders after a round trip through a model's autoencoder: what exact latents would score."""
    from kinetype.eval import evaluate_autoencoder

    started = time.perf_counter()
    evaluate_autoencoder(model, n=n, seed=seed, glyph=not no_glyph, readers=reader, workers=workers, out=out,
                         progress=not quiet)
    wrote_report(out, started)


@eval_app.command("model")
@user_errors
def eval_model(
    model: ModelDir = None,
    n: EvalN = 100,
    no_glyph: Annotated[bool, typer.Option("--no-glyph", help="Do not give the model the engine's glyph layout.")] = False,
    out: EvalOut = Path("eval/model"),
    steps: Steps = SamplingSettings.steps,
    guidance: Annotated[float, typer.Option("--guidance", help="Classifier-free guidance scale.")] = SamplingSettings.guidance,
    seed: Seed = 0,
    reader: EvalReader = "ppocr",
    workers: EvalWorkers = None,
    quiet: EvalQuiet = False,
    mg: MgScale = None,
    verify: Verify = 1,
    given: Annotated[str, typer.Option("--given", help="none; first: animate the reference's first frame (scored by first_mae); loop: every clip a loop.")] = "none",
    no_pin: Annotated[bool, typer.Option("--no-pin", help="With --given: the given frames reach the model as input planes only, not pinned while sampling (a model trained with given frames).")] = False,
    frames: Annotated[Optional[int], typer.Option("--frames", help="Frames per clip over the model's own duration (default: the model's); with an interpolator, (n+1) x the model's are interpolated from its keyframes.")] = None,
    direct: Annotated[bool, typer.Option("--direct", help="With --frames: sample every frame with the denoiser, not from keyframes by the interpolator.")] = False,
):
    """Generate the eval set with a model and score the clips against the engine's reference renders."""
    from kinetype.eval import evaluate_model

    started = time.perf_counter()
    evaluate_model(model, n=n, seed=seed, glyph=not no_glyph, steps=steps, guidance=guidance, readers=reader,
                   workers=workers, out=out, progress=not quiet, mg=mg, verify=verify, given=given, frames=frames,
                   interpolate=not direct, pin=not no_pin)
    wrote_report(out, started)


def wrote_report(out: Path, started: float) -> None:
    """The last line of an evaluation: where the report is and how long the whole run took."""
    minutes = (time.perf_counter() - started) / 60
    console.print(f"wrote {out}/report.json, report.md, contact_sheet.png in {minutes:.1f} min", highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())

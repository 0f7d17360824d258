"""The drivers: ``evaluate_renders`` (the engine, the ceiling of any model trained on it),
``evaluate_autoencoder`` (the engine's clips through a model's autoencoder: what a denoiser
sampling their exact latents would score) and ``evaluate_model`` (a pipeline's generations), parallel over cores with a
progress bar.

Renders are drawn and scored in worker processes. Generation runs in the main process (one model,
on its device) and each finished clip goes to a worker for OCR while the next one samples. Each
worker builds its readers once. Every clip depends only on (seed, index), so the same seed gives
the same report whatever the number of workers.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from kinetype.errors import KinetypeError, random_seed, whole
from kinetype.fsutil import check_output_dir
from kinetype.eval.evalset import EvalItem, eval_items
from kinetype.eval.measures import frame_mae
from kinetype.render.settings import ClipSettings, check_frames
from kinetype.render.words import load_evalset
from kinetype.eval.readers import make_reader, reader_available, reader_names
from kinetype.eval.regions import DEFAULT_FINDER
from kinetype.eval.report import EvalReport, breakdowns, finder_means, print_report, summarise, write_report
from kinetype.eval.score import score_clip
from kinetype.eval.verify import VERIFY_READER, candidate_seeds, check_verify, clip_judge, first_legible
from kinetype.render import render_clip
from kinetype.render.templates import default_templates, get_template, load_templates
from kinetype.sample.settings import MG_SCALE_DEFAULT, SamplingSettings, check_mg_scale
from kinetype.workers import check_workers, process_pool, stop_pool

# torch and the model (kinetype.pipeline, kinetype.sample.mitigate) are imported inside
# evaluate_model: `kinetype eval renders` runs without them (the train extra is optional).

MAX_N = 1_000_000
GIVEN = ("none", "first", "loop")  # eval model --given: how each clip is made (kinetype.model.frames)

# --- worker side ------------------------------------------------------------------------------

_READERS: dict[str, Any] = {}


def _init_worker(names: tuple[str, ...]) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _READERS.clear()
    _READERS.update({n: make_reader(n) for n in names})


def _reference(item: EvalItem, templates_dir: Path, size: int, num_frames: int, fps: int, loop: bool = False):
    template = get_template(load_templates(templates_dir), item.template_id)
    return render_clip(template, item.word, item.seed, size=size, num_frames=num_frames, fps=fps, loop=loop)


def _score_render(item: EvalItem, templates_dir: Path, size: int, num_frames: int, fps: int) -> tuple[dict, np.ndarray]:
    clip = _reference(item, templates_dir, size, num_frames, fps)
    row = score_clip(item, clip.frames, clip, _READERS, compare_finders=True)
    return row, clip.frames[row["thumb_frame"]]


def _score_generated(item: EvalItem, frames: np.ndarray, templates_dir: Path, size: int, num_frames: int, fps: int,
                     loop: bool = False) -> tuple[dict, np.ndarray]:
    clip = _reference(item, templates_dir, size, num_frames, fps, loop)
    row = score_clip(item, frames, clip, _READERS)
    return row, frames[row["thumb_frame"]]


# --- main side --------------------------------------------------------------------------------


class _Inline:
    """The pool's interface in this process (one worker: no start-up cost, easy to debug)."""

    def __init__(self, names):
        _init_worker(names)

    def submit(self, fn, *args) -> Future:
        f: Future = Future()
        f.set_result(fn(*args))
        return f

    def shutdown(self, wait: bool = True, cancel_futures: bool = False):
        pass


def _pool(workers: int, names: tuple[str, ...]):
    if workers <= 1:
        return _Inline(names)
    return process_pool(workers, _init_worker, (names,), what="eval")


def _check_args(n: int, out: Path | None, readers: str | Sequence[str], seed: int, workers: int | None) -> tuple[str, ...]:
    whole("--n", n, 1, MAX_N)
    random_seed(seed)
    check_workers(workers)
    names = reader_names(readers) if isinstance(readers, str) else tuple(readers)
    for name in names:
        why = reader_available(name)
        if why:
            raise KinetypeError(f"reader {name}: {why}")
    if out is not None:  # made by the report's first write: a run that fails leaves no folder
        check_output_dir(out, "--out")
    return names


def _progress(enabled: bool, total: int, label: str):
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), disable=not enabled, transient=False)


def _finish(kind: str, config: dict, results: list[tuple[dict, np.ndarray]], names: tuple[str, ...],
            out: Path | None, progress: bool) -> EvalReport:
    rows = sorted((r for r, _ in results), key=lambda r: r["index"])
    thumbs = {r["index"]: t for r, t in results}
    report = EvalReport(kind, config, summarise(rows, names), rows, breakdowns(rows, names[0]), finder_means(rows), thumbs)
    if progress:
        print_report(report, Console(stderr=True))
    if out is not None:
        write_report(report, Path(out))
    return report


def _config(kind: str, n: int, seed: int, names: tuple[str, ...], templates: Path, **extra) -> dict:
    readers = {nm: make_reader(nm).version for nm in names}
    return {"kind": kind, "n": n, "seed": seed, "evalset": load_evalset().name, "templates": str(templates),
            "readers": list(names), "reader_versions": readers, "finder": DEFAULT_FINDER, **extra}


def evaluate_renders(*, n: int, seed: int = 0, templates: Path | None = None, readers: str | Sequence[str] = "ppocr",
                     size: int = ClipSettings.size, num_frames: int = ClipSettings.frames, fps: int = ClipSettings.fps,
                     workers: int | None = None, out: Path | None = None, progress: bool = True) -> EvalReport:
    """Score ``n`` engine renders of the eval set against themselves: legibility (what OCR reads on
    the at-rest frames), the region finders' IoU against the true glyph masks, colour ΔE."""
    ClipSettings(size, num_frames, fps)
    names = _check_args(n, out, readers, seed, workers)
    templates = Path(templates or default_templates())
    items = eval_items(load_templates(templates), n, seed)
    config = _config("renders", n, seed, names, templates, size=size, num_frames=num_frames, fps=fps)
    workers = min(workers or os.cpu_count() or 1, n)
    pool = _pool(workers, names)
    results = []
    try:
        with _progress(progress, n, "eval renders") as bar:
            task = bar.add_task("clips", total=n)
            futures = [pool.submit(_score_render, it, templates, size, num_frames, fps) for it in items]
            for f in futures:
                results.append(f.result())
                bar.advance(task)
    finally:
        stop_pool(pool)
    return _finish("renders", config, results, names, out, progress)


def evaluate_autoencoder(pipe_or_dir=None, *, n: int, seed: int = 0, glyph: bool = True, workers: int | None = None,
                         out: Path | None = None, progress: bool = True, readers: str | Sequence[str] = "ppocr",
                         templates: Path | None = None) -> EvalReport:
    """Score the engine's reference render of each eval item after a round trip through the model's
    autoencoder (encode with the glyph masks, as training latents are; decode as the pipeline decodes
    a generated clip: with the masks, or without them when ``glyph`` is False). A denoiser that
    sampled exactly the references' latents would score this: the ceiling of a model that follows
    the engine (one reads more only with clips unlike the engine's). A model folder of any stage
    will do (an autoencoder-stage folder included)."""
    names = _check_args(n, out, readers, seed, workers)
    templates = Path(templates or default_templates())
    all_templates = load_templates(templates)
    items = eval_items(all_templates, n, seed)

    import torch

    from kinetype.pipeline import Pipeline, load_pipeline, to_uint8  # torch: not for `eval renders`

    pipe = pipe_or_dir if isinstance(pipe_or_dir, Pipeline) else load_pipeline(pipe_or_dir, need_denoiser=False)
    ae, device = pipe.autoencoder, pipe.device
    size, num_frames, fps = pipe.size_px, pipe.num_frames, pipe.fps
    config = _config("autoencoder", n, seed, names, templates,
                     model=str(pipe_or_dir) if isinstance(pipe_or_dir, (str, Path)) else "(in memory)",
                     glyph=glyph, size=size, num_frames=num_frames, fps=fps)
    workers = max(1, min((workers or os.cpu_count() or 1), n))
    pool = _pool(workers, names)
    futures: list[tuple[Future, dict]] = []  # (the worker's score, what this process measured)
    try:
        with _progress(progress, n, "eval autoencoder") as bar:
            task = bar.add_task("clips", total=n)
            for it in items:
                reference = render_clip(get_template(all_templates, it.template_id), it.word, it.seed,
                                        size=size, num_frames=num_frames, fps=fps)
                video = torch.tensor(reference.frames).permute(0, 3, 1, 2)[None].float().div(127.5).sub(1.0)
                masks = torch.tensor(reference.text_mask[None].astype(np.float32))  # (1, T, H, W)
                with torch.no_grad():
                    latents = ae.encode(video.to(device), masks.to(device))  # (1, T, C, h, w)
                    frames = to_uint8(ae.decode(latents, masks.to(device) if glyph else None))[0]  # (T, H, W, 3)
                futures.append((pool.submit(_score_generated, it, frames, templates, size, num_frames, fps), {}))
                bar.advance(task)
        results = _collect(futures)
    finally:
        stop_pool(pool)
    return _finish("autoencoder", config, results, names, out, progress)


def evaluate_model(pipe_or_dir, *, n: int, seed: int = 0, glyph: bool = True, steps: int = SamplingSettings.steps,
                   guidance: float = SamplingSettings.guidance, workers: int | None = None, out: Path | None = None,
                   progress: bool = True, readers: str | Sequence[str] = "ppocr", sampler: str = SamplingSettings.sampler,
                   templates: Path | None = None, mg: float | None = None, verify: int = 1,
                   given: str = "none", frames: int | None = None, interpolate: bool = True,
                   pin: bool = True) -> EvalReport:
    """Generate one clip per eval item with a pipeline (a ``Pipeline`` or its folder) and score it
    against the engine's reference render of the same (template, word, seed): legibility on the
    reference's at-rest frames, text-region IoU with its glyph masks, colour ΔE, flicker, and the
    generation time. ``glyph``: give the model the reference's glyph masks. ``mg``: mitigating-gradient
    scale (None: the default). ``verify``: keep the first of up to this many seeds PP-OCR reads
    correctly (:mod:`kinetype.eval.verify`); the time per clip then counts every candidate and its reading.
    ``given``: ``first`` animates the reference's own first frame (scored also by ``first_mae``, the
    first frame's distance from it), ``loop`` makes each clip a loop (``generate --loop``: its glyph
    layout and reference from the engine's looped render, ``render_clip(loop=True)``); every clip gets
    ``loop_seam``. ``pin``: the given frames are pinned while sampling (any model,
    :mod:`kinetype.sample.replacement`); False: they reach a model trained with given frames
    (:mod:`kinetype.model.frames`) as its input planes only.
    ``frames``: clips of that many frames over the model's own duration (the fps scaled alike): with
    an interpolator and (n + 1) x the model's frames, its keyframes and the frames interpolated
    between them (:mod:`kinetype.model.interpolation`), or (``interpolate`` False) every frame sampled
    by the denoiser at once."""
    # Every argument, then the templates, then the model (the slow part): a typo costs no model load.
    SamplingSettings(sampler, steps, guidance)
    names = _check_args(n, out, readers, seed, workers)
    mg = MG_SCALE_DEFAULT if mg is None else check_mg_scale(mg)
    if check_verify(verify) > 1 and (why := reader_available(VERIFY_READER)):
        raise KinetypeError(f"--verify reads with {VERIFY_READER}: {why}")
    if given not in GIVEN:
        raise KinetypeError(f"--given must be one of {', '.join(GIVEN)}, got {given!r}")
    if frames is not None:
        check_frames(frames, "--frames")
    templates = Path(templates or default_templates())
    all_templates = load_templates(templates)
    items = eval_items(all_templates, n, seed)

    from kinetype.pipeline import Pipeline  # torch: imported by `eval model` only, never by `eval renders`

    pipe = _load_pipeline(pipe_or_dir)
    if isinstance(pipe, Pipeline) and pipe.device.type == "cuda" and n > 1 and pipe.denoise_fn is None:
        pipe.compile()  # every clip has one shape: one trace serves them all (the first clip pays for it)
    size, num_frames, fps = pipe.size_px, pipe.num_frames, pipe.fps
    interpolated = interpolate and frames is not None and frames == pipe.interpolated_frames
    # Given frames reach any model pinned (kinetype.sample.replacement); unpinned, only one trained with
    # them. An interpolated clip loops by closing its last gap onto the first keyframe.
    if given != "none" and not pin and not pipe.net.cfg.denoiser.given_frames and not (given == "loop" and interpolated):
        raise KinetypeError(f"--given {given} --no-pin: the model was not trained with given frames")
    if frames is not None:  # the same seconds of motion in more (or fewer) frames
        num_frames, fps = frames, max(1, round(fps * frames / num_frames))
    config = _config("model", n, seed, names, templates, model=str(pipe_or_dir) if isinstance(pipe_or_dir, (str, Path)) else "(in memory)", glyph=glyph, steps=steps, guidance=guidance, sampler=sampler, size=size, num_frames=num_frames, fps=fps, mg=mg, verify=verify, given=given,
                     **({} if frames is None else {"interpolate": interpolate}), **({} if given == "none" else {"pin": pin}))
    workers = max(1, min((workers or os.cpu_count() or 1), n))
    pool = _pool(workers, names)
    futures: list[tuple[Future, dict]] = []
    verify_reader = None  # built at the first clip that needs it (PP-OCR loads two networks)
    try:
        with _progress(progress, n, "eval model") as bar:
            task = bar.add_task("clips", total=n)

            for it in items:
                # Captions and glyph masks only: the worker scoring the clip renders the full reference.
                # (With --given first, also its first frame: the still to animate.)
                reference = render_clip(get_template(all_templates, it.template_id), it.word, it.seed,
                                        size=size, num_frames=num_frames, fps=fps, pixels=given == "first",
                                        loop=given == "loop")
                caps = reference.captions
                masks = reference.text_mask[None].astype(np.float32) if glyph else None  # (1, T, H, W)
                still = reference.frames[0] if given == "first" else None  # (H, W, 3)

                def sample(s: int, caps=caps, masks=masks, still=still):  # (T, H, W, 3) uint8
                    return pipe([caps.static], [caps.dynamic], [caps.word], masks, num_frames=num_frames,
                                sampler=sampler, steps=steps, guidance=guidance, seed=s, mg=mg,
                                first=None if still is None else still[None], loop=given == "loop",
                                interpolate=interpolate, pin=pin)[0]

                if verify > 1:  # built once, outside the timing: a one-off cost, not a per-clip one
                    verify_reader = verify_reader or make_reader(VERIFY_READER)
                t0 = time.perf_counter()
                if verify > 1:  # read here, in this process, as generate does: the time per clip counts it
                    judge = clip_judge(it.word, reference.at_rest, reference.font.id, verify_reader)
                    chosen = first_legible(sample, candidate_seeds(it.seed, verify), judge)
                    frames, extra = chosen.frames, {"verify_seed": chosen.seed, "verify_tried": chosen.tried}
                else:
                    frames, extra = sample(it.seed), {"verify_seed": it.seed, "verify_tried": 1}
                extra["seconds"] = time.perf_counter() - t0
                if still is not None:
                    extra["first_mae"] = frame_mae(frames[0], still)
                futures.append((pool.submit(_score_generated, it, np.asarray(frames), templates, size, num_frames, fps,
                                            given == "loop"), extra))
                bar.advance(task)
        results = _collect(futures)
    finally:
        stop_pool(pool)
    return _finish("model", config, results, names, out, progress)


def _collect(futures: list[tuple[Future, dict]]) -> list[tuple[dict, np.ndarray]]:
    """Each worker's (row, thumbnail), its row joined with what the main process measured."""
    results = []
    for f, extra in futures:
        row, thumb = f.result()
        row.update(extra)
        results.append((row, thumb))
    return results


def _load_pipeline(pipe_or_dir):
    from kinetype.pipeline import Pipeline, load_pipeline  # torch: `eval model` only

    if isinstance(pipe_or_dir, Pipeline) or callable(pipe_or_dir) and hasattr(pipe_or_dir, "size_px"):
        return pipe_or_dir
    return load_pipeline(pipe_or_dir)
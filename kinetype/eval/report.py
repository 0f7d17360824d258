"""Aggregation and output: the summary, breakdowns, rich tables, report.json, report.md and a
contact sheet of the misreads, all written atomically into ``--out``."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from kinetype.fsutil import atomic_write_bytes
from kinetype.media import contact_sheet, encode_png

BREAKDOWN = ("font class", "effect", "fill", "background", "word type", "motion category", "palette", "camera", "font")
SHEET_CELLS = 64  # misreads on the contact sheet, at most
MEASURES = ("word_acc_ci", "word_acc_merged", "word_acc_exact", "ned", "frame_acc_ci", "mask_iou",
            "text_delta_e", "background_delta_e", "flicker", "loop_seam", "first_mae", "seconds_per_clip",
            "candidates_per_clip")


@dataclass
class EvalReport:
    """The result of one evaluation. ``summary`` holds the headline reader's figures under plain
    names (``word_acc_ci``...) and every reader's under ``<reader>.<name>``; ``rows`` one dict per clip."""

    kind: str  # "renders", "autoencoder" or "model"
    config: dict[str, Any]
    summary: dict[str, float]
    rows: list[dict[str, Any]]
    breakdowns: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    finders: dict[str, float] = field(default_factory=dict)  # region finder -> mean IoU on renders
    thumbs: dict[int, np.ndarray] = field(default_factory=dict, repr=False)  # clip index -> frame shown

    def to_json(self) -> dict[str, Any]:
        return _jsonable({"kind": self.kind, "config": self.config, "summary": self.summary, "finders": self.finders,
                          "breakdowns": self.breakdowns, "rows": self.rows})


def _jsonable(x):
    """NaN -> None (JSON has no NaN), numpy scalars -> Python."""
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(float(x)) else round(float(x), 6)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _mean(values) -> float:
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(vals)) if vals else float("nan")


def summarise(rows: list[dict], readers: tuple[str, ...]) -> dict[str, float]:
    """Means over clips: legibility and colour over the clips that come to rest, motion and flicker over all."""
    rest = [r for r in rows if r["rest"]]
    s: dict[str, float] = {"clips": float(len(rows)), "clips_at_rest": float(len(rest))}
    for i, name in enumerate(readers):
        per = {"word_acc_ci": _mean(r.get(f"{name}.ci") for r in rest),
               "word_acc_merged": _mean(r.get(f"{name}.merged") for r in rest),
               "word_acc_exact": _mean(r.get(f"{name}.exact") for r in rest),
               "ned": _mean(r.get(f"{name}.ned") for r in rest),
               "frame_acc_ci": _mean(r.get(f"{name}.frame_ci") for r in rest)}
        s.update({f"{name}.{k}": v for k, v in per.items()})
        if i == 0:
            s.update(per)
    s["mask_iou"] = _mean(r["iou"] for r in rows)
    s["text_delta_e"] = _mean(r.get("text_delta_e") for r in rest)
    s["background_delta_e"] = _mean(r.get("background_delta_e") for r in rest)
    s["flicker"] = _mean(r["flicker"] for r in rows)
    s["loop_seam"] = _mean(r.get("loop_seam") for r in rows)
    s["first_mae"] = _mean(r.get("first_mae") for r in rows)  # NaN unless the clips were given their first frame
    s["seconds_per_clip"] = _mean(r.get("seconds") for r in rows)
    s["candidates_per_clip"] = _mean(r.get("verify_tried") for r in rows)  # NaN without --verify
    return s


def breakdowns(rows: list[dict], reader: str) -> dict[str, list[dict[str, Any]]]:
    """Per key of ``BREAKDOWN``, per value: clips at rest, accuracies, NED and IoU, worst first.
    A clip with several values (font classes, motion categories) counts under each."""
    out = {}
    for key in BREAKDOWN:
        groups: dict[str, list[dict]] = defaultdict(list)
        for r in rows:
            vals = r.get(key)
            for v in (vals if isinstance(vals, list) else [vals]):
                groups[str(v)].append(r)
        table = []
        for v, rs in groups.items():
            rest = [r for r in rs if r["rest"]]
            table.append({"value": v, "clips": len(rest),
                          "ci": _mean(r.get(f"{reader}.ci") for r in rest),
                          "merged": _mean(r.get(f"{reader}.merged") for r in rest),
                          "ned": _mean(r.get(f"{reader}.ned") for r in rest),
                          "iou": _mean(r["iou"] for r in rs)})
        table.sort(key=lambda d: (np.nan_to_num(d["merged"], nan=2.0), -d["clips"], d["value"]))
        out[key] = table
    return out


def finder_means(rows: list[dict]) -> dict[str, float]:
    names = sorted({k[4:] for r in rows for k in r if k.startswith("iou.")})
    return {n: _mean(r.get(f"iou.{n}") for r in rows if r["rest"]) for n in names}


# --- presentation -----------------------------------------------------------------------------


def _fmt(key: str, v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if key.startswith("word_acc") or key in ("frame_acc_ci",) or key.endswith((".ci", "merged")):
        return f"{v:.1%}"
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def summary_lines(report: EvalReport) -> list[tuple[str, str, str]]:
    """(measure, value, note) rows of the overall table."""
    s, readers = report.summary, report.config["readers"]
    rows = [("clips (at rest)", f"{int(s['clips'])} ({int(s['clips_at_rest'])})", "legibility and colour: clips at rest")]
    for name in readers:
        ver = report.config["reader_versions"][name]
        for k, label in (("word_acc_ci", "word accuracy, case-insensitive"), ("word_acc_merged", "  + look-alikes merged"),
                         ("word_acc_exact", "word accuracy, exact"), ("ned", "NED"), ("frame_acc_ci", "per frame, case-insensitive")):
            rows.append((f"{name}: {label}", _fmt(k, s[f"{name}.{k}"]), ver if k == "word_acc_ci" else ""))
    for k, note in (("mask_iou", f"text region ({report.config['finder']}) vs the engine's glyph mask, all frames"),
                    ("text_delta_e", "CIEDE2000, mean colour inside the glyphs vs the named text colour"),
                    ("background_delta_e", "CIEDE2000, mean colour away from the glyphs vs the named background"),
                    ("flicker", "mean |frame change| (0-255) where the reference is still"),
                    ("loop_seam", "|last -> first frame change| / median consecutive change (<= 1 loops)"),
                    ("first_mae", "--given first: mean |first frame - the given still| (0-255)"),
                    ("seconds_per_clip", "generation wall time"),
                    ("candidates_per_clip", "--verify: candidates sampled per clip")):
        if k in ("seconds_per_clip", "candidates_per_clip") and report.kind != "model":
            continue
        if k == "candidates_per_clip" and report.config.get("verify", 1) <= 1:
            continue
        if k == "first_mae" and report.config.get("given", "none") != "first":
            continue
        rows.append((k, _fmt(k, s[k]), note))
    return rows


def print_report(report: EvalReport, console, limit: int = 8) -> None:
    """Rich tables: overall, the region finders (renders), and the worst values of each breakdown."""
    t = Table("measure", "value", "", title=f"kinetype eval {report.kind} ({report.config['evalset']}, seed {report.config['seed']})")
    for row in summary_lines(report):
        t.add_row(*row)
    console.print(t)
    if report.finders:
        ft = Table("text region finder", "mean IoU vs glyph mask (at-rest frames read)", title="finding the text without masks")
        for name, v in sorted(report.finders.items(), key=lambda kv: -np.nan_to_num(kv[1])):
            ft.add_row(name + (" (used)" if name == report.config["finder"] else ""), f"{v:.3f}")
        console.print(ft)
    reader = report.config["readers"][0]
    for key, table in report.breakdowns.items():
        bt = Table(key, "clips", "case-insens.", "merged", "NED", "IoU", title=f"by {key} ({reader}, worst first)")
        for d in table[:limit]:
            bt.add_row(d["value"], str(d["clips"]), _fmt("word_acc_ci", d["ci"]), _fmt("word_acc_ci", d["merged"]),
                       _fmt("ned", d["ned"]), _fmt("iou", d["iou"]))
        if len(table) > limit:
            bt.add_row(f"... {len(table) - limit} more", "", "", "", "", "")
        console.print(bt)


def markdown(report: EvalReport) -> str:
    c = report.config
    lines = [f"# kinetype eval {report.kind}", "",
             "Config: " + ", ".join(f"{k} = {v}" for k, v in c.items() if k != "reader_versions"), "",
             "Readers: " + "; ".join(f"{k}: {v}" for k, v in c["reader_versions"].items()), "",
             "| measure | value | note |", "|---|---:|---|"]
    lines += [f"| {a} | {b} | {n} |" for a, b, n in summary_lines(report)]
    if report.finders:
        lines += ["", "| text region finder | mean IoU |", "|---|---:|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in sorted(report.finders.items(), key=lambda kv: -np.nan_to_num(kv[1]))]
    for key, table in report.breakdowns.items():
        lines += ["", f"## by {key}", "", "| value | clips | case-insensitive | merged | NED | IoU |", "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {d['value']} | {d['clips']} | {_fmt('word_acc_ci', d['ci'])} | {_fmt('word_acc_ci', d['merged'])} | "
                  f"{_fmt('ned', d['ned'])} | {_fmt('iou', d['iou'])} |" for d in table]
    misreads = [r for r in report.rows if r["rest"] and not r.get(f"{c['readers'][0]}.merged")]
    if misreads:
        lines += ["", "## misreads", "", "| clip | template | font | word | read |", "|---:|---|---|---|---|"]
        lines += [f"| {r['index']} | {r['template']} | {r['font']} | {r['word']} | "
                  f"{r.get(c['readers'][0] + '.read', '')!r} |" for r in misreads]
    return "\n".join(lines) + "\n"


def contact_sheet_image(report: EvalReport) -> np.ndarray:
    """The misread clips' read frames (red border), or, with none, the first clips (green border),
    labelled "word -> reading"."""
    reader = report.config["readers"][0]
    misread = [r for r in report.rows if r["rest"] and not r.get(f"{reader}.merged") and r["index"] in report.thumbs]
    cells = misread[:SHEET_CELLS] or [r for r in report.rows if r["index"] in report.thumbs][:16]
    if not cells:
        return np.full((32, 32, 3), 255, np.uint8)
    frames, labels = [], []
    for r in cells:
        f = report.thumbs[r["index"]].copy()
        bad = r["rest"] and not r.get(f"{reader}.merged")
        f[:3], f[-3:], f[:, :3], f[:, -3:] = [(220, 30, 30) if bad else (30, 160, 60)] * 4
        frames.append(f)
        labels.append(f"{r['word']} -> {r.get(reader + '.read', '')!s}" if r["rest"] else f"{r['word']} (never at rest)")
    caption = (f"{len(misread)} misread of {int(report.summary['clips_at_rest'])} clips at rest ({reader}, look-alikes merged)"
               if misread else "no misreads")
    return contact_sheet(np.stack(frames), columns=8, labels=labels, caption=caption)


def write_report(report: EvalReport, out: Path) -> dict[str, Path]:
    """report.json, report.md and contact_sheet.png in ``out``, each written atomically."""
    out = Path(out)
    paths = {"json": out / "report.json", "md": out / "report.md", "sheet": out / "contact_sheet.png"}
    atomic_write_bytes(paths["json"], (json.dumps(report.to_json(), indent=1) + "\n").encode())
    atomic_write_bytes(paths["md"], markdown(report).encode())
    atomic_write_bytes(paths["sheet"], encode_png(contact_sheet_image(report)))
    return paths

"""The dataset-level files: ``manifest.parquet`` (one row per sample, all shards) and the dataset
card, as JSON (``dataset_card.json``) and Markdown (``README.md``, with the YAML header that lets
Hugging Face ``datasets.load_dataset(folder)`` read the tars directly)."""

from __future__ import annotations

import hashlib
import io
import json
import platform
import time
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import kinetype
from kinetype.errors import KinetypeError
from kinetype.jsonfile import JsonProblem, json_object
from kinetype.shards.layout import (CARD_JSON, CARD_MD, MANIFEST, parquet_name, read_parquet, read_render_record,
                                    read_all_stats, shard_name, shard_table)
from kinetype.shards.storage import Storage

CHECKSUMS_KEY = b"kinetype.checksums"  # manifest schema metadata: {shard name: {"tar_sha256", "parquet_sha256"}}


def read_manifest(storage: Storage) -> pa.Table:
    """The manifest if written, else the concatenation of the complete shards' tables."""
    if storage.exists(MANIFEST):
        return read_parquet(storage, MANIFEST)
    config = read_render_record(storage).config
    tables = [shard_table(storage, k) for k, st in enumerate(read_all_stats(storage, config)) if st]
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables, promote_options="default") if tables else pa.table({"key": pa.array([], pa.string())})


def manifest_checksums(manifest: pa.Table) -> dict[str, dict[str, str]] | None:
    """The shard checksums recorded in the manifest (None for datasets written before they were)."""
    raw = (manifest.schema.metadata or {}).get(CHECKSUMS_KEY)
    if raw is None:
        return None
    try:
        return json_object(raw)
    except JsonProblem:
        return {}


def _counts(values) -> dict[str, int]:
    return dict(Counter(values).most_common())


def write_manifest_and_card(storage: Storage, command: str = "") -> dict[str, Any]:
    record = read_render_record(storage)
    config = record.config
    num_shards = config.num_shards
    stats = read_all_stats(storage, config)
    if any(s is None for s in stats):
        raise KinetypeError("the dataset is not complete: cannot write its manifest")
    checksums = {}
    for k in range(num_shards):
        name = shard_name(k)
        checksums[name] = {"tar_sha256": stats[k].get("tar_sha256"),
                           "parquet_sha256": hashlib.sha256(storage.read_bytes(parquet_name(k))).hexdigest()}
    tables = [shard_table(storage, k) for k in range(num_shards)]
    tables = [t for t in tables if t.num_rows]
    manifest = pa.concat_tables(tables, promote_options="default") if tables else pa.table({"key": pa.array([], pa.string())})
    manifest = manifest.replace_schema_metadata({**(manifest.schema.metadata or {}),
                                                 CHECKSUMS_KEY: json.dumps(checksums, sort_keys=True).encode()})
    buf = io.BytesIO()
    pq.write_table(manifest, buf, compression="zstd")
    manifest_bytes = buf.getvalue()
    storage.write_bytes(MANIFEST, manifest_bytes)

    rows = manifest.to_pylist()
    samples = len(rows)
    tar_bytes = sum(s["tar_bytes"] for s in stats)
    render_seconds = sum(s["seconds"] for s in stats)
    started = min(s["started"] for s in stats)
    finished = max(s["started"] + s["seconds"] for s in stats)
    card = {
        "name": "kinetype kinetic-typography dataset",
        "kinetype_version": kinetype.__version__,
        "command": command or record.command,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "config": config.as_json(),
        "fingerprint": record.fingerprint,
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "samples": samples,
        "requested": config.n,
        "failed": sum(s["failed"] for s in stats),
        "failures": [f for s in stats for f in s["failures"]],
        "shards": num_shards,
        "tar_bytes": tar_bytes,
        "bytes_per_sample": round(tar_bytes / samples, 1) if samples else 0.0,
        "render_seconds_total": round(render_seconds, 2),  # summed over shards (≈ core-seconds)
        "wall_seconds": round(finished - started, 2),  # first shard start to last shard end
        "templates": record.content.get("num_templates"),
        "counts": {
            "template": _counts(r["template"] for r in rows),
            "category": _counts(t for r in rows for t in r.get("tags") or []),
            "font": _counts(r.get("font", "") for r in rows),
            "motion": _counts(r.get("motion", "") for r in rows),
            "word_length": {str(k): v for k, v in sorted(Counter(len(r["word"]) for r in rows).items())},
        },
    }
    storage.write_bytes(CARD_JSON, json.dumps(card, indent=1).encode())
    # UTF-8 whatever the command held: a path argument that was not UTF-8 (a lone surrogate in
    # Python) is written escaped, as the JSON card writes it.
    storage.write_bytes(CARD_MD, card_markdown(card).encode("utf-8", "backslashreplace"))
    return card


def _table(counts: dict[str, int], title: str, limit: int = 20) -> str:
    lines = [f"| {title} | samples |", "|---|---:|"]
    for name, n in list(counts.items())[:limit]:
        lines.append(f"| {name or '(none)'} | {n} |")
    if len(counts) > limit:
        lines.append(f"| … {len(counts) - limit} more | {sum(list(counts.values())[limit:])} |")
    return "\n".join(lines)


def card_markdown(card: dict[str, Any]) -> str:
    cfg = card["config"]
    mib = card["tar_bytes"] / 2**20
    header = (
        "---\n"
        "configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: \"shard-*.tar\"\n"
        "license: apache-2.0\n"
        "tags:\n- kinetic-typography\n- video\n- webdataset\n"
        "---\n\n"
    )
    return header + f"""# {card['name']}

Rendered by kinetype {card['kinetype_version']} on {card['created']} with:

```
{card['command']}
```

| | |
|---|---|
| samples | {card['samples']} of {card['requested']} requested ({card['failed']} failed to render) |
| shards | {card['shards']} × up to {cfg['shard_size']} samples (`shard-*.tar`) |
| clips | {cfg['size']}×{cfg['size']} px, {cfg['num_frames']} frames at {cfg['fps']} fps, H.264 crf {cfg['crf']} |
| size | {mib:.1f} MiB, {card['bytes_per_sample']:.0f} bytes per sample |
| render time | {card['render_seconds_total']:.0f} s summed over shards, {card['wall_seconds']:.0f} s wall |
| seed | {cfg['seed']} (configuration fingerprint `{card['fingerprint']}`) |
| templates | {card['templates']} |

Each sample: `mp4` (the clip), `instance.u4x.zlib` (per-letter instance masks, see kinetype's
`docs/dataset.md`), `static.txt`, `dynamic.txt`, `word.txt`, `motion.txt` (captions), `json`
(full metadata). `manifest.parquet` lists every sample; `shard-*.stats.json` hold per-shard counts
and any render failures with their reasons.

## Categories

{_table(card['counts']['category'], 'category')}

## Templates

{_table(card['counts']['template'], 'template')}

## Fonts

{_table(card['counts']['font'], 'font')}

## Motions

{_table(card['counts']['motion'], 'motion tag')}
"""

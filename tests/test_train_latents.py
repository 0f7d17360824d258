"""The latent cache: the same latents, order and crops as encoding the video in the step; built once,
resumed, rebuilt where its source changed; training reads it."""

from __future__ import annotations

import json
import tarfile

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from kinetype.model import Autoencoder  # noqa: E402
from kinetype.model.presets import model_preset  # noqa: E402
from kinetype.train import latents  # noqa: E402
from kinetype.train.config import DataConfig  # noqa: E402
from kinetype.train.data import DataStream, prepare  # noqa: E402
from test_shards_helpers import render_fake  # noqa: E402

torch.set_num_threads(1)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    shards, _ = render_fake(tmp_path_factory.mktemp("data"), n=10, shard_size=4)  # shards of 4, 4 and 2 clips
    return shards


@pytest.fixture(scope="module")
def autoencoder():
    torch.manual_seed(0)
    return Autoencoder(model_preset("tiny").autoencoder).eval()


def build(shards, ae, run, **kw):
    """The cache folder of (shards, autoencoder, size), built or completed as the training loop does."""
    cache = latents.cache_folder(str(shards), run, latents.autoencoder_digest(ae), 32)
    return latents.build_cache(latents.source_shards(str(shards)), cache, ae, prepare=prepare, size_px=32, device=CPU,
                               autocast=torch.autocast("cpu", enabled=False), workers=0, echo=lambda s: None, **kw)


def stream(shards, cache=None, single=False):
    cfg = DataConfig(shards=str(shards), size_px=32, num_frames=4, batch_size=2, shuffle_buffer=4)
    return DataStream(cfg, single_frame=single, seed=1, rank=0, world_size=1, latents=None if cache is None else cache if isinstance(cache, list) else str(cache))


def test_the_cache_gives_the_latents_order_and_crops_of_encoding_in_the_step(dataset, autoencoder, tmp_path):
    cache = build(dataset, autoencoder, tmp_path / "run")
    assert cache.parent == dataset / "latents"  # beside the dataset, keyed by autoencoder and size
    assert json.loads((cache / latents.CACHE_FILE).read_text())["size_px"] == 32
    for single in (False, True):
        from_video, from_cache = stream(dataset, single=single), stream(dataset, cache, single=single)
        for _ in range(4):
            v, c = prepare(next(from_video), 32, CPU), prepare(next(from_cache), 32, CPU)
            assert v["__key__"] == c["__key__"] and torch.equal(v["mask"], c["mask"])
            with torch.no_grad():
                encoded = autoencoder.encode(v["video"], v["mask"])
            assert c["latents"].shape == encoded.shape and "video" not in c
            torch.testing.assert_close(c["latents"], encoded, atol=4e-3, rtol=2e-3)  # float16 in the cache


def test_building_resumes_and_rebuilds_only_what_changed(dataset, autoencoder, tmp_path, monkeypatch):
    cache = build(dataset, autoencoder, tmp_path / "run")
    encoded = []
    real = Autoencoder.encode
    monkeypatch.setattr(Autoencoder, "encode", lambda self, v, m=None, **k: encoded.append(v.shape[0]) or real(self, v, m, **k))
    assert build(dataset, autoencoder, tmp_path / "run") == cache and encoded == []  # complete: nothing to do
    (cache / "shard-000001.stats.json").unlink()  # a build killed before shard 1's marker
    build(dataset, autoencoder, tmp_path / "run")
    assert encoded == [4]  # shard 1 alone, its 4 clips
    stats_file = dataset / "shard-000002.stats.json"  # the source of shard 2 changed
    stats = json.loads(stats_file.read_text())
    stats_file.write_text(json.dumps({**stats, "tar_sha256": "0" * 64}))
    try:
        build(dataset, autoencoder, tmp_path / "run")
    finally:
        stats_file.write_text(json.dumps(stats))
    assert encoded == [4, 2]
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporaries left
    torch.manual_seed(1)
    other = Autoencoder(model_preset("tiny").autoencoder).eval()  # other weights: another cache
    assert build(dataset, other, tmp_path / "run") != cache


def test_a_subset_of_the_shards_shares_the_dataset_cache_and_reads_only_its_own(dataset, autoencoder, tmp_path,
                                                                                monkeypatch):
    full = build(dataset, autoencoder, tmp_path / "run")
    encoded = []
    real = Autoencoder.encode
    monkeypatch.setattr(Autoencoder, "encode", lambda self, v, m=None, **k: encoded.append(v.shape[0]) or real(self, v, m, **k))
    subset = str(dataset / "shard-00000{0,2}.tar")  # a brace pattern within the dataset folder
    assert build(subset, autoencoder, tmp_path / "run") == full and encoded == []  # nothing encoded again
    (full / "shard-000002.stats.json").unlink()  # shard 2 not cached yet: the subset adds it
    build(subset, autoencoder, tmp_path / "run")
    assert encoded == [2] and json.loads((full / latents.CACHE_FILE).read_text())["sources"] == [
        "shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]  # the whole dataset's, not the subset's
    own = latents.cache_shards(full, subset)
    assert [p.rsplit("/", 1)[1] for p in own] == ["shard-000000.tar", "shard-000002.tar"]
    read = stream(dataset, own)
    keys = {k for _ in range(6) for k in next(read)["__key__"]}
    in_subset = {name.split(".", 1)[0] for n in (0, 2) for name in tarfile.open(dataset / f"shard-00000{n}.tar").getnames()}
    assert keys == in_subset  # the 6 clips of shards 0 and 2, none of shard 1's


def test_training_reads_the_cache_and_decodes_no_video(dataset, tmp_path, monkeypatch):
    from kinetype.data import ShardDataset
    from model_helpers import tiny_autoencoder_folder
    from kinetype.train import loop
    from kinetype.train.config import resolve

    ae = tiny_autoencoder_folder(tmp_path / "vae")
    cfg = resolve("tiny", overrides={
        "stage": "video", "out": str(tmp_path / "run"), "model": {"autoencoder": {"path": str(ae)}},
        "data": {"shards": str(dataset), "num_frames": 4, "batch_size": 2, "shuffle_buffer": 4, "latent_cache": True},
        "optim": {"max_steps": 3}, "checkpoint_every": 100})
    loop.train(cfg, stop_at_step=1, echo=lambda s: None)  # builds the cache
    decoded = []
    monkeypatch.setattr(ShardDataset, "decode", lambda self, raw, rng: decoded.append(1))  # the video path
    monkeypatch.setattr(Autoencoder, "encode", lambda *a, **k: pytest.fail("the encoder ran in a step"))
    out = loop.train(cfg, echo=lambda s: None)
    assert decoded == [] and (out / "model_index.json").is_file()


def test_a_decoder_fine_tune_keeps_the_cache_and_a_new_encoder_or_scale_does_not(autoencoder):
    import copy

    digest = latents.autoencoder_digest(autoencoder)
    decoder_tuned, encoder_changed, rescaled = (copy.deepcopy(autoencoder) for _ in range(3))
    with torch.no_grad():
        for model, moved in ((decoder_tuned, True), (encoder_changed, False)):
            model.freeze_encoder()  # the decoder trains, the encoder does not
            for p in model.parameters():
                if p.requires_grad == moved:
                    p.add_(0.01)
    rescaled.cfg.scaling_factor *= 2
    assert latents.autoencoder_digest(decoder_tuned) == digest  # the latents it makes are the same
    assert latents.autoencoder_digest(encoder_changed) != digest
    assert latents.autoencoder_digest(rescaled) != digest

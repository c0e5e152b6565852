"""Tests for pulse_teach.models: the float16 export format, safe loading, and the registry of names."""
from __future__ import annotations

import pickle

import pytest
import torch

from pulse_teach import models
from pulse_teach.models import FORMAT, list_models, load_generator, save_generator
from pulse_teach.stylegan2 import SMALL_64, Generator

TINY = dict(resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32, num_mapping_layers=2)
UNPICKLED = []  # filled if a file's pickled code ever runs


def _record_unpickling():
    UNPICKLED.append(True)
    return "ran"


class CodeOnLoad:
    """Pickles as 'call _record_unpickling()': plain pickle would run it, weights_only must refuse."""

    def __reduce__(self):
        return (_record_unpickling, ())


@pytest.fixture
def tiny() -> Generator:
    torch.manual_seed(0)
    G = Generator(**TINY)
    with torch.no_grad():
        G.mapping.w_avg.normal_()
        for p in G.parameters():
            p.add_(0.1 * torch.randn_like(p))  # noise strengths and biases away from their zero init
    return G


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "MODELS_DIR", tmp_path / "models")
    return tmp_path / "models"


def _outputs(G: Generator) -> torch.Tensor:
    G = G.to(memory_format=torch.channels_last)  # as load_generator leaves it on a CPU: bit-equal outputs
    z = torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return G(z, noise_mode="const")


def test_round_trip_gives_the_float16_rounded_generator(tiny, tmp_path):
    path = save_generator(tmp_path / "g.pt", tiny, {"skin_tone": {"light": 0.9, "dark": 0.1}, "betas": (0.0, 0.99)})
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == FORMAT and raw["config"] == tiny.config
    assert all(v.dtype == torch.float16 for v in raw["state_dict"].values() if v.is_floating_point())
    loaded = load_generator(path)
    assert loaded.meta == {"skin_tone": {"light": 0.9, "dark": 0.1}, "betas": [0.0, 0.99]}
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    rounded = Generator(**TINY)
    rounded.load_state_dict({k: v.half().float() for k, v in tiny.state_dict().items()})
    assert torch.equal(_outputs(loaded), _outputs(rounded))  # exactly the fp16 weights
    torch.testing.assert_close(_outputs(loaded), _outputs(tiny), atol=2e-2, rtol=0)  # close to the original


def test_export_of_the_small_config_is_small(tmp_path):
    path = save_generator(tmp_path / "small.pt", Generator(**SMALL_64))
    assert path.stat().st_size < 3.5e6  # 1.4 M parameters at 2 bytes; the limit for bundling is 10 MB


def test_meta_must_be_plain_data(tiny, tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        save_generator(tmp_path / "g.pt", tiny, {"generator": tiny})
    with pytest.raises(TypeError, match="Generator"):
        save_generator(tmp_path / "g.pt", torch.nn.Linear(2, 2))
    assert not (tmp_path / "g.pt").exists()


def test_loading_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "config": TINY, "state_dict": {}, "meta": CodeOnLoad()}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_generator(path)
    assert UNPICKLED == []


def test_loading_refuses_other_files(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(ValueError, match=r"weights.pt: no StyleGAN2 generator in this PyTorch checkpoint; it holds a "
                                         r"dict with keys state_dict \(expected .*pulse_teach export\)"):
        load_generator(path)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="faces64-skewed"):
        load_generator("faces128")


def test_missing_bundled_model_says_what_is_missing_and_how_to_get_it(models_dir):
    with pytest.raises(FileNotFoundError, match="bundled model .faces64. is missing.*reinstall.*model card"):
        load_generator("faces64")


def _bundled_presence() -> dict[str, bool]:
    return {row.name: row.present for row in list_models() if row.kind == "bundled"}


def test_bundled_names_load_from_the_models_folder(tiny, models_dir):
    assert _bundled_presence() == {"faces64": False, "faces64-skewed": False}
    save_generator(models_dir / "faces64.pt", tiny, {"skin_tone": "balanced"})
    assert _bundled_presence() == {"faces64": True, "faces64-skewed": False}
    loaded = load_generator("faces64", device="cpu")
    assert loaded.meta["skin_tone"] == "balanced" and loaded.config == tiny.config


def test_bundled_models_are_found_through_the_data_package():
    import importlib.resources
    assert models.MODELS_DIR == importlib.resources.files("pulse_teach.data") / "models"
    assert _bundled_presence() == {"faces64": True, "faces64-skewed": True}
    rows = {row.name: row for row in list_models()}
    assert set(rows) == {"faces64", "faces64-skewed", "ffhq-256", "ffhq-512", "ffhq-1024"}
    assert all(rows[n].kind == "nvidia" and rows[n].path.parent == models.cache_dir() / "checkpoints"
               for n in ("ffhq-256", "ffhq-512", "ffhq-1024"))


def test_ffhq_names_point_at_nvidia_and_list_their_download_size():
    rows = {row.name: row for row in list_models()}
    for name, res in (("ffhq-256", 256), ("ffhq-512", 512), ("ffhq-1024", 1024)):
        source = models.KNOWN_MODELS[name]
        assert source.url.startswith("https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/")
        assert not rows[name].present and 250 < rows[name].download_mb < 400 and str(res) in source.description
    table = models.format_models(list_models())
    assert "382 MB" in table and "ffhq-1024" in table


def test_ffhq_name_without_download_says_where_to_put_the_file():
    with pytest.raises(FileNotFoundError, match="nvlabs-fi-cdn.*ffhq.pkl"):
        load_generator("ffhq-1024", download=False)


@pytest.mark.parametrize("name, skin_tone", [("faces64", "balanced"), ("faces64-skewed", {"light": 0.9, "dark": 0.1})])
def test_bundled_models_load_offline_and_make_varied_faces(name, skin_tone):
    from pulse_teach.quality import generate

    assert models.model_path(name).stat().st_size <= 10 * 2**20
    G = load_generator(name)
    assert G.resolution == 64 and G.meta["skin_tone"] == skin_tone and not G.training
    images = generate(G, 16, seed=0)  # (16, 3, 64, 64) in [0, 1]
    assert images.std(dim=0).mean() > 0.05  # different latents, visibly different faces
    assert torch.equal(images, generate(G, 16, seed=0))


def test_skewed_model_keeps_its_skew():
    """The bias lesson's premise: read by the probe, the skewed model makes far fewer dark-skinned faces."""
    from pulse_teach import faces
    from pulse_teach.probe import load_probe
    from pulse_teach.quality import generate

    probe = load_probe()
    dark = {}
    for name in ("faces64", "faces64-skewed"):
        predicted = probe.predict(generate(load_generator(name), 400, seed=1))
        dark[name] = sum(faces.skin_group(p["skin_tone"]) == "dark" for p in predicted) / len(predicted)
    assert dark["faces64-skewed"] < 0.25 and dark["faces64"] > dark["faces64-skewed"] + 0.2, dark


def test_shipped_gaussian_fit_is_the_fit_of_the_stored_weights(tmp_path):
    """save_generator(..., gaussian_fit_samples) ships the fit: loading it makes fit_gaussian instant and equal."""
    from pulse_teach import latent
    from pulse_teach.models import save_generator
    from pulse_teach.stylegan2 import Generator

    torch.manual_seed(0)
    generator = Generator(resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32, num_mapping_layers=2)
    path = save_generator(tmp_path / "g.pt", generator, {"skin_tone": "balanced"}, gaussian_fit_samples=5000)
    latent._memory_cache.clear()
    loaded = load_generator(path)
    shipped = latent.fit_gaussian(loaded, 5000, cache=True)  # found in memory: no fitting
    fresh = latent.fit_gaussian(loaded, 5000, cache=False)  # what a fit of the loaded weights gives
    assert torch.equal(shipped.mean, fresh.mean) and torch.equal(shipped.std, fresh.std)
    assert shipped is latent._memory_cache[next(iter(latent._memory_cache))]


def test_a_generator_with_latent_codes_round_trips(tmp_path):
    G = Generator(**dict(TINY, z_codes={"skin_tone": "balanced"}))
    loaded = load_generator(save_generator(tmp_path / "codes.pt", G))
    assert loaded.config["z_codes"] == {"skin_tone": "balanced"}
    assert loaded.mapping.codes.num_features == 56 + TINY["z_dim"] - 30
    rounded = Generator(**dict(TINY, z_codes={"skin_tone": "balanced"}))
    rounded.load_state_dict({k: v.half().float() for k, v in G.state_dict().items()})
    assert torch.equal(_outputs(loaded), _outputs(rounded))

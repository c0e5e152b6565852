import torch

from pulse_teach import latent
from pulse_teach.latent import GaussianFit, fit_gaussian, mapping_fingerprint
from pulse_teach.stylegan2 import SMALL_64, Generator


def small_generator(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return Generator(**SMALL_64).eval()


def test_to_w_and_from_w_are_inverse():
    fit = GaussianFit(mean=torch.randn(16), std=torch.rand(16) + 0.1, num_samples=2)
    v = torch.randn(3, 5, 16)
    assert torch.allclose(fit.from_w(fit.to_w(v)), v, atol=1e-5)


def test_fit_makes_the_mapping_output_standard_normal(tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_TEACH_CACHE", str(tmp_path))
    g = small_generator()
    fit = fit_gaussian(g, num_samples=20_000, chunk_size=3_000, cache=False)
    with torch.no_grad():
        w = g.mapping(torch.randn(5_000, g.z_dim))[:, 0]
    v = fit.from_w(w)  # fresh samples in search coordinates
    assert v.mean(0).abs().max() < 0.1
    assert (v.std(0) - 1).abs().max() < 0.1
    # the chunk size changes nothing but memory
    same = fit_gaussian(g, num_samples=20_000, chunk_size=20_000, cache=False)
    assert torch.allclose(fit.mean, same.mean, atol=1e-5) and torch.allclose(fit.std, same.std, atol=1e-5)


def test_fit_is_cached_per_generator_in_memory_and_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_TEACH_CACHE", str(tmp_path))
    g, other = small_generator(0), small_generator(1)
    assert mapping_fingerprint(g) != mapping_fingerprint(other)
    steps = []
    first = fit_gaussian(g, num_samples=4_000, chunk_size=1_000, progress=lambda done, total: steps.append(done))
    assert steps == [1_000, 2_000, 3_000, 4_000]
    assert fit_gaussian(g, num_samples=4_000) is first
    files = list((tmp_path / "gaussian_fit").glob("*.pt"))
    assert len(files) == 1
    latent._memory_cache.clear()
    from_disk = fit_gaussian(g, num_samples=4_000, progress=lambda *a: steps.append("refit"))
    assert "refit" not in steps and torch.equal(from_disk.mean, first.mean)
    assert not torch.equal(fit_gaussian(other, num_samples=4_000).mean, first.mean)

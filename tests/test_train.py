"""Tests for pulse_teach.train: steps that learn, lazy R1, EMA, exact resume, Ctrl-C, samples and export."""
from __future__ import annotations

import dataclasses
import math
import os
import signal

import pytest
import torch
from PIL import Image

from pulse_teach.models import load_generator
from pulse_teach.train import TrainConfig, Trainer, face_batches


def tiny_config(**changes) -> TrainConfig:
    """16x16 faces, a few thousand parameters, batch 4: a step takes milliseconds."""
    config = TrainConfig(
        generator=dict(resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32, num_mapping_layers=2),
        discriminator=dict(channel_base=128, channel_max=32), batch=4, r1_interval=2, ema_kimg=0.01,
        noise_max_res=8, max_minutes=None, max_steps=4, sample_minutes=60, checkpoint_minutes=60)
    return dataclasses.replace(config, **changes)


def _tensors(trainer: Trainer) -> dict[str, torch.Tensor]:
    """A copy of every tensor that defines the training state, in one dict."""
    out = {}
    for name in ("G", "D", "G_ema"):
        out.update({f"{name}.{k}": v.clone() for k, v in getattr(trainer, name).state_dict().items()})
    for name in ("opt_g", "opt_d"):
        for i, state in getattr(trainer, name).state_dict()["state"].items():
            out.update({f"{name}.{i}.{k}": v.clone() for k, v in state.items()})
    return out


def _assert_same_state(a: Trainer, b: Trainer) -> None:
    ta, tb = _tensors(a), _tensors(b)
    assert ta.keys() == tb.keys()
    for key in ta:
        assert torch.equal(ta[key], tb[key]), key
    assert (a.step, a.nimg) == (b.step, b.nimg)
    assert torch.equal(a.rng.get_state(), b.rng.get_state())


def test_steps_learn_with_finite_losses_and_lazy_r1(tmp_path):
    trainer = Trainer(tiny_config(max_steps=5), tmp_path)
    before = _tensors(trainer)
    events = []
    assert trainer.run(events.append) == "max_steps"
    steps = [e for e in events if e.kind == "step"]
    assert [e.step for e in steps] == [1, 2, 3, 4, 5] and steps[-1].kimg == 5 * 4 / 1000
    assert all(math.isfinite(v) for e in steps for v in e.losses.values())
    assert [e.step for e in steps if "R1" in e.losses] == [1, 3, 5]  # steps 0, 2, 4 of an interval of 2
    after = _tensors(trainer)
    for name in ("G.synthesis.b16.conv1.weight", "G.mapping.fc0.weight", "D.fromrgb.weight", "D.out.weight"):
        assert not torch.equal(before[name], after[name]), name
    noise = dict(trainer.G.named_parameters())
    assert noise["synthesis.b8.conv1.noise_strength"] != 0  # learns at <= noise_max_res
    assert noise["synthesis.b16.conv1.noise_strength"] == 0  # frozen above it, but present


def test_ema_differs_from_g_and_moves_toward_it(tmp_path):
    trainer = Trainer(tiny_config(max_steps=3), tmp_path)
    trainer.run()

    def distance() -> float:
        return sum((p - q).square().sum().item() for p, q in zip(trainer.G.parameters(), trainer.G_ema.parameters()))

    d0 = distance()
    trainer._update_ema(trainer.config.batch)  # G held still: the average must come closer
    assert 0 < distance() < d0
    assert torch.equal(trainer.G_ema.mapping.w_avg, trainer.G.mapping.w_avg)  # buffers are copied


def test_resume_continues_exactly_where_it_stopped(tmp_path):
    straight = Trainer(tiny_config(max_steps=4), tmp_path / "a")
    straight.run()
    first = Trainer(tiny_config(max_steps=2), tmp_path / "b")
    first.run()
    resumed = Trainer(tiny_config(max_steps=4), tmp_path / "b")  # max_steps may change on resume
    _assert_same_state(first, resumed)
    resumed.run()
    _assert_same_state(straight, resumed)  # same data, latents, noise and updates as without a break


def test_resume_refuses_other_settings(tmp_path):
    Trainer(tiny_config(max_steps=1), tmp_path).run()
    with pytest.raises(ValueError, match="batch"):
        Trainer(tiny_config(batch=8), tmp_path)
    assert Trainer.saved_config(tmp_path).batch == 4 and Trainer.saved_config(tmp_path / "none") is None


def test_fine_tune_starts_from_the_parent_and_records_it(tmp_path):
    parent = Trainer(tiny_config(max_steps=2), tmp_path / "parent")
    parent.run()
    child = Trainer(tiny_config(max_steps=3, skin_tone="dark", init_from=str(tmp_path / "parent")), tmp_path / "child")
    _assert_same_state(parent, child)  # weights, optimisers and counts carry over; the data changes
    child.run()
    assert child.step == 3 and not torch.equal(child.G_ema.mapping.w_avg, parent.G_ema.mapping.w_avg)
    meta = load_generator(child.export(tmp_path / "g.pt")).meta
    assert meta["skin_tone"] == "dark" and meta["init_from"]["steps"] == 2
    assert meta["init_from"]["skin_tone"] == "balanced"
    slower = Trainer(tiny_config(lr_g=1e-4, lr_d=5e-5, init_from=str(tmp_path / "parent")), tmp_path / "slower")
    assert [g["lr"] for g in slower.opt_g.param_groups + slower.opt_d.param_groups] == [1e-4, 5e-5]  # not the parent's
    with pytest.raises(ValueError, match="generator"):
        Trainer(tiny_config(init_from=str(tmp_path / "parent"), generator=dict(tiny_config().generator, w_dim=16)),
                tmp_path / "other")
    with pytest.raises(ValueError, match="no checkpoint"):
        Trainer(tiny_config(init_from=str(tmp_path / "missing")), tmp_path / "third")


def test_keyboard_interrupt_from_callback_saves_and_returns(tmp_path):
    def stop_at_3(event):
        if event.kind == "step" and event.step == 3:
            raise KeyboardInterrupt

    trainer = Trainer(tiny_config(max_steps=10), tmp_path)
    assert trainer.run(stop_at_3) == "interrupted"
    assert Trainer(tiny_config(max_steps=10), tmp_path).step == 3


def test_ctrl_c_stops_after_the_current_step(tmp_path):
    def ctrl_c_at_2(event):
        if event.kind == "step" and event.step == 2:
            os.kill(os.getpid(), signal.SIGINT)  # as if typed: handled, so the step counter stays whole

    handler = signal.getsignal(signal.SIGINT)
    trainer = Trainer(tiny_config(max_steps=10), tmp_path)
    assert trainer.run(ctrl_c_at_2) == "interrupted"
    assert trainer.step == 2 and Trainer(None, tmp_path).step == 2
    assert signal.getsignal(signal.SIGINT) is handler  # restored


def test_sample_grids_are_written(tmp_path):
    events = []
    Trainer(tiny_config(max_steps=2), tmp_path).run(events.append)
    samples = [e.path for e in events if e.kind == "sample"]
    assert samples == [tmp_path / "samples" / "step000000.png", tmp_path / "samples" / "step000002.png"]
    with Image.open(samples[-1]) as image:
        assert image.size == (8 * 18 + 2, 8 * 18 + 2)  # 8x8 faces of 16 px with 2 px gaps
    assert (tmp_path / "log.jsonl").read_text().count("\n") == 1


def test_export_round_trip(tmp_path):
    trainer = Trainer(tiny_config(max_steps=2, skin_tone={"light": 0.9, "dark": 0.1}), tmp_path)
    trainer.run()
    loaded = load_generator(trainer.export(tmp_path / "g.pt"))
    assert loaded.meta["skin_tone"] == {"light": 0.9, "dark": 0.1} and loaded.meta["steps"] == 2
    z = torch.randn(4, loaded.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(loaded(z), trainer.G_ema(z), atol=2e-2, rtol=0)


def test_face_batches_are_the_same_with_render_workers():
    inline = face_batches(3, 16, first_seed=5, skin_tone="dark")
    pooled = face_batches(3, 16, first_seed=5, skin_tone="dark", workers=2)
    for _ in range(5):  # more batches than are in flight at once
        a, b = next(inline), next(pooled)
        assert a.shape == (3, 3, 16, 16) and a.dtype == torch.uint8 and torch.equal(a, b)
    pooled.close()


def test_cli_trains_exports_and_resumes(tmp_path, capsys):
    from pulse_teach.cli import main

    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--kimg", "0.032", "--skin", "skewed", "--snapshots"]) == 0  # 1 step
    assert load_generator(out / "samples" / "step000001.pt").meta["steps"] == 1  # a snapshot next to the grid
    generator = load_generator(out / "generator.pt")
    assert generator.resolution == 64 and generator.meta["skin_tone"] == {"light": 0.9, "dark": 0.1}
    assert generator.meta["steps"] == 1 and (out / "samples" / "step000001.png").is_file()
    assert main(["train", "--out", str(out), "--batch", "16"]) == 2  # resuming with other settings is refused
    assert "batch: run has 32" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--kimg", "0.064", "--export", str(tmp_path / "g.pt")]) == 0
    assert load_generator(tmp_path / "g.pt").meta["steps"] == 2  # resumed with the run's skin tones
    assert load_generator(tmp_path / "g.pt").meta["skin_tone"] == {"light": 0.9, "dark": 0.1}
    child = tmp_path / "child"  # a fine-tune with a wider D: that D starts afresh, G carries on
    assert main(["train", "--out", str(child), "--init-from", str(out), "--kimg", "0.096", "--d-channels", "2048"]) == 0
    assert Trainer.saved_config(child).discriminator["channel_base"] == 2048
    assert load_generator(child / "generator.pt").meta["steps"] == 3


def test_augment_shifts_and_cuts_alike_and_passes_gradients():
    from pulse_teach.discriminator import augment
    images = torch.rand(6, 3, 16, 16, requires_grad=True)
    assert torch.equal(augment(images, "", torch.Generator().manual_seed(0)), images)
    shifted = augment(images, "translation", torch.Generator().manual_seed(1))
    assert shifted.shape == images.shape and not torch.equal(shifted, images)
    # every output pixel is an input pixel of the same sample and channel, or the zero border
    for i in range(6):
        values = set(images[i].detach().flatten().tolist()) | {0.0}
        assert set(shifted[i].detach().flatten().tolist()) <= values
    cut = augment(images, "cutout", torch.Generator().manual_seed(2))
    assert ((cut == 0).all(dim=1).sum(dim=(1, 2)) >= 9).all()  # a blank square (>= 3x3) in every sample
    (shifted.sum() + cut.sum()).backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="unknown augment"):
        augment(images, "rotate", torch.Generator())


def test_augment_and_probe_head_train_and_resume(tmp_path):
    config = tiny_config(augment="translation,cutout", max_steps=2,
                         generator=dict(resolution=64, z_dim=32, w_dim=32, channel_base=256, channel_max=32,
                                        num_mapping_layers=2), probe_d=1.0)
    trainer = Trainer(config, tmp_path)
    head = {k: v.clone() for k, v in trainer.probe_head.state_dict().items()}
    assert trainer.run() == "max_steps"
    assert any(not torch.equal(head[k], v) for k, v in trainer.probe_head.state_dict().items())  # D's head learns
    resumed = Trainer(dataclasses.replace(config, max_steps=3), tmp_path)
    for k, v in trainer.probe_head.state_dict().items():
        assert torch.equal(resumed.probe_head.state_dict()[k], v)
    assert resumed.run() == "max_steps" and resumed.step == 3
    with pytest.raises(ValueError, match="probe_d needs 64x64"):
        Trainer(tiny_config(probe_d=1.0), tmp_path / "small")
    plain = Trainer(dataclasses.replace(config, probe_d=0.0, max_steps=1), tmp_path / "plain")
    plain.run()  # a parent without the head: its D optimiser has no moments for one
    child = Trainer(dataclasses.replace(config, init_from=str(tmp_path / "plain"), max_steps=2), tmp_path / "child")
    assert torch.equal(child.D.fromrgb.weight, plain.D.fromrgb.weight) and child.run() == "max_steps"


def test_checkpoint_without_optimiser_moments_resumes(tmp_path):
    trainer = Trainer(tiny_config(max_steps=2), tmp_path)
    trainer.run()
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    checkpoint.update(opt_g=None, opt_d=None)  # as benchmarks/gpu_lease.sh ships them: weights only
    torch.save(checkpoint, tmp_path / "checkpoint.pt")
    resumed = Trainer(tiny_config(max_steps=3), tmp_path)
    assert torch.equal(resumed.G.mapping.fc0.weight, trainer.G.mapping.fc0.weight) and resumed.step == 2
    assert resumed.run() == "max_steps" and resumed.step == 3


def test_paired_terms_pull_fakes_towards_their_renders(tmp_path):
    config = tiny_config(generator=dict(resolution=64, z_dim=32, w_dim=32, channel_base=256, channel_max=32,
                                        num_mapping_layers=2), paired=1.0, paired_probe=1.0, style_mixing=0.0)
    trainer = Trainer(config, tmp_path)
    z = torch.randn(6, 32, generator=torch.Generator().manual_seed(1))
    ws = trainer.G.mapping(z).detach()  # (6, num_ws, w_dim); the terms below train the synthesis only
    before = trainer.paired_loss(trainer.G.synthesis(ws, noise_mode="const"), z)
    assert set(before) == {"L1", "probe"} and all(v > 0 for v in before.values())
    for term in ("L1", "probe"):  # each term alone, minimised, falls: it pulls the fakes towards the renders
        start = trainer.paired_loss(trainer.G.synthesis(ws, noise_mode="const"), z)[term].item()
        opt = torch.optim.Adam(trainer.G.synthesis.parameters(), 1e-2)
        for _ in range(10):
            loss = trainer.paired_loss(trainer.G.synthesis(ws, noise_mode="const"), z)[term]
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert trainer.paired_loss(trainer.G.synthesis(ws, noise_mode="const"), z)[term].item() < 0.9 * start, term
    events = []
    assert trainer.run(events.append) == "max_steps"
    assert all("paired_L1" in e.losses and "paired_probe" in e.losses for e in events if e.kind == "step")
    with pytest.raises(ValueError, match="z_dim >= 30"):
        Trainer(tiny_config(paired=1.0, generator=dict(tiny_config().generator, z_dim=16)), tmp_path / "z16")


def test_regression_only_trains_no_discriminator_and_a_fine_tune_takes_its_own_betas(tmp_path):
    config = tiny_config(generator=dict(tiny_config().generator, z_dim=32), paired=1.0, adversarial=0.0,
                         style_mixing=0.0, betas=(0.9, 0.99), lr_g=1e-2)
    trainer = Trainer(config, tmp_path / "paired")
    d_before = {k: v.clone() for k, v in trainer.D.state_dict().items()}
    events = []
    trainer.run(events.append)
    steps = [e for e in events if e.kind == "step"]
    assert len(steps) == 4 and all("D" not in e.losses and e.losses["paired_L1"] > 0 for e in steps)
    assert all(torch.equal(v, trainer.D.state_dict()[k]) for k, v in d_before.items())  # D untouched
    assert not trainer.opt_d.state_dict()["state"]  # and no optimiser moments for it
    gan = Trainer(tiny_config(generator=config.generator, init_from=str(tmp_path / "paired"), max_steps=6),
                  tmp_path / "gan")  # the adversarial phase: the default momentum-free betas, not the parent's
    assert [g["betas"] for g in gan.opt_g.param_groups + gan.opt_d.param_groups] == [(0.0, 0.99)] * 2
    gan.run()
    assert gan.step == 6
    wide = dict(channel_base=256, channel_max=64)  # the GAN phase may bring a stronger, fresh D
    assert wide != tiny_config().discriminator
    strong = Trainer(tiny_config(generator=config.generator, discriminator=wide, init_from=str(tmp_path / "paired"),
                                 max_steps=6), tmp_path / "strong")
    assert torch.equal(strong.G.mapping.fc0.weight, trainer.G.mapping.fc0.weight) and strong.step == 4
    assert not strong.opt_d.state_dict()["state"] and strong.run() == "max_steps"
    with pytest.raises(ValueError, match="nothing to learn"):
        Trainer(tiny_config(adversarial=0.0), tmp_path / "nothing")


def test_discriminator_conv_layer_is_lrelu_of_the_equalised_conv_times_its_gain():
    from pulse_teach.discriminator import Conv2dLayer

    torch.manual_seed(6)
    layer = Conv2dLayer(4, 5, 3)
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    expected = torch.nn.functional.leaky_relu(torch.nn.functional.conv2d(
        x, layer.weight / math.sqrt(4 * 9), layer.bias, padding=1), 0.2) * math.sqrt(2)
    got = layer(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    (grad,) = torch.autograd.grad(got.square().sum(), x, create_graph=True)  # R1 differentiates twice
    (expected_grad,) = torch.autograd.grad(expected.square().sum(), x, create_graph=True)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-5, atol=1e-5)
    grad.square().sum().backward()
    assert layer.weight.grad is not None and torch.isfinite(layer.weight.grad).all()

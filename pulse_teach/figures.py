"""Static matplotlib figures shared by the command line and the notebooks (no pyplot state, no widgets)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.figure import Figure

from .images import enlarge, grid_cell, make_grid, to_display

if TYPE_CHECKING:
    from .pulse import PulseResult


def _show(ax, image: torch.Tensor, title: str = "", color: str = "black") -> None:
    ax.imshow(to_display(image), interpolation="nearest")
    ax.set_title(title, fontsize=8, color=color)
    ax.set_xticks([])
    ax.set_yticks([])


def pulse_figure(result, truth: torch.Tensor | None = None, title: str | None = None, max_seeds: int = 8,
                 truth_label: str = "truth (unseen)") -> Figure:
    """Truth or input | solutions (top), input | each solution downscaled (middle), per-seed MSE curves (bottom).

    Every accepted solution downscales to (almost) the same low-res picture, yet they differ: that is
    the point. ``truth`` (3, R, R), when known, is shown for comparison (titled ``truth_label``);
    PULSE never sees it.
    """
    s = min(len(result.seeds), max_seeds)
    cols = s + 1
    fig = Figure(figsize=(max(1.2 * cols, 6.0), 4.8), layout="constrained")  # 9 columns: 860 px at 80 dpi
    grid = fig.add_gridspec(3, cols, height_ratios=[1, 1, 1.1])
    big = result.images.shape[-1]
    target = enlarge(result.target, big)
    if truth is None:
        _show(fig.add_subplot(grid[0, 0]), target, f"input {result.target.shape[-1]}px")
    else:
        _show(fig.add_subplot(grid[0, 0]), truth, truth_label)
    _show(fig.add_subplot(grid[1, 0]), target, f"input {result.target.shape[-1]}px")
    for i in range(s):
        ok = bool(result.accepted[i])
        color = "tab:green" if ok else "tab:red"
        _show(fig.add_subplot(grid[0, i + 1]), result.images[i], f"seed {result.seeds[i]}", color)
        _show(fig.add_subplot(grid[1, i + 1]), enlarge(result.downscaled[i], big),
              f"MSE {float(result.l2[i]):.1e}" + ("" if ok else " ✗"), color)
    ax = fig.add_subplot(grid[2, :])
    l2 = result.history["l2"].numpy()  # (T, S)
    ax.semilogy(np.arange(1, len(l2) + 1), l2[:, :s], lw=1)
    ax.axhline(result.config.eps, color="black", ls="--", lw=1, label=f"eps = {result.config.eps:g}")
    ax.set_xlabel("step")
    ax.set_ylabel("downscaling MSE")
    ax.legend(loc="upper right", fontsize=8)
    shown = "" if s == len(result.seeds) else f"; the first {s} shown"
    fig.suptitle(title or f"PULSE x{result.factor}: {result.num_accepted}/{len(result.seeds)} seeds within eps "
                 f"(green{shown}) - each one imagined, none recovered", fontsize=9)
    return fig


def images_figure(images: torch.Tensor, title: str = "", ncol: int | None = None, width: float = 8.0,
                  labels: list[str] | None = None) -> Figure:
    """(N, 3, H, W) images in [0, 1] as one grid, ``width`` inches wide, with an optional title above and
    an optional label in the corner of each image. Raises ValueError for a label count other than N."""
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"need one label per image, got {len(labels)} labels for {len(images)} images")
    grid = make_grid(images.detach().clamp(0, 1).cpu(), ncol=ncol)  # (3, H', W')
    height = width * grid.shape[1] / grid.shape[2]
    fig = Figure(figsize=(width, height + (0.3 if title else 0)))
    ax = fig.add_axes((0, 0, 1, height / (height + (0.3 if title else 0))))
    ax.imshow(to_display(grid), interpolation="nearest")
    ax.axis("off")
    columns, (h, w) = ncol or int(np.ceil(np.sqrt(len(images)))), images.shape[-2:]  # as make_grid lays them out
    for i, label in enumerate(labels or []):
        top, left = grid_cell(i, columns, h, w)
        ax.text(left + 1, top + 1, label, fontsize=8, va="top", color="white",
                bbox={"facecolor": "black", "alpha": 0.6, "pad": 1, "linewidth": 0})
    if title:
        fig.suptitle(title, fontsize=10, y=0.995, va="top")
    return fig


def gallery_figure(result: PulseResult, max_per_row: int = 8) -> Figure:
    """Accepted solutions over their downscales (all ~ the input), and the rejected ones apart."""
    accepted = result.accepted.nonzero().flatten().tolist()[:max_per_row]
    rejected = (~result.accepted).nonzero().flatten().tolist()[:max_per_row]
    groups = [("accepted: each shrinks to the input", accepted, "tab:green"),
              ("rejected: not within eps of the input", rejected, "tab:red")]
    groups = [g for g in groups if g[1]]
    cols = 1 + max(len(g[1]) for g in groups)
    fig = Figure(figsize=(1.3 * cols, 2.7 * len(groups) + 0.3), layout="constrained")
    big = result.images.shape[-1]
    target = enlarge(result.target, big)
    subfigs = fig.subfigures(len(groups), 1, squeeze=False)[:, 0]
    for sub, (name, slots, color) in zip(subfigs, groups):
        axes = sub.subplots(2, cols, squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        axes[0, 0].imshow(to_display(target), interpolation="nearest")
        axes[0, 0].set_title(f"input {result.target.shape[-1]}px", fontsize=8)
        for j, i in enumerate(slots, start=1):
            axes[0, j].imshow(to_display(result.images[i]))
            axes[0, j].set_title(f"seed {result.seeds[i]}", fontsize=8, color=color)
            axes[1, j].imshow(to_display(enlarge(result.downscaled[i], big)),
                              interpolation="nearest")
            axes[1, j].set_title(f"MSE {float(result.l2[i]):.1e}", fontsize=7)
        axes[1, 0].text(0.5, 0.5, "each one\ndownscaled \u2192", ha="center", va="center", fontsize=8)
        sub.suptitle(f"{name} ({len(slots)}; eps {result.config.eps:g})", fontsize=9, color=color)
    return fig


def _tone_strip(images: torch.Tensor, tones: list, columns: int, swatch: int = 18) -> torch.Tensor:
    """(N, 3, R, R) faces side by side, each over a swatch of its skin tone's colour (none for a None
    tone): (3, R + swatch + 4, W)."""
    from .faces import skin_color

    r = images.shape[-1] if len(images) else 64
    cells = torch.ones(columns, 3, r + swatch, r)  # empty cells stay white
    for i, (image, tone) in enumerate(zip(images[:columns], tones)):
        cells[i, :, :r] = image.detach().float().clamp(0, 1).cpu()
        if tone is not None:
            cells[i, :, r + 2:] = torch.tensor(skin_color(tone), dtype=torch.float32)[:, None, None] / 255
    return make_grid(cells, ncol=columns, pad=2)


def bias_figure(report: dict, results: dict[tuple[str, str], "PulseResult"], samples: list,
                max_faces: int = 6) -> Figure:
    """One row per sample: its low-res input and true face, then each model's accepted solutions (up to
    ``max_faces``), each over a swatch of the skin tone the probe reads on it, with that tone's value.

    The titles give, per model, the accepted count and the share read as dark over *all* accepted
    solutions. ``report`` is ``recovery.bias_experiment``'s, with its per-solution ``skin_tones``.
    Returns a matplotlib Figure (no pyplot).
    """
    from .faces import SKIN_THRESHOLD

    names, side = list(report["models"]), report["side"]
    columns = max(min(max_faces, len(report["seeds"])), 6)  # room for the titles however few seeds
    cell = 0.6  # inches per face
    fig = Figure(figsize=(cell * (2 + columns * len(names)) + 0.3 * len(names), 1.15 * len(samples) + 0.6),
                 layout="constrained")
    grid = fig.add_gridspec(len(samples), 1 + len(names), width_ratios=[2] + [columns] * len(names))
    for k, sample in enumerate(samples):
        truth_tone = float(sample.attributes["skin_tone"])
        pair = torch.stack([enlarge(sample.low_res[side], sample.truth.shape[-1]), sample.truth])  # (2, 3, R, R)
        ax = fig.add_subplot(grid[k, 0])
        ax.imshow(to_display(_tone_strip(pair, [None, truth_tone], 2)), interpolation="nearest")
        ax.set_title(f"{sample.name}: input, truth", fontsize=8, loc="left")
        ax.text(0.75, 0.02, f"{truth_tone:.2f}", transform=ax.transAxes, ha="center", va="bottom", fontsize=7,
                color="white" if truth_tone >= SKIN_THRESHOLD else "black")
        ax.axis("off")
        for m, name in enumerate(names):
            result, stats = results[name, sample.name], report["models"][name]["per_sample"][sample.name]
            tones = stats["skin_tones"]
            ax = fig.add_subplot(grid[k, 1 + m])
            ax.imshow(to_display(_tone_strip(result.accepted_images, tones, columns)))
            for j, tone in enumerate(tones[:columns]):
                ax.text((j + 0.5) / columns, 0.02, f"{tone:.2f}", transform=ax.transAxes, ha="center", va="bottom",
                        fontsize=7, color="white" if tone >= SKIN_THRESHOLD else "black")
            dark = stats["share_dark"]
            reading = "" if dark != dark else f", {dark:.0%} read dark, mean tone {stats['mean_skin_tone']:.2f}"
            ax.set_title(f"{name}: {stats['accepted']}/{stats['seeds']} accepted{reading}", fontsize=8, loc="left")
            ax.axis("off")
    fig.suptitle(f"The same dark-skinned {side}x{side} inputs through each generator ({report['steps']} steps, "
                 f"{len(report['seeds'])} seeds; up to {columns} accepted solutions shown)\nunder each face: the skin "
                 f"tone the probe reads (0 = lightest, 1 = darkest; {SKIN_THRESHOLD:g} and above read as dark)",
                 fontsize=9)
    return fig


def picture(ax, image: torch.Tensor, title: str = "", size: int = 64, color: str = "black", ylabel: str = "") -> None:
    """One (3, h, w) image in [0, 1] on an axis, enlarged to ``size`` so that the pixels of small ones show."""
    ax.imshow(to_display(enlarge(image.detach().float(), size)), interpolation="nearest")
    ax.set_title(title, fontsize=8, color=color)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set(xticks=[], yticks=[])


def sphere_search_figure(target: torch.Tensor, searches: dict[str, PulseResult], latent_norms: dict[str, torch.Tensor],
                         radius: float) -> Figure:
    """Lesson 03: searches from the same seeds side by side (one row each: the (3, h, w) input, then each
    seed's solution), their mean MSE per step, and ``latent_norms[name]`` ((S, num_ws): the norm of each
    per-layer latent of the solutions) against the sphere ``radius``."""
    fig = Figure(figsize=(10, 5.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.25, 1])
    seeds = min(len(result.images) for result in searches.values())
    axes = top.subplots(len(searches), seeds + 1, squeeze=False)
    for row, (name, result) in enumerate(searches.items()):
        picture(axes[row, 0], target, "input 8px" if row == 0 else "", ylabel=name)
        for i in range(seeds):
            picture(axes[row, i + 1], result.images[i])
    ax_mse, ax_norm = bottom.subplots(1, 2)
    for (name, result), color in zip(searches.items(), ("tab:red", "tab:blue", "tab:green", "tab:orange")):
        ax_mse.semilogy(result.history["l2"].mean(1), color=color, label=name)
        norms = latent_norms[name]
        ax_norm.plot(norms.T, "o", color=color, ms=3, label=[name] + [None] * (len(norms) - 1))
    ax_norm.axhline(radius, color="black", ls=":", lw=1, label="sqrt(d)")
    ax_mse.set(xlabel="step", ylabel="MSE to the input", title="downscaling MSE (mean over seeds)")
    highest = max(float(n.max()) for n in latent_norms.values())
    ax_norm.set(xlabel="layer", ylabel="latent norm", ylim=(0, 1.3 * max(highest, radius)),  # a band for the legend
                title="norm of each per-layer latent of the solutions")
    ax_mse.legend(fontsize=8)
    ax_norm.legend(fontsize=8, loc="upper center", ncol=3)  # above every point, not over one
    return fig


def interpolation_figure(ts: torch.Tensor, path_norms: dict[str, torch.Tensor], distances: dict[str, torch.Tensor],
                         average: torch.Tensor) -> Figure:
    """Lesson 03: per path (lerp, slerp) its norm / sqrt(d) and its pictures' distance to the average face
    along t, next to the (3, H, W) average face itself."""
    fig = Figure(figsize=(10, 2.8), layout="constrained")
    ax_norm, ax_avg, ax_img = fig.subplots(1, 3, width_ratios=[1, 1, 0.5])
    for name in path_norms:
        ax_norm.plot(ts, path_norms[name], "o-", label=name)
        ax_avg.plot(ts, distances[name], "o-", label=name)
    ax_norm.set(xlabel="t", ylabel=r"$\|v(t)\| / \sqrt{d}$", ylim=(0, 1.1), title="norm along the path")
    ax_avg.set(xlabel="t", ylabel="mean |pixel difference|", title="distance to the average face")
    ax_norm.legend()
    picture(ax_img, average, "average face (v = 0)")
    return fig


def eps_figure(rows: list[dict], ntire_db: float = 45.0) -> Figure:
    """Lesson 02: ``recovery.eps_sweep`` rows as three panels against eps (log axis): seeds accepted and
    the median step they got there, the low-res PSNR of accepted solutions (with NTIRE 2021's bar), and
    how different the accepted solutions are (mean pairwise RMS)."""
    eps = [r["eps"] for r in rows]
    fig = Figure(figsize=(10, 2.9), layout="constrained")
    ax_acc, ax_psnr, ax_div = fig.subplots(1, 3)
    ax_acc.plot(eps, [r["accepted"] / r["seeds"] for r in rows], "o-", label="share accepted")
    ax_acc.set(ylim=(0, 1.05), ylabel="share of seeds accepted", title="acceptance")
    steps = ax_acc.twinx()
    steps.plot(eps, [r["median_step"] for r in rows], "s--", color="tab:orange", label="median step to eps")
    steps.set_ylabel("median step to eps", color="tab:orange")
    ax_psnr.plot(eps, [r["psnr_db"] for r in rows], "o-")
    ax_psnr.axhline(ntire_db, color="black", ls=":", lw=1, label=f"NTIRE 2021 bar ({ntire_db:g} dB)")
    ax_psnr.set(ylabel="low-res PSNR of accepted (dB)", title="consistency with the input")
    ax_psnr.legend(fontsize=8)
    ax_div.plot(eps, [r["diversity"] for r in rows], "o-", color="tab:green")
    ax_div.set(ylabel="mean pairwise RMS", title="how different the answers are")
    for ax in (ax_acc, ax_psnr, ax_div):
        ax.set_xscale("log")
        ax.set_xlabel("eps (MSE tolerance)")
    return fig


def agreement_figure(summary: dict, title: str) -> Figure:
    """Lesson 05: per attribute (``summary[name]`` with "agreement", "chance", "coarse"), how often the
    solutions match the truth (bars; blue coarse, orange fine) against chance (black ticks)."""
    names = list(summary)
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(names))
    colours = ["tab:blue" if summary[n]["coarse"] else "tab:orange" for n in names]
    ax.bar(x, [summary[n]["agreement"] for n in names], color=colours)
    ax.scatter(x, [summary[n]["chance"] for n in names], marker="_", s=400, color="black", zorder=3, label="chance")
    ax.set_xticks(x, names, rotation=40, ha="right", fontsize=8)
    ax.set_ylim(0, 1.22)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("solutions matching the truth")
    ax.axvline(sum(summary[n]["coarse"] for n in names) - 0.5, color="grey", lw=0.8, ls=":")
    ax.text(0.02, 0.97, "coarse: in the 8x8 input", color="tab:blue", transform=ax.transAxes, va="top", fontsize=8)
    ax.text(0.98, 0.97, "fine: not in the input", color="tab:orange", transform=ax.transAxes, va="top", ha="right",
            fontsize=8)
    ax.legend(loc="upper center", fontsize=8)
    ax.set_title(title, fontsize=9)
    return fig


def readings_figure(images: torch.Tensor, readings: list[dict], attributes: list[str], title: str,
                    confidences: list[dict] | None = None, unsure: float = 0.6,
                    names: list[str] | None = None) -> Figure:
    """Lesson 05: (N, 3, H, W) images, the first the truth, over a table of their ``attributes`` as
    ``readings[i]`` gives them: red where a reading differs from the truth's (``readings[0]``). With
    ``confidences`` (one dict per solution, ``AttributeProbe.confidence``) each reading shows the probe's
    probability, and readings below ``unsure`` are grey: the probe is guessing. ``names``: a title per
    solution (default "solution 1", ...; e.g. the seeds, as the gallery names them)."""
    columns = max(len(images), 6)
    fig = Figure(figsize=(1.1 * (columns + 1), 1.25 + 0.22 * len(attributes) + 0.4), layout="constrained")
    grid = fig.add_gridspec(2, columns + 1, height_ratios=[1.25, 0.22 * len(attributes)])
    table = fig.add_subplot(grid[1, :])
    table.axis("off")
    table.set(xlim=(0, columns + 1), ylim=(len(attributes), 0))
    for k, attribute in enumerate(attributes):
        table.text(0.95, k + 0.5, attribute, ha="right", va="center", fontsize=8, color="0.3")
    for i, (image, reading) in enumerate(zip(images, readings)):
        ax = fig.add_subplot(grid[0, i + 1])
        ax.imshow(to_display(image))
        ax.set_title("truth (unseen)" if i == 0 else names[i - 1] if names else f"solution {i}", fontsize=8)
        ax.axis("off")
        for k, attribute in enumerate(attributes):
            p = confidences[i - 1].get(attribute) if confidences and i > 0 else None
            text = f"{reading[attribute]}" + ("" if p is None else f" {p:.0%}")
            color = "black" if i == 0 or reading[attribute] == readings[0][attribute] else "tab:red"
            guess = p is not None and p < unsure
            table.text(i + 1.5, k + 0.5, text, ha="center", va="center", fontsize=8,
                       color="0.6" if guess else color, style="italic" if guess else "normal")
    note = f"\ngrey: the probe is unsure (below {unsure:.0%}), a guess rather than a reading, right or wrong" if confidences else ""
    fig.suptitle(title + note, fontsize=9)
    return fig


def diversity_figure(pairwise, to_truth, reference: float) -> Figure:
    """Lesson 05: one point per input face, mean distance among its solutions against their mean distance to
    the true face, with the diagonal and the distance between two random faces (``reference``)."""
    fig = Figure(figsize=(4.2, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(pairwise, to_truth, color="tab:purple", label="one input face")
    top = 1.3 * np.nanmax(np.r_[pairwise, to_truth, 0.05])
    ax.plot([0, top], [0, top], color="grey", ls="--", lw=1, label="as far from the truth as from each other")
    if reference < top:
        ax.axvline(reference, color="tab:green", ls=":", lw=1, label="two random faces")
    else:
        ax.plot([], [], " ", label=f"two random faces: {reference:.2f} (off the chart)")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("mean distance among the solutions")
    ax.set_ylabel("mean distance to the true face")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Recovered faces would sit far below the diagonal", fontsize=9)
    return fig


def skin_readings_figure(bias: dict, prior: dict, names: list[str], true_tones: list[float], threshold: float) -> Figure:
    """Lesson 05: per model of a ``bias_experiment`` report and per input face in ``names``, the share of
    accepted solutions read as dark (bars; dashed: the model's share with no input, ``prior``) and their
    mean skin tone next to the truth's (stars)."""
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax_share, ax_tone = fig.subplots(1, 2)
    x = np.arange(len(names))
    for k, (model, colour) in enumerate(zip(bias["models"], ("tab:brown", "tab:orange"))):
        rows = bias["models"][model]["per_sample"]
        ax_share.bar(x + (k - 0.5) * 0.38, [rows[n]["share_dark"] for n in names], 0.38, color=colour, label=model)
        ax_tone.scatter(x + (k - 0.5) * 0.2, [rows[n]["mean_skin_tone"] for n in names], color=colour, label=model)
        ax_share.axhline(prior[model]["share_dark"], color=colour, ls="--", lw=1.5, zorder=3)  # what it draws with no input
        ax_share.annotate(f"{prior[model]['share_dark']:.0%}", (1, prior[model]["share_dark"]),
                          xycoords=("axes fraction", "data"), xytext=(2, 0), textcoords="offset points",
                          fontsize=7, color=colour, va="center")
    ax_share.plot([], [], color="grey", ls="--", lw=1, label="random faces, no input")
    ax_tone.scatter(x, true_tones, marker="*", s=90, color="black", label="truth")
    ax_tone.axhline(threshold, color="grey", ls=":", lw=1, label=f"dark from {threshold:g}")
    for ax, label in ((ax_share, "accepted solutions read as dark"), (ax_tone, "mean skin tone (1 = darkest)")):
        ax.set_xticks(x, names, fontsize=8)
        ax.set_ylim(0, 1.4)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_ylabel(label, fontsize=8)
        ax.legend(fontsize=7.5, loc="upper left", ncol=2)
    fig.suptitle("The same dark-skinned 8x8 inputs, two generators", fontsize=10)
    return fig


def mean_face_figure(sets: dict[str, torch.Tensor], stats: dict[str, tuple], detail, unit: float) -> Figure:
    """Lesson 02: per set of (n, 3, H, W) faces one row: up to six members, their mean face, and a scatter of
    ``stats[name] = (mean, to_mean, to_others)`` (per face i: MSE of the mean to it, mean MSE of the others
    to it). Titles give ``detail(image) / unit`` (fine detail, relative to the truth's)."""
    fig = Figure(figsize=(12.5, 5.0), layout="constrained")
    rows = fig.subfigures(len(sets), 1, squeeze=False)[:, 0]
    for sub, (name, members) in zip(rows, sets.items()):
        mean, to_mean, to_others = stats[name]
        axes = sub.subplots(1, 9, width_ratios=[1] * 8 + [1.6])
        for col in range(7):  # the first six members (fewer in fast mode), a gap, then the mean
            if col < min(6, len(members)):
                picture(axes[col], members[col], f"#{col}\ndetail {float(detail(members[col]) / unit):.0%}")
            else:
                axes[col].axis("off")
        picture(axes[7], mean, f"mean of {len(members)}\ndetail {float(detail(mean) / unit):.0%}", color="tab:purple")
        ax = axes[8]
        ax.scatter(to_others.numpy(), to_mean.numpy(), s=10, color="tab:purple")
        top = float(to_others.max()) * 1.1
        ax.plot([0, top], [0, top], color="0.6", lw=0.8, ls="--")
        ax.set(xlim=(0, top), ylim=(0, top), xlabel="MSE of the others to face i", ylabel="MSE of the mean to face i")
        ax.locator_params(nbins=4)
        ax.tick_params(labelsize=7)
        ax.xaxis.label.set_size(8)
        ax.yaxis.label.set_size(8)
        sub.suptitle(name, fontsize=9)
    return fig


def clamp_figure(l2: np.ndarray, eps: float) -> Figure:
    """Lesson 02: PULSE's clamped loss max(L2, eps) against L2, and an (steps, seeds) MSE history against eps."""
    fig = Figure(figsize=(10, 2.9), layout="constrained")
    ax_clamp, ax_run = fig.subplots(1, 2)
    grid = np.logspace(-4, -1, 200)
    ax_clamp.loglog(grid, grid, color="0.7", ls="--", label="L2")
    ax_clamp.loglog(grid, np.maximum(grid, eps), color="black", label="max(L2, eps)")
    ax_clamp.axvline(eps, color="tab:green", lw=0.8)
    ax_clamp.set(xlabel="downscaling MSE (L2)", ylabel="loss term", title="the clamped loss: flat below eps")
    ax_clamp.legend(fontsize=8)
    ax_run.semilogy(np.arange(1, len(l2) + 1), l2, lw=1)
    ax_run.axhline(eps, color="black", ls="--", lw=1, label=f"eps = {eps:g}")
    ax_run.set(xlabel="step", ylabel="downscaling MSE", title=f"the PULSE run of section 2 ({l2.shape[1]} seeds)")
    ax_run.legend(fontsize=8)
    return fig


def identification_figure(rows: list[dict]) -> Figure:
    """``recovery.identification`` per factor: the share of PULSE's accepted answers nearest to the truth
    (with the accepted count), matching the low-res input directly, and chance, against the input's side."""
    fig = Figure(figsize=(6.2, 3.2), layout="constrained")
    ax = fig.subplots()
    sides = [f"{r['input_side']}x{r['input_side']}\n(x{r['factor']})" for r in rows]
    x = np.arange(len(rows))
    ax.plot(x, [r["rate"] for r in rows], "o-", color="tab:purple", label="PULSE's answer is nearest to the person")
    ax.plot(x, [r["input_rate"] for r in rows], "s--", color="tab:green", label="the input matches the person's own")
    ax.axhline(rows[0]["chance"], color="0.5", ls=":", label=f"chance (1 in {round(1 / rows[0]['chance'])})")
    for i, r in enumerate(rows):
        if r["accepted"]:
            ax.annotate(f"{r['identified']}/{r['accepted']}", (i, r["rate"]), textcoords="offset points", xytext=(0, 7),
                        ha="center", fontsize=8, color="tab:purple")
        else:  # no point to draw: say so in the middle of the column, away from the lines
            ax.text(i, 0.5, "no answer\naccepted", ha="center", va="center", fontsize=8, color="tab:purple", style="italic")
    ax.set(xticks=x, xticklabels=sides, xlim=(-0.5, len(rows) - 0.5), ylim=(-0.05, 1.12), xlabel="the input PULSE is given",
           ylabel="identified (share)")
    ax.legend(fontsize=8, loc="center right")
    return fig


def lineup_figure(low_res: torch.Tensor, solutions: torch.Tensor, lineup: torch.Tensor, votes: list[int]) -> Figure:
    """Top: the input and PULSE's accepted solutions (up to 8); bottom: the line-up with the number of
    solutions nearest to each face, the true face (``lineup[0]``) framed in green, the most voted in purple."""
    columns = max(len(lineup), 1 + min(len(solutions), 8))
    fig = Figure(figsize=(0.95 * columns, 2.5), layout="constrained")
    axes = fig.subplots(2, columns)
    for ax in axes.flat:
        ax.axis("off")
    side = low_res.shape[-1]
    picture(axes[0, 0], low_res, f"input {side}x{side}")
    for ax, image in zip(axes[0, 1:], solutions[:8]):
        picture(ax, image.clamp(0, 1), "answer")
    if not len(solutions):
        axes[0, 1].text(0, 0.5, "no answer within eps", fontsize=9, va="center")
    top = int(np.argmax(votes)) if sum(votes) else -1
    for k, (ax, face) in enumerate(zip(axes[1], lineup)):
        color = "tab:green" if k == 0 else "tab:purple" if k == top else "black"
        picture(ax, face, f"{votes[k]} vote{'s' if votes[k] != 1 else ''}" + (" (truth)" if k == 0 else ""), color=color)
        ax.axis("on")
        for spine in ax.spines.values():
            spine.set(color=color, linewidth=2.5 if color != "black" else 0.5)
    return fig


def mos_figure(table: dict[str, dict[str, float]], paper: dict[str, float] | None = None,
               title: str = "your class") -> Figure:
    """Mean opinion score per method (``rating.mos_table``) with 95 % intervals, in the table's order;
    with ``paper``, the PULSE paper's scores (Table 1) as a second bar chart beside it, on the same 1-5 scale."""
    panels = [(title, table)] + ([("PULSE paper, 40 raters (Table 1)", {m: {"mos": v} for m, v in paper.items()})]
                                 if paper else [])
    fig = Figure(figsize=(4.2 * len(panels), 3.0), layout="constrained")
    for ax, (title, rows) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        names = list(rows)
        ci = [float(np.nan_to_num(rows[n].get("ci95", 0.0))) for n in names]  # 0 where unknown (n < 2, the paper)
        ax.barh(names, [rows[n]["mos"] for n in names], color="tab:blue", xerr=ci if any(ci) else None, capsize=3)
        for i, n in enumerate(names):
            ax.text(rows[n]["mos"] + ci[i] + 0.08, i, f"{rows[n]['mos']:.2f}", va="center", fontsize=8)
        ax.set(xlim=(0, 5.6), xticks=(1, 2, 3, 4, 5), title=title, xlabel="mean opinion score (1 bad ... 5 excellent)")
        ax.invert_yaxis()
    return fig

"""The class experiments' screens (lesson 06): a blind 1-5 rating of one face at a time (``MOSWidget``)
and "which one is real?" for a pair (``PollWidget``). The trials, the statistics and the CSV live in
``pulse_teach.rating``; these only show pictures and record answers.

Both work on ipywidgets 7.7.1 (Colab) and 8 (Buttons, an Image and an HTML line), and headless:
``answer(...)`` is what a button press calls, so tests and nbval feed answers without a browser.

    screen = MOSWidget(mos_trials(images), rater="ana").show()
    ...  # the student rates; then
    write_ratings("ana_mos.csv", screen.ratings)
"""
from __future__ import annotations

import html
from typing import Callable, Sequence

import ipywidgets as widgets
import torch
from IPython.display import display

from ..images import enlarge, to_pil
from ..rating import SCORE_NAMES, SCORES, Rating, Trial, pick, score

PIXELS = 192  # side of a face on screen


def _png(image: torch.Tensor) -> bytes:
    import io

    buffer = io.BytesIO()
    to_pil(enlarge(image.clamp(0, 1), PIXELS)).save(buffer, format="png")
    return buffer.getvalue()


class _Screen:
    """A sequence of trials, one at a time; ``answer`` records one and moves on. ``on_done(ratings)``
    is called once, after the last trial. Subclasses build ``box`` and ``buttons`` and say how a trial
    is shown (``_show``) and how an answer becomes a ``Rating`` (``_rating``)."""

    question = ""
    pairs = False  # True: poll trials (two pictures each)

    def __init__(self, trials: Sequence[Trial], rater: str, on_done: Callable[[list[Rating]], object] | None):
        if not isinstance(trials, (list, tuple)) or not trials:
            raise ValueError(f"need a non-empty list of trials to show, got {type(trials).__name__}")
        if any(bool(t.real_side) != self.pairs for t in trials):
            raise ValueError(f"{type(self).__name__} shows {'pairs (poll_trials)' if self.pairs else 'single pictures (mos_trials)'}")
        self.trials, self.rater, self.on_done = list(trials), rater, on_done
        self.ratings: list[Rating] = []
        self.status = widgets.HTML()
        self.buttons: list[widgets.Button] = []

    @property
    def done(self) -> bool:
        return len(self.ratings) == len(self.trials)

    @property
    def current(self) -> Trial | None:
        return None if self.done else self.trials[len(self.ratings)]

    def show(self):
        display(self.box)
        return self

    def answer(self, value) -> None:
        """Answer the trial on screen (MOS: a score 1-5; poll: "left" or "right") and show the next.
        Raises ValueError for another answer, or when every trial is answered."""
        if self.done:
            raise ValueError("all trials are answered")
        self.ratings.append(self._rating(self.current, value))
        self._draw()
        if self.done and self.on_done:
            self.on_done(self.ratings)

    def _draw(self) -> None:
        for button in self.buttons:
            button.disabled = self.done
        if self.done:
            self.status.value = f"<b>Done: {len(self.ratings)} answers.</b> Run the next cell."
        else:
            self.status.value = (f"{html.escape(self.question)} &nbsp; "
                                 f"<small>({len(self.ratings) + 1} of {len(self.trials)})</small>")
            self._show(self.current)


class MOSWidget(_Screen):
    """One face at a time, shuffled and unlabelled; buttons 1 (bad) to 5 (excellent)."""

    question = "How good does this face look? Rate it as a picture of a face."

    def __init__(self, trials: Sequence[Trial], rater: str = "me",
                 on_done: Callable[[list[Rating]], object] | None = None):
        super().__init__(trials, rater, on_done)
        self.image = widgets.Image(format="png", width=str(PIXELS), height=str(PIXELS))
        for value in SCORES:
            button = widgets.Button(description=f"{value} {SCORE_NAMES[value]}", layout=widgets.Layout(width="96px"))
            button.on_click(lambda _, v=value: self.answer(v))
            self.buttons.append(button)
        self.box = widgets.VBox([self.status, self.image, widgets.HBox(self.buttons)])
        self._draw()

    def _rating(self, trial: Trial, value) -> Rating:
        return score(trial, self.rater, value)

    def _show(self, trial: Trial) -> None:
        self.image.value = _png(trial.image)


class PollWidget(_Screen):
    """Two faces side by side: one rendered by the world, one made by a method. "Which one is real?" """

    question = "Which one is real? One was drawn by the face world, the other made by a method."
    pairs = True

    def __init__(self, trials: Sequence[Trial], rater: str = "me",
                 on_done: Callable[[list[Rating]], object] | None = None):
        super().__init__(trials, rater, on_done)
        self.images = [widgets.Image(format="png", width=str(PIXELS), height=str(PIXELS)) for _ in range(2)]
        for side in ("left", "right"):
            button = widgets.Button(description=f"the {side} one is real", layout=widgets.Layout(width=f"{PIXELS}px"))
            button.on_click(lambda _, s=side: self.answer(s))
            self.buttons.append(button)
        columns = [widgets.VBox([image, button]) for image, button in zip(self.images, self.buttons)]
        self.box = widgets.VBox([self.status, widgets.HBox(columns)])
        self._draw()

    def _rating(self, trial: Trial, value) -> Rating:
        return pick(trial, self.rater, value)

    def _show(self, trial: Trial) -> None:
        self.images[0].value, self.images[1].value = _png(trial.image), _png(trial.other)

"""pulse_teach's bundled files, installed as the package ``pulse_teach.data`` (see pyproject.toml).

``models/``: our own trained weights (``faces64.pt``, ``faces64-skewed.pt``, ``probe.pt``), each with its
model card (``.md``); ``samples/``: the held-out lesson faces. Code finds them through
``pulse_teach.bundled``, never through a path relative to the repository.
"""

"""The package as of an older commit, unpacked next to this checkout, for side-by-side benchmarks.

    from _old_tree import old_tree              # from a script in benchmarks/
    with old_tree("bdeb162") as tree:           # a temporary folder holding that commit's files
        subprocess.run([...], env=dict(os.environ, PYTHONPATH=tree))
"""
from __future__ import annotations

import contextlib
import io
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def old_tree(ref: str) -> Iterator[str]:
    """Unpack ``git archive REF`` of this repository into a temporary folder; yield its path.

    Raises subprocess.CalledProcessError for a ref git does not know.
    """
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory(prefix="old_tree_") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        yield tmp

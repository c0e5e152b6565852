"""One-time downloads of large files into the cache, verified every time they are used.

``fetch(url, path)`` downloads with torch.hub's helper (progress bar, optional SHA-256 check) into a
temporary file that becomes ``path`` only when complete: an interrupted or refused download leaves no
file that a later run could mistake for a good one. The first time a file is seen its size and
SHA-256 are recorded next to it (``<file>.sha256.json``); every later use checks both, so a file that
changed on disk is caught before it is unpickled.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import torch

from .storage import atomic_path

NVIDIA_LICENCE_NOTE = (
    "NVIDIA's StyleGAN2 FFHQ weights are for non-commercial use only: research or evaluation purposes "
    "(they come under the same non-commercial terms as NVIDIA's StyleGAN2 code; no separate licence is "
    "published for the weights). They are downloaded from NVIDIA into your own cache and must not be "
    "re-hosted or shared, also not converted. FFHQ itself is CC BY-NC-SA 4.0 and must not be used to "
    "develop face recognition.")


class DownloadError(OSError):
    """A download failed or produced a file that does not match what was expected."""


def sha256_file(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (the FFHQ pickles are ~380 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def record_path(path: str | os.PathLike) -> Path:
    """Where the size and SHA-256 of a cached file are recorded."""
    path = Path(path)
    return path.with_name(path.name + ".sha256.json")


def verify_cached(path: str | os.PathLike, sha256: str | None = None, url: str | None = None) -> dict:
    """Check a cached file against its record (writing the record the first time it is seen); return it.

    Raises DownloadError when the file's size or SHA-256 differs from what was expected or recorded.
    """
    path, record_file = Path(path), record_path(path)
    size, digest = path.stat().st_size, sha256_file(path)
    if sha256 and digest != sha256:
        raise DownloadError(f"{path} has SHA-256 {digest}, expected {sha256}: delete it and download it again")
    if not record_file.is_file():  # put there by hand (offline route) or recorded by an older version
        record = {"url": url, "size": size, "sha256": digest, "recorded": "first use"}
        _write_record(record_file, record)
        return record
    record = json.loads(record_file.read_text())
    if record.get("size") != size or record.get("sha256") != digest:
        raise DownloadError(
            f"{path} changed since it was recorded ({record.get('size')} bytes, SHA-256 {record.get('sha256')}; "
            f"now {size} bytes, {digest}). Delete {path} and {record_file} to download it again.")
    return record


def fetch(url: str, path: str | os.PathLike, sha256: str | None = None, progress: bool = True,
          notify: Callable[[str], None] | None = None, licence_note: str | None = None) -> Path:
    """Return ``path``, downloading ``url`` there first if needed; verify size and SHA-256 either way.

    ``notify`` receives one-time messages (the licence note, where the file goes); by default they are
    printed to stderr. Raises DownloadError when the download fails (offline, the message says what to download,
    from where, and where to put it), is incomplete, or does not match the expected size or SHA-256.
    """
    path = Path(path)
    if path.is_file():
        verify_cached(path, sha256, url)
        return path
    notify = notify or (lambda message: print(message, file=sys.stderr))
    if licence_note:
        notify(licence_note)
    notify(f"Downloading {url}\n  to {path} (once; set PULSE_TEACH_CACHE to choose another folder)")
    try:
        expected_size = _remote_size(url)
        with atomic_path(path) as tmp:
            torch.hub.download_url_to_file(url, str(tmp), hash_prefix=sha256, progress=progress)
            size = tmp.stat().st_size
            if expected_size is not None and size != expected_size:
                raise DownloadError(f"incomplete download of {url}: got {size} of {expected_size} bytes; "
                                    "nothing was kept, run again to retry")
            digest = sha256_file(tmp)
    except RuntimeError as error:  # torch.hub's hash check
        raise DownloadError(f"{url} did not match the expected SHA-256 {sha256} ({error}); nothing was kept") from error
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as error:
        raise DownloadError(
            f"could not download {url} ({error}). Without internet: download that file elsewhere (browser, "
            f"wget) and put it at {path} (the folder comes from PULSE_TEACH_CACHE, or torch hub's folder), "
            "then run again.") from error
    _write_record(record_path(path), {"url": url, "size": size, "sha256": digest, "recorded": "download"})
    return path


def _remote_size(url: str) -> int | None:
    """Content-Length from a HEAD request (torch.hub does not check it), or None if the server does not say."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as response:
            length = response.headers.get("Content-Length")
    except urllib.error.HTTPError as error:
        if error.code in (403, 405, 501):  # HEAD not allowed: the GET and the hash still decide
            return None
        raise
    return int(length) if length and length.isdigit() else None


def _write_record(record_file: Path, record: dict) -> None:
    with atomic_path(record_file) as tmp:
        tmp.write_text(json.dumps(record, indent=1))

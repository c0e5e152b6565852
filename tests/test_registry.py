"""Tests for downloads into the cache: served by a throwaway HTTP server on 127.0.0.1, never the internet."""
from __future__ import annotations

import hashlib
import http.server
import json
import threading

import pytest
import torch

from nvidia_lookalike import lookalike_pickle, random_generator
from pulse_teach import models
from pulse_teach.downloads import DownloadError, fetch, record_path
from pulse_teach.models import ModelSource, list_models, load_generator

TINY = dict(resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32, num_mapping_layers=2)
G = random_generator(TINY)
NETWORK = lookalike_pickle(G)


class _Handler(http.server.BaseHTTPRequestHandler):
    """/net.pkl: the look-alike network; /cut.pkl: announces the full length, sends half, hangs up."""

    requests: list[tuple[str, str]] = []

    def _respond(self, send_body: bool) -> None:
        type(self).requests.append((self.command, self.path))
        if self.path not in ("/net.pkl", "/cut.pkl"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(NETWORK)))
        self.end_headers()
        if send_body:
            self.wfile.write(NETWORK if self.path == "/net.pkl" else NETWORK[: len(NETWORK) // 2])
            self.wfile.flush()
            self.close_connection = True

    def do_GET(self):
        self._respond(True)

    def do_HEAD(self):
        self._respond(False)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    _Handler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.requests
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_TEACH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_records_size_and_sha256_and_reuses_the_cache(server, tmp_path):
    url, requests = server
    messages = []
    path = fetch(f"{url}/net.pkl", tmp_path / "net.pkl", progress=False, notify=messages.append,
                 licence_note="non-commercial only")
    assert path.read_bytes() == NETWORK
    record = json.loads(record_path(path).read_text())
    assert record == {"url": f"{url}/net.pkl", "size": len(NETWORK), "sha256": hashlib.sha256(NETWORK).hexdigest(),
                      "recorded": "download"}
    assert messages[0] == "non-commercial only" and str(path) in messages[1]
    count = len(requests)
    assert fetch(f"{url}/net.pkl", path, progress=False, notify=messages.append) == path
    assert len(requests) == count and len(messages) == 2  # no second request, no second licence note


def test_interrupted_download_leaves_no_usable_file(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match="incomplete"):
        fetch(f"{url}/cut.pkl", tmp_path / "d" / "net.pkl", progress=False, notify=lambda m: None)
    assert _leftovers(tmp_path / "d") == []  # neither the file, nor a partial one, nor a record
    fetch(f"{url}/net.pkl", tmp_path / "d" / "net.pkl", progress=False, notify=lambda m: None)  # a retry works
    assert (tmp_path / "d" / "net.pkl").read_bytes() == NETWORK


def test_wrong_hash_is_refused_and_nothing_is_kept(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match="SHA-256"):
        fetch(f"{url}/net.pkl", tmp_path / "d" / "net.pkl", sha256="0" * 64, progress=False, notify=lambda m: None)
    assert _leftovers(tmp_path / "d") == []
    right = hashlib.sha256(NETWORK).hexdigest()
    assert fetch(f"{url}/net.pkl", tmp_path / "d" / "net.pkl", sha256=right, progress=False, notify=lambda m: None)


def test_a_cached_file_that_changed_is_refused(server, tmp_path):
    url, _ = server
    path = fetch(f"{url}/net.pkl", tmp_path / "net.pkl", progress=False, notify=lambda m: None)
    path.write_bytes(NETWORK[:100] + bytes([NETWORK[100] ^ 1]) + NETWORK[101:])  # same size, one bit flipped
    with pytest.raises(DownloadError, match="changed since it was recorded"):
        fetch(f"{url}/net.pkl", path, progress=False)


def test_offline_error_says_what_to_download_and_where(tmp_path):
    url = "http://127.0.0.1:9/ffhq.pkl"  # discard port: nothing listens, like being offline
    with pytest.raises(DownloadError) as error:
        fetch(url, tmp_path / "checkpoints" / "ffhq.pkl", progress=False, notify=lambda m: None)
    message = str(error.value)
    assert url in message and str(tmp_path / "checkpoints" / "ffhq.pkl") in message and "PULSE_TEACH_CACHE" in message


def test_a_file_put_in_the_cache_by_hand_is_recorded_on_first_use(tmp_path):
    path = tmp_path / "ffhq.pkl"
    path.write_bytes(NETWORK)
    fetch("http://127.0.0.1:9/ffhq.pkl", path, progress=False)  # offline, but the file is there
    assert json.loads(record_path(path).read_text())["recorded"] == "first use"


def test_registry_downloads_an_nvidia_name_once_and_builds_the_generator(server, cache, monkeypatch, capsys):
    url, requests = server
    monkeypatch.setitem(models.KNOWN_MODELS, "ffhq-test",
                        ModelSource("nvidia", "net.pkl", "look-alike", f"{url}/net.pkl", 0.1))
    row = {r.name: r for r in list_models()}["ffhq-test"]
    assert not row.present and row.download_mb == 0.1 and row.path == cache / "checkpoints" / "net.pkl"
    loaded = load_generator("ffhq-test", progress=False)
    assert "non-commercial" in capsys.readouterr().err  # the licence note, on first download only
    z = torch.randn(2, 32)
    with torch.no_grad():
        assert torch.equal(loaded(z), G.to(memory_format=torch.channels_last)(z))  # loaded: NHWC on a CPU
    assert loaded.meta["name"] == "ffhq-test" and "non-commercial" in loaded.meta["licence"]
    row = {r.name: r for r in list_models()}["ffhq-test"]
    assert row.present and row.download_mb is None
    count = len(requests)
    load_generator("ffhq-test", progress=False)
    assert len(requests) == count and "non-commercial" not in capsys.readouterr().err

import hashlib
import http.server
import threading

import pytest

from lemur.core.datafiles import DataFileError, RemoteFile, fetch


@pytest.fixture
def server(tmp_path):
    """A static file server on 127.0.0.1 serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_mirror_is_verified_against_the_pinned_checksum(shared_data):
    good = RemoteFile("gsm8k/test.jsonl", "unused", "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14")
    assert fetch(good, mirror=shared_data) == shared_data / "gsm8k" / "test.jsonl"
    bad = RemoteFile("gsm8k/test.jsonl", "unused", "0" * 64)
    with pytest.raises(DataFileError, match="does not match the pinned 000000000000"):
        fetch(bad, mirror=shared_data)
    with pytest.raises(DataFileError, match="is not in the mirror"):
        fetch(RemoteFile("gsm8k/nope.jsonl", "unused", "0" * 64), mirror=shared_data)


def test_download_into_cache_then_reuse(server, tmp_path):
    root, url = server
    payload = b'{"question": "1+1", "answer": "#### 2"}\n' * 1000
    (root / "test.jsonl").write_bytes(payload)
    file = RemoteFile("gsm8k/test.jsonl", f"{url}/test.jsonl", hashlib.sha256(payload).hexdigest())
    cache = tmp_path / "cache"
    local = fetch(file, cache_dir=cache)
    assert local == cache / "gsm8k" / "test.jsonl" and local.read_bytes() == payload
    (root / "test.jsonl").unlink()  # a second fetch must not need the server
    assert fetch(file, cache_dir=cache).read_bytes() == payload


def test_wrong_checksum_download_leaves_nothing_behind(server, tmp_path):
    root, url = server
    (root / "f.txt").write_bytes(b"changed upstream")
    cache = tmp_path / "cache"
    with pytest.raises(DataFileError, match="expected aaaaaaaaaaaa"):
        fetch(RemoteFile("x/f.txt", f"{url}/f.txt", "a" * 64), cache_dir=cache)
    assert list((cache / "x").iterdir()) == []


def test_unreachable_source_says_how_to_work_offline(server, tmp_path):
    _, url = server
    with pytest.raises(DataFileError, match="use a local mirror with --data-dir"):
        fetch(RemoteFile("x/missing.txt", f"{url}/missing.txt", "a" * 64), cache_dir=tmp_path)

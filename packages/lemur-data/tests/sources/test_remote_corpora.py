"""Streamed corpus presets (RedPajama subsets, DM Mathematics) and the url-list source, against a local server.

The files are tiny but real in format: RedPajama's ``{"text", "meta"}`` JSON lines (plain and
zstd), its ``urls.txt`` and ``sha256/<subset>_SHA256SUMS.txt``, DM Mathematics' tarball of
question/answer line pairs, and a RefinedWeb-shaped Parquet file. The text is real Wikipedia
prose (gensim's enwiki excerpt) and arithmetic whose answers Python computes. They are served
by an HTTP server on 127.0.0.1 started by the test; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest

from lemur.core.datafiles import DataFileError
from lemur.core.errors import LemurError
from lemur.data.sources import dm_mathematics, presets
from lemur.data.sources.presets import PRESET_SOURCES
from lemur.data.sources.remote import ChecksumManifest, parse_sha256sums
from lemur.data.sources.url_list import UrlListSource

RP = "redpajama-data-1T/v1.0.0"


class CorpusServer:
    """Serves ``root`` at ``http://127.0.0.1:<port>/`` until :meth:`close`.

    Attributes:
        requests: ``(path, Range header or None)`` of every request, in order.
        flaky: Paths whose next response sends only half its bytes and then drops the connection.
    """

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[tuple[str, str | None]] = []
        self.flaky: set[str] = set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                path = self.path.lstrip("/")
                server.requests.append((path, self.headers.get("Range")))
                local = server.root / path
                if not local.is_file():
                    self.send_error(404)
                    return
                data = local.read_bytes()
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if path in server.flaky:
                    server.flaky.discard(path)
                    self.wfile.write(data[start : start + (len(data) - start) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data[start:])

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def served(tmp_path):
    """A directory ``root`` served over HTTP; yields (root, server)."""
    root = tmp_path / "served"
    root.mkdir()
    server = CorpusServer(root)
    yield root, server
    server.close()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")


def _wiki_rows(articles: dict[str, str], count: int) -> list[dict]:
    """RedPajama's Wikipedia record layout around real article text."""
    rows = []
    for title, text in list(articles.items())[:count]:
        url = "https://en.wikipedia.org/wiki/" + title.replace(" ", "_")
        meta = {"title": title, "url": url, "language": "en", "timestamp": "20230320"}
        rows.append({"text": text, "meta": meta})
    return rows


def _publish_redpajama(root: Path, base: str, files: dict[str, bytes], sums_for: dict[str, list[str]]) -> None:
    """Lay out ``files`` (path -> bytes) under ``root/<RP>`` with urls.txt and per-subset SHA256SUMS."""
    release = root / RP
    for path, data in files.items():
        (release / path).parent.mkdir(parents=True, exist_ok=True)
        (release / path).write_bytes(data)
    (release / "urls.txt").write_text("".join(f"{base}/{path}\n" for path in files), encoding="utf-8")
    (release / "sha256").mkdir(exist_ok=True)
    for subset, paths in sums_for.items():
        lines = "".join(f"{_sha256(files[p])}  {p}\n" for p in paths)
        (release / "sha256" / f"{subset}_SHA256SUMS.txt").write_text(lines, encoding="utf-8")


@pytest.fixture
def wiki_release(served, enwiki_articles, monkeypatch):
    """RedPajama's wikipedia and book subsets served locally; the presets point at the server."""
    root, server = served
    base = f"{server.url}/{RP}"
    monkeypatch.setattr(presets, "REDPAJAMA_BASE", base)
    rows = _wiki_rows(enwiki_articles, 12)
    files = {"wikipedia/wiki.jsonl": _jsonl(rows), "book/book.jsonl": _jsonl(rows[:2])}
    _publish_redpajama(root, base, files, {"wikipedia": ["wikipedia/wiki.jsonl"], "book": ["book/book.jsonl"]})
    return root, server, rows


def test_wikipedia_preset_streams_redpajama_records_checked_by_the_publisher_sums(wiki_release, tmp_path):
    root, server, rows = wiki_release
    manifest = tmp_path / "manifest.jsonl"
    documents = list(PRESET_SOURCES["wikipedia"](manifest=manifest))
    assert [d.text for d in documents] == [row["text"] for row in rows]
    first = documents[0]
    assert first.id == "wikipedia/wiki.jsonl:1"
    assert first.metadata["url"] == rows[0]["meta"]["url"] and first.metadata["title"] == rows[0]["meta"]["title"]
    assert first.metadata["language"] == "en" and first.metadata["red_pajama_subset"] == "wikipedia"
    assert first.metadata["source"] == "wikipedia" and first.metadata["file"] == "wikipedia/wiki.jsonl"
    # The URL and checksum lists have no publisher checksum: their digests are recorded; corpus files are checked.
    recorded = ChecksumManifest(manifest).entries()
    lists = [f"{RP}/urls.txt", f"{RP}/sha256/wikipedia_SHA256SUMS.txt"]
    assert sorted(recorded) == sorted(lists)
    assert all(recorded[path]["sha256"] == _sha256((root / path).read_bytes()) for path in lists)
    assert (f"{RP}/sha256/wikipedia_SHA256SUMS.txt", None) in server.requests
    books = list(PRESET_SOURCES["books"](manifest=manifest))
    assert [d.metadata["red_pajama_subset"] for d in books] == ["book", "book"]


def test_a_changed_file_fails_its_publisher_checksum(wiki_release, tmp_path):
    root, _, _ = wiki_release
    path = root / RP / "wikipedia" / "wiki.jsonl"
    path.write_bytes(path.read_bytes().replace(b"the", b"teh", 1))
    source = PRESET_SOURCES["wikipedia"](manifest=tmp_path / "m.jsonl")
    with pytest.raises(DataFileError, match="does not match the pinned"):
        list(source)


def test_a_file_missing_from_the_publisher_sums_is_refused(wiki_release, tmp_path):
    root, _, _ = wiki_release
    (root / RP / "sha256" / "wikipedia_SHA256SUMS.txt").write_text(f"{'0' * 64}  wikipedia/other.jsonl\n")
    with pytest.raises(DataFileError, match="not in the publisher's checksum list"):
        list(PRESET_SOURCES["wikipedia"](manifest=tmp_path / "m.jsonl"))


def test_the_published_file_count_pins_the_list(wiki_release, tmp_path, monkeypatch):
    monkeypatch.setitem(presets.REDPAJAMA_FILES, "wikipedia", 2)
    with pytest.raises(LemurError, match="holds 1 files .* expected 2; the published list changed"):
        PRESET_SOURCES["wikipedia"](manifest=tmp_path / "m.jsonl")
    with pytest.raises(LemurError, match="unknown subset 'books'"):
        PRESET_SOURCES["redpajama"](subset="books", manifest=tmp_path / "m.jsonl")


def test_without_publisher_sums_digests_are_recorded_then_enforced(wiki_release, tmp_path):
    root, _, rows = wiki_release
    manifest = tmp_path / "m.jsonl"
    source = PRESET_SOURCES["wikipedia"](manifest=manifest, publisher_checksums="false")
    assert len(list(source)) == len(rows)
    data = (root / RP / "wikipedia" / "wiki.jsonl").read_bytes()
    entry = ChecksumManifest(manifest).entries()[f"{RP}/wikipedia/wiki.jsonl"]
    assert entry == {
        "path": f"{RP}/wikipedia/wiki.jsonl",
        "url": entry["url"],
        "sha256": _sha256(data),
        "bytes": len(data),
    }
    (root / RP / "wikipedia" / "wiki.jsonl").write_bytes(data[: len(data) // 2].rsplit(b"\n", 1)[0] + b"\n")
    with pytest.raises(DataFileError, match="does not match the pinned"):
        list(PRESET_SOURCES["wikipedia"](manifest=manifest, publisher_checksums=False))


def test_a_dropped_connection_resumes_with_a_range_request(wiki_release, tmp_path):
    _, server, rows = wiki_release
    server.flaky.add(f"{RP}/wikipedia/wiki.jsonl")
    source = PRESET_SOURCES["wikipedia"](manifest=tmp_path / "m.jsonl", retries=2)
    documents = list(source)
    assert [d.text for d in documents] == [row["text"] for row in rows]
    ranges = [r for p, r in server.requests if p == f"{RP}/wikipedia/wiki.jsonl"]
    assert ranges[0] is None and ranges[1] is not None and int(ranges[1][len("bytes=") : -1]) > 0
    server.flaky.add(f"{RP}/wikipedia/wiki.jsonl")
    with pytest.raises(DataFileError, match="wiki.jsonl failed at byte [1-9]"):
        list(PRESET_SOURCES["wikipedia"](manifest=tmp_path / "m.jsonl", retries=0))


def test_a_mirror_is_read_without_any_download(wiki_release, tmp_path):
    root, server, rows = wiki_release
    before = len(server.requests)
    source = PRESET_SOURCES["wikipedia"](mirror=root, manifest=tmp_path / "m.jsonl")
    assert [d.text for d in source] == [row["text"] for row in rows]
    assert len(server.requests) == before
    with pytest.raises(DataFileError, match="is not in the mirror"):
        PRESET_SOURCES["stackexchange"](mirror=root, manifest=tmp_path / "m.jsonl")


def test_common_crawl_zstd_files_shard_by_file(served, enwiki_articles, monkeypatch, tmp_path):
    zstandard = pytest.importorskip("zstandard", reason="needs 'zstandard': pip install 'lemur-data[zstd]'")
    root, server = served
    base = f"{server.url}/{RP}"
    monkeypatch.setattr(presets, "REDPAJAMA_BASE", base)
    monkeypatch.setitem(presets.REDPAJAMA_FILES, "common_crawl", 3)
    texts = list(enwiki_articles.values())[:9]
    files = {}
    for k in range(3):
        # common_crawl records carry their fields at the top level, not under "meta".
        rows = [{"text": t, "source": f"cc/2019-30/en_head_{k:04d}"} for t in texts[3 * k : 3 * k + 3]]
        files[f"common_crawl/2019-30/en_head_{k:04d}.json.gz.dedup.classifier.jsonl.zst"] = zstandard.compress(
            _jsonl(rows)
        )
    files["arxiv/arxiv_0.jsonl"] = _jsonl([{"text": "not read"}])
    _publish_redpajama(root, base, files, {"common_crawl": [p for p in files if p.startswith("common_crawl")]})
    shards = [list(PRESET_SOURCES["redpajama"](manifest=tmp_path / "m.jsonl", shard=k, num_shards=2)) for k in (0, 1)]
    assert [d.text for d in shards[0]] == texts[0:3] + texts[6:9]
    assert [d.text for d in shards[1]] == texts[3:6]
    assert shards[1][0].metadata["source"] == "cc/2019-30/en_head_0001"
    assert shards[1][0].metadata["red_pajama_subset"] == "common_crawl"
    fetched = {p for p, _ in server.requests if p.endswith(".zst")}
    assert len(fetched) == 3 and not any(p.startswith(f"{RP}/arxiv/") for p, _ in server.requests)
    with pytest.raises(LemurError, match=r"shard must be in \[0, num_shards=2\)"):
        PRESET_SOURCES["redpajama"](manifest=tmp_path / "m.jsonl", shard=2, num_shards=2)


def test_url_list_reads_refinedweb_shaped_parquet(served, enwiki_articles, tmp_path):
    pa = pytest.importorskip("pyarrow", reason="needs 'pyarrow': pip install 'lemur-data[parquet]'")
    import pyarrow.parquet as pq

    root, server = served
    items = list(enwiki_articles.items())[:5]
    table = pa.table(
        {
            "content": [text for _, text in items],
            "url": ["https://en.wikipedia.org/wiki/" + title.replace(" ", "_") for title, _ in items],
            "dump": ["CC-MAIN-2023-06"] * len(items),
        }
    )
    (root / "rw" / "data").mkdir(parents=True)
    pq.write_table(table, root / "rw" / "data" / "train-00000-of-00001.parquet")
    (root / "rw" / "urls.txt").write_text(f"{server.url}/rw/data/train-00000-of-00001.parquet\n")
    manifest = tmp_path / "m.jsonl"
    source = UrlListSource(f"{server.url}/rw/urls.txt", prefix="rw", text_field="content", manifest=manifest)
    documents = list(source)
    assert [d.text for d in documents] == [text for _, text in items]
    assert documents[1].metadata["url"] == table.column("url")[1].as_py()
    assert documents[1].metadata["dump"] == "CC-MAIN-2023-06" and "content" not in documents[1].metadata
    data = (root / "rw" / "data" / "train-00000-of-00001.parquet").read_bytes()
    assert ChecksumManifest(manifest).expected("rw/data/train-00000-of-00001.parquet") == _sha256(data)


def test_sha256sums_parsing():
    digest = "a" * 64
    assert parse_sha256sums(f"{digest}  ./arxiv/x.jsonl\n{digest.upper()} *b.jsonl\n") == {
        "arxiv/x.jsonl": digest,
        "b.jsonl": digest,
    }
    with pytest.raises(DataFileError, match="line 1"):
        parse_sha256sums("deadbeef  x.jsonl\n")


def _dm_tarball() -> tuple[bytes, dict[str, list[tuple[str, str]]]]:
    """DM Mathematics' tarball layout, with arithmetic questions whose answers Python computes."""
    members = {
        "train-easy/arithmetic__add_or_sub": [(f"What is {a} + {b}?", str(a + b)) for a, b in [(3, 4), (-12, 30)]],
        "train-easy/arithmetic__mul": [(f"Calculate {a}*{b}.", str(a * b)) for a, b in [(6, -7), (13, 11), (2, 50)]],
        "train-medium/arithmetic__mul": [(f"What is {a} times {b}?", str(a * b)) for a, b in [(-25, 4)]],
        "interpolate/arithmetic__mul": [(f"Multiply {a} and {b}.", str(a * b)) for a, b in [(9, 9)]],
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, pairs in members.items():
            data = "".join(f"{q}\n{a}\n" for q, a in pairs).encode()
            info = tarfile.TarInfo(f"mathematics_dataset-v1.0/{name}.txt")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), members


def test_dm_mathematics_streams_training_pairs_and_pins_the_tarball_digest(served, tmp_path):
    root, server = served
    tarball, members = _dm_tarball()
    (root / "mathematics-dataset").mkdir()
    (root / dm_mathematics.PATH).write_bytes(tarball)
    url = f"{server.url}/{dm_mathematics.PATH}"
    manifest = tmp_path / "m.jsonl"
    documents = list(PRESET_SOURCES["dm-mathematics"](url=url, manifest=manifest))
    expected = [
        (f"{name}:{i}", f"{q}\n{a}")
        for name, pairs in members.items()
        if not name.startswith("interpolate")
        for i, (q, a) in enumerate(pairs)
    ]
    assert [(d.id, d.text) for d in documents] == expected
    assert documents[2].metadata == {
        "split": "train-easy",
        "module": "arithmetic__mul",
        "file": "mathematics_dataset-v1.0/train-easy/arithmetic__mul.txt",
        "source": "dm-mathematics",
    }
    assert ChecksumManifest(manifest).expected(dm_mathematics.PATH) == _sha256(tarball)
    only = PRESET_SOURCES["dm-mathematics"](url=url, manifest=manifest, splits="interpolate", modules="arithmetic__mul")
    assert [d.text for d in only] == ["Multiply 9 and 9.\n81"]
    shard = PRESET_SOURCES["dm-mathematics"](url=url, manifest=manifest, shard=1, num_shards=2)
    assert [d.id for d in shard] == [
        "train-easy/arithmetic__mul:0",
        "train-easy/arithmetic__mul:1",
        "train-easy/arithmetic__mul:2",
    ]
    # The publisher gives no checksum: a changed tarball fails against the recorded one.
    other, _ = _dm_tarball()
    (root / dm_mathematics.PATH).write_bytes(other + b"\0" * 512)
    with pytest.raises(DataFileError, match="does not match the pinned"):
        list(PRESET_SOURCES["dm-mathematics"](url=url, manifest=manifest))
    with pytest.raises(LemurError, match="unknown split 'train'"):
        PRESET_SOURCES["dm-mathematics"](splits="train")


def test_dm_mathematics_refuses_a_member_with_an_unpaired_line(served, tmp_path):
    root, server = served
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b"What is 2 + 2?\n4\nWhat is 3 + 3?\n"
        info = tarfile.TarInfo("mathematics_dataset-v1.0/train-easy/arithmetic__add_or_sub.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    (root / "dm.tar.gz").write_bytes(buffer.getvalue())
    source = PRESET_SOURCES["dm-mathematics"](url=f"{server.url}/dm.tar.gz", manifest=tmp_path / "m.jsonl")
    with pytest.raises(LemurError, match="odd number of lines"):
        list(source)


def test_lemur_data_head_streams_a_url_list(served, enwiki_articles, tmp_path, run_lemur):
    root, server = served
    rows = _wiki_rows(enwiki_articles, 3)
    (root / "c").mkdir()
    (root / "c" / "part-0.jsonl").write_bytes(_jsonl(rows))
    (root / "c" / "urls.txt").write_text(f"{server.url}/c/part-0.jsonl\n")
    options = ["-o", f"urls={server.url}/c/urls.txt", "-o", f"manifest={tmp_path / 'm.jsonl'}"]
    shown = run_lemur("data", "head", "url-list", *options, "-n", "2")
    assert shown.returncode == 0, shown.stderr
    printed = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [p["id"] for p in printed] == ["part-0.jsonl:1", "part-0.jsonl:2"]
    assert [p["text"] for p in printed] == [row["text"][:200] for row in rows[:2]]
    assert printed[0]["metadata"]["url"] == rows[0]["meta"]["url"]
    missing = run_lemur("data", "head", "url-list", "-o", f"urls={server.url}/c/nope.txt", *options[2:])
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].startswith(f"error: cannot download {server.url}/c/nope.txt")

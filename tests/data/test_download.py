"""Downloads against local servers only: failure without network, checksums, unpacking."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from storex.data import download as dl
from storex.data.download import download
from storex.data.readers.amazon import read_amazon
from storex.data.readers.movielens import read_movielens
from storex.errors import DataError, MissingDataError


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A file server on 127.0.0.1 serving ``tmp_path / "site"``; yields (base URL, root)."""
    root = tmp_path / "site"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """An address on this machine where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def ml100k_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-100k/", "")
        archive.writestr("ml-100k/u.data", "1\t10\t4\t881250949\n2\t10\t5\t881250950\n")
        archive.writestr("ml-100k/u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n")
    return buffer.getvalue()


def amazon_files(root: Path, category: str, rating: float = 5.0) -> None:
    (root / "review_categories").mkdir(exist_ok=True)
    (root / "meta_categories").mkdir(exist_ok=True)
    review = {"user_id": "U", "parent_asin": "P", "rating": rating, "timestamp": 1_700_000_000_000}
    meta = {"parent_asin": "P", "title": "Thing", "categories": ["Toys"], "price": 3.5}
    (root / "review_categories" / f"{category}.jsonl.gz").write_bytes(
        gzip.compress((json.dumps(review) + "\n").encode())
    )
    (root / "meta_categories" / f"meta_{category}.jsonl.gz").write_bytes(
        gzip.compress((json.dumps(meta) + "\n").encode())
    )


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.rglob("*") if p.is_file() and p.name != "manifest.json")


def test_no_network_fails_at_once_and_says_where_to_place_files(
    tmp_path: Path, closed_port_url: str
) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(MissingDataError) as err:
        download("ml-100k", cache, base_url=closed_port_url, timeout=30.0)
    # Refused at once, not waited for until the timeout.
    assert isinstance(err.value.__cause__.reason, ConnectionRefusedError)
    message = str(err.value)
    assert "could not download" in message and closed_port_url in message
    assert str(cache / "ml-100k" / "u.data") in message and "STOREX_DATA_DIR" in message
    assert leftovers(cache) == []


def test_amazon_no_network_names_both_files(tmp_path: Path, closed_port_url: str) -> None:
    with pytest.raises(MissingDataError, match=r"Toys\.jsonl\.gz and meta_Toys\.jsonl\.gz"):
        download("amazon-2023:Toys", tmp_path, base_url=closed_port_url, timeout=2.0)


def test_published_md5_mismatch_keeps_nothing(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, root = server
    (root / "ml-100k.zip").write_bytes(ml100k_zip())
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"checksum mismatch .*MD5.*publisher gives 0e33842e"):
        download("ml-100k", cache, base_url=base)
    assert leftovers(cache) == [] and not (cache / "ml-100k").exists()


def test_zip_is_verified_unpacked_and_readable(
    tmp_path: Path, server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = server
    payload = ml100k_zip()
    (root / "ml-100k.zip").write_bytes(payload)
    monkeypatch.setitem(dl.PUBLISHED_MD5, "ml-100k.zip", hashlib.md5(payload).hexdigest())
    cache = tmp_path / "cache"
    folder = download("ml-100k", cache, base_url=base)
    assert folder == cache / "ml-100k"
    assert sorted(p.name for p in folder.iterdir()) == ["u.data", "u.user"]
    assert not (cache / "downloads" / "ml-100k.zip").exists()
    assert read_movielens(folder).summary() == {"users": 2, "items": 1, "interactions": 2}
    manifest = json.loads((cache / "manifest.json").read_text())
    assert manifest["downloads/ml-100k.zip"]["verified_by"] == "published md5"
    # Already there: no network needed.
    (root / "ml-100k.zip").unlink()
    assert download("ml-100k", cache, base_url=base) == folder


def test_sha256_recorded_at_first_download_then_enforced(
    tmp_path: Path, server: tuple[str, Path]
) -> None:
    base, root = server
    amazon_files(root, "Toys")
    cache = tmp_path / "cache"
    folder = download("amazon-2023:Toys", cache, base_url=base)
    assert folder == cache / "amazon-2023" / "Toys"
    data = read_amazon(folder / "Toys.jsonl.gz", folder / "meta_Toys.jsonl.gz")
    assert data.interactions["timestamp"].iloc[0] == 1.7e9 and len(data.items) == 1
    manifest = json.loads((cache / "manifest.json").read_text())
    entry = manifest["amazon-2023/Toys/Toys.jsonl.gz"]
    expected = hashlib.sha256((root / "review_categories" / "Toys.jsonl.gz").read_bytes())
    assert entry["sha256"] == expected.hexdigest()
    assert entry["verified_by"] == "sha256 recorded at first download"
    before = (folder / "Toys.jsonl.gz").read_bytes()
    amazon_files(root, "Toys", rating=1.0)  # the publisher's file changed
    with pytest.raises(DataError, match=r"checksum mismatch .*recorded at the first download"):
        download("amazon-2023:Toys", cache, base_url=base, force=True)
    assert (folder / "Toys.jsonl.gz").read_bytes() == before


def test_half_finished_download_is_completed(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, root = server
    amazon_files(root, "Toys")
    meta = root / "meta_categories" / "meta_Toys.jsonl.gz"
    saved = meta.read_bytes()
    meta.unlink()  # the second file fails the first time
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="answered 404"):
        download("amazon-2023:Toys", cache, base_url=base)
    assert (cache / "amazon-2023" / "Toys" / "Toys.jsonl.gz").is_file()
    meta.write_bytes(saved)
    folder = download("amazon-2023:Toys", cache, base_url=base)
    assert (folder / "meta_Toys.jsonl.gz").read_bytes() == saved


def test_http_error_names_the_status(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, _ = server
    with pytest.raises(DataError, match=r"answered 404"):
        download("amazon-2023:Nothing_Here", tmp_path, base_url=base)


def test_retailrocket_has_no_url_and_says_where_to_put_events(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError) as err:
        download("retailrocket", tmp_path)
    message = str(err.value)
    assert "Kaggle" in message and str(tmp_path / "retailrocket" / "events.csv") in message
    (tmp_path / "retailrocket").mkdir()
    (tmp_path / "retailrocket" / "events.csv").write_text("timestamp,visitorid,event,itemid\n")
    assert download("retailrocket", tmp_path) == tmp_path / "retailrocket"


def test_unknown_name_and_bad_category(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unknown data set 'ml-20m'; downloadable: ml-100k"):
        download("ml-20m", tmp_path)
    with pytest.raises(DataError, match="bad category"):
        download("amazon-2023:../etc", tmp_path)


def test_unsafe_zip_member_is_refused(
    tmp_path: Path, server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = server
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.txt", "x")
        archive.writestr("u.data", "1\t2\t3\t4\n")
    (root / "ml-1m.zip").write_bytes(buffer.getvalue())
    monkeypatch.setitem(dl.PUBLISHED_MD5, "ml-1m.zip", hashlib.md5(buffer.getvalue()).hexdigest())
    with pytest.raises(DataError, match="unsafe path"):
        download("ml-1m", tmp_path / "cache", base_url=base)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "cache" / "ml-1m").exists()
    assert leftovers(tmp_path / "cache") == []

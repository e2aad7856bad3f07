"""Fetch public data sets from their publishers into the cache, verified and crash-safe.

Each file is streamed to a temporary file and renamed only once complete and verified, so an
interrupted download never leaves a half file that later looks valid. Where the publisher
gives a checksum (GroupLens' ``.md5`` files) it is checked; otherwise the SHA-256 seen at the
first download is recorded in the cache's ``manifest.json`` and later downloads must match it.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path, PurePosixPath

from storex.errors import DataError, MissingDataError
from storex.io import atomic_dir, atomic_path, read_json, write_json

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens"
AMAZON_2023_URL = "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_2023/raw"
AMAZON_2023_PREFIX = "amazon-2023:"
# MD5 values of GroupLens' published ml-100k.zip.md5 / ml-1m.zip.md5.
PUBLISHED_MD5 = {
    "ml-100k.zip": "0e33842e24a9c977be4e0107933c0723",
    "ml-1m.zip": "c4d9eecfca2ab87c1945afe126590906",
}
DOWNLOADABLE = ("ml-100k", "ml-1m", f"{AMAZON_2023_PREFIX}<Category>", "retailrocket")
MANIFEST = "manifest.json"
CHUNK_BYTES = 1 << 20
_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: its URL, where it lands in the cache, and how it is unpacked."""

    url: str
    target: str  # path relative to the cache folder
    unzip_to: str | None = None  # folder (relative to the cache) the zip's content goes to


def download(
    name: str,
    cache_dir: str | Path,
    *,
    base_url: str | None = None,
    timeout: float = 10.0,
    force: bool = False,
) -> Path:
    """Download data set ``name`` into ``cache_dir`` and return the folder holding it.

    Parameters
    ----------
    name
        ``ml-100k``, ``ml-1m``, ``amazon-2023:<Category>`` (e.g. ``amazon-2023:All_Beauty``)
        or ``retailrocket`` (no direct URL exists: explains where to place the file).
    cache_dir
        The cache folder (``STOREX_CACHE_DIR``).
    base_url
        Replaces the publisher's address (a mirror, or a local server in tests).
    timeout
        Seconds to wait for a connection or for the next block of data.
    force
        Fetch again even when the data set is already in the cache.
    """
    cache = Path(cache_dir)
    folder, files, marker = _plan(name, cache, base_url)
    kept = [cache / f.target for f in files if f.unzip_to is None]
    if not force and (cache / folder / marker).is_file() and all(p.is_file() for p in kept):
        return cache / folder
    for remote in files:
        _fetch(remote, cache, timeout=timeout, name=name)
    if not (cache / folder / marker).is_file():
        raise DataError(f"download finished but {marker} is missing", path=cache / folder)
    return cache / folder


def _plan(name: str, cache: Path, base_url: str | None) -> tuple[str, list[RemoteFile], str]:
    """(folder in the cache, files to fetch, marker file) of a data set."""
    if name in ("ml-100k", "ml-1m"):
        base = (base_url or GROUPLENS_URL).rstrip("/")
        archive = f"{name}.zip"
        marker = "u.data" if name == "ml-100k" else "ratings.dat"
        return (
            name,
            [RemoteFile(f"{base}/{archive}", f"downloads/{archive}", unzip_to=name)],
            marker,
        )
    if name.startswith(AMAZON_2023_PREFIX):
        category = name[len(AMAZON_2023_PREFIX) :]
        if not _CATEGORY.match(category):
            raise DataError(
                f"bad category {category!r}: expected a name such as All_Beauty or Gift_Cards"
            )
        base = (base_url or AMAZON_2023_URL).rstrip("/")
        folder = f"amazon-2023/{category}"
        files = [
            RemoteFile(
                f"{base}/review_categories/{category}.jsonl.gz", f"{folder}/{category}.jsonl.gz"
            ),
            RemoteFile(
                f"{base}/meta_categories/meta_{category}.jsonl.gz",
                f"{folder}/meta_{category}.jsonl.gz",
            ),
        ]
        return folder, files, f"{category}.jsonl.gz"
    if name == "retailrocket":
        if (cache / "retailrocket" / "events.csv").is_file():
            return "retailrocket", [], "events.csv"
        raise MissingDataError(
            "RetailRocket has no official direct download address: it is published on Kaggle "
            "(data set 'retailrocket/ecommerce-dataset'). Download it there and place "
            f"events.csv at {cache / 'retailrocket' / 'events.csv'} (or under the data folder, "
            "STOREX_DATA_DIR, as retailrocket/events.csv)."
        )
    raise DataError(f"unknown data set {name!r}; downloadable: {', '.join(DOWNLOADABLE)}")


def _fetch(remote: RemoteFile, cache: Path, *, timeout: float, name: str) -> None:
    """Stream one file to a temporary path, verify it, then rename (and unzip) it."""
    target = cache / remote.target
    with atomic_path(target) as tmp:
        md5, sha256, size = _stream(remote.url, tmp, timeout=timeout, name=name, cache=cache)
        _verify(remote, cache, md5=md5, sha256=sha256, size=size)
    if remote.unzip_to is not None:
        try:
            _unzip(target, cache / remote.unzip_to)
        finally:
            target.unlink(missing_ok=True)


def _stream(url: str, tmp: Path, *, timeout: float, name: str, cache: Path) -> tuple[str, str, int]:
    md5, sha256, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, tmp.open("wb") as out:
            while block := response.read(CHUNK_BYTES):
                out.write(block)
                md5.update(block)
                sha256.update(block)
                size += len(block)
    except urllib.error.HTTPError as exc:
        raise DataError(
            f"the server answered {exc.code} {exc.reason} for {url}. {_placement(name, cache)}"
        ) from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise MissingDataError(
            f"could not download {url} ({reason}). {_placement(name, cache)}"
        ) from exc
    return md5.hexdigest(), sha256.hexdigest(), size


def _verify(remote: RemoteFile, cache: Path, *, md5: str, sha256: str, size: int) -> None:
    """Check the published MD5, else the SHA-256 recorded at the first download."""
    filename = PurePosixPath(remote.target).name
    published = PUBLISHED_MD5.get(filename)
    if published is not None and md5 != published:
        raise DataError(
            f"checksum mismatch for {remote.url}: MD5 {md5}, the publisher gives {published}; "
            "the file was not kept"
        )
    manifest_path = cache / MANIFEST
    manifest = read_json(manifest_path) if manifest_path.is_file() else {}
    recorded = manifest.get(remote.target, {}).get("sha256")
    if published is None and recorded is not None and recorded != sha256:
        raise DataError(
            f"checksum mismatch for {remote.url}: SHA-256 {sha256}, but {recorded} was recorded "
            f"at the first download (in {manifest_path}); the file was not kept"
        )
    manifest[remote.target] = {
        "url": remote.url,
        "bytes": size,
        "md5": md5,
        "sha256": sha256,
        "verified_by": "published md5" if published else "sha256 recorded at first download",
        "downloaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(manifest_path, manifest)


def _unzip(archive: Path, destination: Path) -> None:
    """Unpack ``archive`` into ``destination``, dropping the zip's single top folder.

    The destination is replaced whole, and only once every member was extracted.
    """
    try:
        with zipfile.ZipFile(archive) as zipped, atomic_dir(destination) as staging:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            strip = _common_top(members)
            for member in members:
                parts = PurePosixPath(member.filename).parts[strip:]
                if not parts or ".." in parts or member.filename.startswith("/"):
                    raise DataError(f"unsafe path {member.filename!r} in archive", path=archive)
                out = staging.joinpath(*parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as src, out.open("wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK_BYTES)
    except zipfile.BadZipFile as exc:
        raise DataError(f"not a valid zip archive: {exc}", path=archive) from exc


def _common_top(members: list[zipfile.ZipInfo]) -> int:
    """1 when every member sits in one top folder (``ml-100k/...``), else 0."""
    paths = [PurePosixPath(m.filename).parts for m in members]
    tops = {parts[0] for parts in paths if parts}
    return 1 if len(tops) == 1 and all(len(parts) > 1 for parts in paths) else 0


def _placement(name: str, cache: Path) -> str:
    """Where to put the files by hand when the download cannot be done."""
    if name in ("ml-100k", "ml-1m"):
        marker = "u.data" if name == "ml-100k" else "ratings.dat"
        return (
            f"Without network access, fetch {GROUPLENS_URL}/{name}.zip on another machine and "
            f"unzip it so that {cache / name / marker} exists, or put the {name} folder under "
            "the data folder (STOREX_DATA_DIR)."
        )
    category = name[len(AMAZON_2023_PREFIX) :]
    folder = cache / "amazon-2023" / category
    return (
        f"Without network access, place {category}.jsonl.gz and meta_{category}.jsonl.gz "
        f"(from {AMAZON_2023_URL}/) in {folder}."
    )

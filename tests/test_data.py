"""Fashion-MNIST loading (sebook.data): checksums, search order, and real downloads from a local HTTP server."""

import functools
import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import pytest
import torch

from sebook import archives, data
from sebook.archives import (
    FASHION_MNIST_FILES,
    ChecksumError,
    DataError,
    download,
    read_archive,
    search_dirs,
    verify_archive,
)
from sebook.data import load_fashion_mnist

# The dataset's README (zalandoresearch/fashion-mnist, "Get the Data"): file, size in bytes, MD5
PUBLISHED = {
    "train-images-idx3-ubyte.gz": (26_421_880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train-labels-idx1-ubyte.gz": (29_515, "25c81989df183df01b3e8a0aad5dffbe"),
    "t10k-images-idx3-ubyte.gz": (4_422_102, "bef4ecab320f06d8554ea6380940ec79"),
    "t10k-labels-idx1-ubyte.gz": (5_148, "bb300cfdad3c16e7a12a480ee83cd310"),
}
LABELS = "t10k-labels-idx1-ubyte.gz"
IMAGES = "t10k-images-idx3-ubyte.gz"
needs_debian = pytest.mark.skipif(
    not (archives.DEBIAN_DIR / LABELS).is_file(),
    reason="Debian's dataset-fashion-mnist package is not installed",
)


def published_bytes(name: str) -> bytes:
    """The published file, rebuilt from any verified local copy (Debian's differs only in its gzip header)."""
    local = archives.find_archive(name)
    raw = local.read_bytes()
    if verify_archive(raw, name) == "published":
        return raw
    return archives._gzip_header(FASHION_MNIST_FILES[name]) + raw[10:]


@pytest.fixture
def no_local_copies(monkeypatch, tmp_path):
    """Hide every local copy: no $SEBOOK_DATA, no Debian folder, an empty cache under tmp_path."""
    monkeypatch.delenv("SEBOOK_DATA", raising=False)
    monkeypatch.setattr(archives, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "sebook" / "fashion-mnist"


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the temp folder; ``/error/...`` answers 500 and ``/cut/...`` closes the connection half way."""

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        if self.path.startswith("/error/"):
            self.send_error(500, "Internal Server Error")
            return
        if self.path.startswith("/cut/"):
            body = (Path(self.directory) / "good" / Path(self.path).name).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 in a thread, serving tmp_path/served: good/, short/ (truncated), wrong/ (bytes
    changed). Yields (base URL, served folder)."""
    served = tmp_path / "served"
    for sub in ("good", "short", "wrong"):
        (served / sub).mkdir(parents=True)
    for name in (LABELS, IMAGES):
        good = published_bytes(name)
        (served / "good" / name).write_bytes(good)
        (served / "short" / name).write_bytes(good[: len(good) // 2])
        wrong = bytearray(good)
        wrong[len(wrong) // 2] ^= 0xFF
        (served / "wrong" / name).write_bytes(bytes(wrong))
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(served))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", served
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- the constants and the local files ---------------------------------------------------------------------------


def test_checksum_table_matches_the_published_readme():
    assert set(FASHION_MNIST_FILES) == set(PUBLISHED)
    for name, (size, md5) in PUBLISHED.items():
        assert (FASHION_MNIST_FILES[name].size, FASHION_MNIST_FILES[name].md5) == (
            size,
            md5,
        )
    assert (
        archives.FASHION_MNIST_URL
        == "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    )


@needs_debian
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_debian_copy_is_the_published_file_rewrapped(name):
    raw = (archives.DEBIAN_DIR / name).read_bytes()
    assert verify_archive(raw, name) == "rewrapped"
    rebuilt = published_bytes(name)
    info = FASHION_MNIST_FILES[name]
    assert len(rebuilt) == info.size
    assert hashlib.md5(rebuilt).hexdigest() == info.md5
    assert hashlib.sha256(rebuilt).hexdigest() == info.sha256
    assert gzip.decompress(rebuilt) == gzip.decompress(raw)
    assert hashlib.sha256(gzip.decompress(raw)).hexdigest() == info.payload_sha256


def test_load_test_split():
    images, labels = load_fashion_mnist("test")
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (10_000,) and labels.dtype == torch.int64
    assert float(images.min()) == 0.0 and float(images.max()) == 1.0
    assert labels.bincount().tolist() == [1000] * 10
    assert labels[:10].tolist() == [
        9,
        2,
        1,
        1,
        6,
        1,
        4,
        6,
        5,
        7,
    ]  # ankle boot, pullover, trouser, ...
    again = load_fashion_mnist("test")
    assert again[0] is images and again[1] is labels  # parsed once per process


def test_load_train_split():
    images, labels = load_fashion_mnist("train")
    assert (
        images.shape == (60_000, 1, 28, 28)
        and labels.bincount().tolist() == [6000] * 10
    )
    assert (images * 255 - (images * 255).round()).abs().max() < 1e-4  # exactly k / 255


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"split": "validation"},
            ValueError,
            "split must be one of 'train', 'test'; got 'validation'",
        ),
        ({"split": "test", "root": 3}, TypeError, "root must be a folder path"),
        (
            {"split": "test", "base_url": "ftp://example.org/"},
            ValueError,
            "base_url must be an http",
        ),
    ],
)
def test_load_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        load_fashion_mnist(**kwargs)


def test_verify_archive_refuses_truncated_and_changed_bytes():
    good = published_bytes(LABELS)
    assert verify_archive(good, LABELS) == "published"
    with pytest.raises(
        ChecksumError,
        match=r"my-copy failed its checksum.*bb300cfdad3c16e7a12a480ee83cd310",
    ):
        verify_archive(good[:-100], LABELS, "my-copy")
    changed = bytearray(good)
    changed[100] ^= 1
    with pytest.raises(ChecksumError, match="failed its checksum"):
        verify_archive(bytes(changed), LABELS)
    with pytest.raises(ValueError, match="name must be one of"):
        verify_archive(good, "labels.gz")


def test_read_archive_refuses_a_truncated_file_with_a_checksum_error(tmp_path):
    path = tmp_path / LABELS
    path.write_bytes(published_bytes(LABELS)[:2000])
    with pytest.raises(
        ChecksumError, match=rf"{path} failed its checksum.*size 2,000 bytes"
    ):
        read_archive(path)
    labels = tmp_path / "copy" / LABELS
    labels.parent.mkdir()
    labels.write_bytes(published_bytes(LABELS))
    assert read_archive(labels).shape == (10_000,)


# --- where the files are looked for ------------------------------------------------------------------------------


def test_search_order(monkeypatch, tmp_path):
    monkeypatch.setenv("SEBOOK_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert search_dirs() == [
        tmp_path / "env",
        archives.DEBIAN_DIR,
        tmp_path / "xdg" / "sebook" / "fashion-mnist",
    ]
    assert search_dirs(tmp_path / "mine") == [tmp_path / "mine"]
    monkeypatch.delenv("SEBOOK_DATA")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert search_dirs()[-1] == Path.home() / ".cache" / "sebook" / "fashion-mnist"


def test_root_and_environment_folders_are_used(monkeypatch, tmp_path):
    for folder in ("root", "env"):
        (tmp_path / folder).mkdir()
        for name in (LABELS, IMAGES):
            (tmp_path / folder / name).write_bytes(published_bytes(name))
    expected = load_fashion_mnist("test")
    from_root = load_fashion_mnist("test", root=tmp_path / "root")
    assert torch.equal(from_root[0], expected[0]) and torch.equal(
        from_root[1], expected[1]
    )
    monkeypatch.setenv("SEBOOK_DATA", str(tmp_path / "env"))
    assert archives.find_archive(LABELS) == tmp_path / "env" / LABELS
    assert torch.equal(load_fashion_mnist("test")[1], expected[1])


def test_a_corrupt_file_in_the_search_path_is_reported_not_skipped(
    monkeypatch, tmp_path
):
    (tmp_path / IMAGES).write_bytes(published_bytes(IMAGES))
    (tmp_path / LABELS).write_bytes(published_bytes(LABELS)[:-1])
    monkeypatch.setenv("SEBOOK_DATA", str(tmp_path))
    with pytest.raises(ChecksumError, match=f"{tmp_path / LABELS} failed its checksum"):
        load_fashion_mnist("test")


# --- downloads, for real, from 127.0.0.1 --------------------------------------------------------------------------


def test_download_good_file(server, tmp_path):
    base, _ = server
    target = download(LABELS, tmp_path / "dl", base + "good/", progress=False)
    assert target == tmp_path / "dl" / LABELS
    assert hashlib.md5(target.read_bytes()).hexdigest() == PUBLISHED[LABELS][1]
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == [
        LABELS
    ]  # no temporary file left


@pytest.mark.parametrize("folder", ["short/", "wrong/", "cut/"])
def test_bad_download_leaves_nothing_and_names_the_file(server, tmp_path, folder):
    base, _ = server
    with pytest.raises(
        ChecksumError,
        match=rf"download of {LABELS} from .*{folder}{LABELS} failed its checksum",
    ):
        download(LABELS, tmp_path / "dl", base + folder, progress=False)
    assert list((tmp_path / "dl").iterdir()) == []


def test_server_error_leaves_nothing(server, tmp_path):
    base, _ = server
    with pytest.raises(
        DataError,
        match=rf"downloading {LABELS} from .*error/{LABELS} failed: HTTP Error 500",
    ):
        download(LABELS, tmp_path / "dl", base + "error/", progress=False)
    assert list((tmp_path / "dl").iterdir()) == []


def test_interrupted_download_leaves_nothing(server, tmp_path, monkeypatch):
    import tqdm

    def interrupt(self, n=1):
        raise KeyboardInterrupt

    monkeypatch.setattr(tqdm.tqdm, "update", interrupt)
    base, _ = server
    with pytest.raises(KeyboardInterrupt):
        download(LABELS, tmp_path / "dl", base + "good/", progress=False)
    assert list((tmp_path / "dl").iterdir()) == []


def test_load_downloads_into_the_cache_when_nothing_is_local(
    server, no_local_copies, capsys
):
    base, _ = server
    images, labels = load_fashion_mnist("test", base_url=base + "good/")
    assert sorted(p.name for p in no_local_copies.iterdir()) == sorted([LABELS, IMAGES])
    expected = load_fashion_mnist(
        "test", root=archives.DEBIAN_DIR if (archives.DEBIAN_DIR / LABELS).exists() else None
    )
    assert torch.equal(labels, expected[1]) and torch.equal(images, expected[0])


def test_load_refuses_a_truncated_download(server, no_local_copies):
    base, _ = server
    with pytest.raises(
        ChecksumError, match=f"download of {IMAGES} .* failed its checksum"
    ):
        load_fashion_mnist("test", base_url=base + "short/")
    assert not no_local_copies.exists() or list(no_local_copies.iterdir()) == []


def test_unwritable_cache_gives_a_clear_message(server, monkeypatch, tmp_path):
    # We run as root, so a chmod'ed folder would still be writable; a regular *file* where the cache's parent
    # folder should be makes creating the cache fail for everyone.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file, not a folder")
    monkeypatch.delenv("SEBOOK_DATA", raising=False)
    monkeypatch.setattr(archives, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    base, _ = server
    with pytest.raises(
        DataError,
        match=r"cannot write the download folder .*not-a-folder/sebook/fashion-mnist.*"
        r"SEBOOK_DATA",
    ):
        load_fashion_mnist("test", base_url=base + "good/")


def test_full_disk_gives_a_clear_message_and_leaves_nothing(
    server, tmp_path, monkeypatch
):
    import errno
    import os

    class FullDisk:
        """A file whose every write fails as on a full disk."""

        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, chunk):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real_fdopen = os.fdopen
    monkeypatch.setattr(
        archives.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode))
    )
    base, _ = server
    with pytest.raises(
        DataError,
        match=rf"downloading {LABELS} from .* failed: .*No space left on device",
    ):
        download(LABELS, tmp_path / "dl", base + "good/", progress=False)
    assert list((tmp_path / "dl").iterdir()) == []


def test_download_rejects_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        download("t10k-images.gz", tmp_path)


def test_dataset_fingerprint():
    expected = hashlib.sha256(
        "".join(
            FASHION_MNIST_FILES[n].sha256
            for n in (
                "train-images-idx3-ubyte.gz",
                "train-labels-idx1-ubyte.gz",
                IMAGES,
                LABELS,
            )
        ).encode()
    ).hexdigest()
    assert data.FASHION_MNIST_SHA256 == expected


def test_idx_header_is_checked(tmp_path):
    info = FASHION_MNIST_FILES[LABELS]
    bad = struct.pack(">II", 0x801, 9_999) + bytes(9_999)
    with pytest.raises(DataError, match="not an IDX labels file"):
        archives._parse_idx(bad, info, tmp_path / LABELS)


def test_photo_is_unchanged():
    photo = data.load_photo(64)
    assert (
        photo.shape == (1, 3, 64, 64)
        and 0 <= float(photo.min())
        and float(photo.max()) <= 1
    )

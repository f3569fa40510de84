"""What only the local provider has to get right: its root is a real folder on a real disk,
with symlinks, leftovers and permissions (the shared behaviour is in test_contract.py)."""

from pathlib import Path

import pytest

from app.core.security import InvalidLinkError
from app.core.storage import InvalidKeyError, LocalStorage, ObjectNotFoundError, StorageError
from app.core.storage.local import INTERNAL_DIR, MIN_PART_BYTES, SignedLink

KEY = "companies/a/files/1/original"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "storage"
    root.mkdir()
    return root


@pytest.fixture
def storage(root: Path) -> LocalStorage:
    return LocalStorage(root, "http://testserver", b"k" * 32)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("secret")
    return folder


def store(storage: LocalStorage, key: str, data: bytes) -> None:
    writer = storage.open_writer(key)
    writer.write(data)
    writer.commit()


def leftovers(root: Path) -> list[Path]:
    return [path for path in (root / INTERNAL_DIR / "tmp").glob("*") if path.is_file()]


def test_symlinks_out_of_the_root_are_refused(
    storage: LocalStorage, root: Path, outside: Path
) -> None:
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "companies").mkdir()
    (root / "companies" / "secret").symlink_to(outside / "secret.txt")

    for key in ("link/secret.txt", "companies/secret"):
        with pytest.raises(InvalidKeyError):
            storage.stat(key)
        with pytest.raises(InvalidKeyError):
            storage.open_read(key)
    with pytest.raises(InvalidKeyError):
        storage.open_writer("link/new.txt")
    with pytest.raises(InvalidKeyError):
        storage.delete_prefix("link/")
    assert sorted(path.name for path in outside.iterdir()) == ["secret.txt"]
    assert list(storage.list("")) == []  # listing follows no symlink either


def test_a_symlink_swapped_in_after_the_writer_opened_is_refused_at_commit(
    storage: LocalStorage, root: Path, outside: Path
) -> None:
    writer = storage.open_writer("swap/new.txt")
    writer.write(b"data")
    (root / "swap").symlink_to(outside, target_is_directory=True)

    with pytest.raises(InvalidKeyError):
        writer.commit()
    assert not (outside / "new.txt").exists()
    assert leftovers(root) == []


def test_the_internal_folder_is_not_a_key(storage: LocalStorage) -> None:
    with pytest.raises(InvalidKeyError):
        storage.open_writer(f"{INTERNAL_DIR}/uploads/x")
    with pytest.raises(InvalidKeyError):
        storage.stat(f"{INTERNAL_DIR}/types/{KEY}")


def test_nothing_is_left_behind_and_nothing_internal_is_listed(
    storage: LocalStorage, root: Path
) -> None:
    store(storage, KEY, b"kept")
    aborted = storage.open_writer("companies/a/aborted")
    aborted.write(b"data")
    aborted.abort()
    storage.create_multipart_upload("companies/a/pending", "video/mp4")

    assert leftovers(root) == []
    assert [info.key for info in storage.list("")] == [KEY]


def test_delete_prefix_removes_the_emptied_folders(storage: LocalStorage, root: Path) -> None:
    store(storage, "companies/a/files/1/original", b"1")
    store(storage, "companies/ab/files/2/original", b"2")

    assert storage.delete_prefix("companies/a/") == 1
    assert not (root / "companies" / "a").exists()
    assert (root / "companies" / "ab" / "files" / "2" / "original").read_bytes() == b"2"


def test_a_part_sent_again_replaces_the_first(storage: LocalStorage) -> None:
    upload_id = storage.create_multipart_upload(KEY)
    for data in (b"first try", b"second try"):
        writer = storage.open_part_writer(KEY, upload_id, 1)
        writer.write(data)
        writer.commit()

    (part,) = storage.list_parts(KEY, upload_id)
    assert part.size == len(b"second try")
    storage.complete_multipart_upload(KEY, upload_id, [part])
    assert storage.open_read(KEY).read() == b"second try"


def test_an_upload_belongs_to_its_key(storage: LocalStorage) -> None:
    upload_id = storage.create_multipart_upload(KEY)

    with pytest.raises(ObjectNotFoundError):
        storage.list_parts("companies/a/other", upload_id)
    storage.abort_multipart_upload("companies/a/other", upload_id)
    assert storage.list_parts(KEY, upload_id) == []


def test_completing_refuses_parts_out_of_order(storage: LocalStorage) -> None:
    upload_id = storage.create_multipart_upload(KEY)
    for number in (1, 2):
        writer = storage.open_part_writer(KEY, upload_id, number)
        writer.write(b"x" * MIN_PART_BYTES)
        writer.commit()
    parts = storage.list_parts(KEY, upload_id)

    with pytest.raises(StorageError, match="ascending"):
        storage.complete_multipart_upload(KEY, upload_id, parts[::-1])
    with pytest.raises(StorageError, match="at least one part"):
        storage.complete_multipart_upload(KEY, upload_id, [])
    assert storage.complete_multipart_upload(KEY, upload_id, parts).size == 2 * MIN_PART_BYTES


def test_completing_an_aborted_upload_finds_nothing(storage: LocalStorage) -> None:
    upload_id = storage.create_multipart_upload(KEY)
    writer = storage.open_part_writer(KEY, upload_id, 1)
    writer.write(b"data")
    writer.commit()
    parts = storage.list_parts(KEY, upload_id)
    storage.abort_multipart_upload(KEY, upload_id)

    with pytest.raises(ObjectNotFoundError):
        storage.complete_multipart_upload(KEY, upload_id, parts)


def test_disk_failures_are_storage_errors(storage: LocalStorage) -> None:
    too_long = "companies/" + "x" * 300  # a valid key, but no filesystem takes the name
    with pytest.raises(StorageError) as refused:
        store(storage, too_long, b"data")
    assert refused.type is StorageError


def test_links_are_bound_to_what_they_allow(storage: LocalStorage) -> None:
    url = storage.download_url(KEY, 60, filename="a.mp4")
    signature = url.rpartition("signature=")[2]
    expires = int(url.split("expires=")[1].split("&")[0])
    link = SignedLink("GET", KEY, expires, "a.mp4")
    storage.verify_link(link, signature)

    for altered in (
        SignedLink("PUT", KEY, expires, "a.mp4"),
        SignedLink("GET", "companies/a/other", expires, "a.mp4"),
        SignedLink("GET", KEY, expires + 1, "a.mp4"),
        SignedLink("GET", KEY, expires, "b.mp4"),
        SignedLink("GET", KEY, expires, "a.mp4", content_type="text/html"),
    ):
        with pytest.raises(InvalidLinkError, match="signature"):
            storage.verify_link(altered, signature)


def test_check_reports_a_missing_root(root: Path, storage: LocalStorage) -> None:
    storage.check()
    root.rmdir()
    with pytest.raises(StorageError, match="does not exist"):
        storage.check()

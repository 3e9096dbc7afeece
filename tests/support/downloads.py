"""Datasets and archives laid out as the tools people download them from make them.

Each layout is a dict {relative path: file bytes}, written as a folder or zipped the way a tool
zips it. The photos are small JPEGs of one colour per class (photos.py's `colour`), so a tiny
model can learn them. What each layout holds is what its source publishes:

- Kaggle "Dogs vs. Cats" (dogs-vs-cats.zip): train/cat.0.jpg, train/dog.0.jpg (labels in the
  names), test1/1.jpg (no labels).
- Kaggle "cat-and-dog" (tongpython): training_set/training_set/cats/cat.1.jpg and
  test_set/test_set/dogs/dog.4001.jpg, each with a _DS_Store file.
- Roboflow classification export ("folder" format): train/ valid/ test/ <class>/, and
  README.roboflow.txt, README.dataset.txt at the top.
- Microsoft PetImages (kagglecatsanddogs_5340.zip): PetImages/Cat/0.jpg, PetImages/Dog/0.jpg,
  a Thumbs.db in each, and MSR-LA - 3467.docx, readme[1].txt beside PetImages/.
- TensorFlow's cats_and_dogs_filtered.zip: cats_and_dogs_filtered/train/cats/cat.0.jpg,
  cats_and_dogs_filtered/validation/dogs/dog.2000.jpg, and vectorize.py.
- Oxford-IIIT Pet (images.tar.gz): images/Abyssinian_1.jpg, images/beagle_1.jpg (labels in the
  names; capitals for cat breeds).
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile
import zipfile
from pathlib import Path

from tests.support.photos import jpeg_bytes


def kaggle_dogs_vs_cats(n: int = 6) -> dict[str, bytes]:
    files = _numbered("train", "cats", 0, n) | _numbered("train", "dogs", 0, n)
    return files | {f"test1/{i}.jpg": jpeg_bytes("cats", 100 + i) for i in range(1, 3)}


def kaggle_cat_and_dog(n: int = 5) -> dict[str, bytes]:
    files = {}
    for split, first in (("training_set", 1), ("test_set", 4001)):
        for c in ("cats", "dogs"):
            folder = f"{split}/{split}/{c}"
            files |= _numbered(folder, c, first, n)
            files[f"{folder}/_DS_Store"] = b"\0\0\0\1Bud1"
    return files


def roboflow(n: int = 5) -> dict[str, bytes]:
    files = {"README.roboflow.txt": b"Exported via roboflow.com", "README.dataset.txt": b"# pets"}
    for split, count, seed in (("train", n, 0), ("valid", 2, 50), ("test", 2, 70)):
        for c in ("cats", "dogs"):
            files |= {
                f"{split}/{c}/{c[:-1]}{i}_jpg.rf.{seed + i:08x}.jpg": jpeg_bytes(c, seed + i)
                for i in range(count)
            }
    return files


def pet_images(n: int = 6) -> dict[str, bytes]:
    files = {"MSR-LA - 3467.docx": b"PK licence", "readme[1].txt": b"Cats and dogs"}
    for c in ("Cat", "Dog"):
        files |= {f"PetImages/{c}/{i}.jpg": jpeg_bytes(c.lower() + "s", i) for i in range(n)}
        files[f"PetImages/{c}/Thumbs.db"] = b"\xd0\xcf\x11\xe0"
    return files


def cats_and_dogs_filtered(n: int = 5) -> dict[str, bytes]:
    files = {"cats_and_dogs_filtered/vectorize.py": b"print('hi')"}
    for split, first in (("train", 0), ("validation", 2000)):
        for c in ("cats", "dogs"):
            files |= _numbered(f"cats_and_dogs_filtered/{split}/{c}", c, first, n)
    return files


def oxford_iiit_pet(n: int = 4) -> dict[str, bytes]:
    breeds = {"Abyssinian": "cats", "Bengal": "cats", "beagle": "dogs", "pug": "dogs"}
    return {
        f"images/{breed}_{i + 1}.jpg": jpeg_bytes(f"{breed}-{kind}", i)
        for breed, kind in breeds.items()
        for i in range(n)
    }


def _numbered(folder: str, label: str, first: int, n: int) -> dict[str, bytes]:
    """folder/cat.4001.jpg ... as Kaggle and TensorFlow number their photos."""
    name = label[:-1]  # cats/cat.0.jpg
    return {f"{folder}/{name}.{first + i}.jpg": jpeg_bytes(label, first + i) for i in range(n)}


LAYOUTS = {
    "Kaggle Dogs vs. Cats": kaggle_dogs_vs_cats,
    "Kaggle cat-and-dog": kaggle_cat_and_dog,
    "Roboflow": roboflow,
    "Microsoft PetImages": pet_images,
    "cats_and_dogs_filtered": cats_and_dogs_filtered,
    "Oxford-IIIT Pet": oxford_iiit_pet,
}


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def zip_as_explorer(files: dict[str, bytes], top: str | None = None) -> bytes:
    """A ZIP laid out as Windows 11's Compress and 7-Zip write one: "/" names with folder entries,
    Deflate, the UTF-8 flag on non-ASCII names (Python's zipfile writes the bytes; what is
    emulated is the names and flags, which is what the reader sees)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        folders = sorted({str(Path(name).parent) for name in files} - {"."})
        for folder in folders:
            archive.writestr(f"{top + '/' if top else ''}{folder}/", b"")
        for name, data in files.items():
            archive.writestr(f"{top + '/' if top else ''}{name}", data)
    return buffer.getvalue()


def zip_with_backslashes(files: dict[str, bytes]) -> bytes:
    """A ZIP as older Windows tools and PowerShell's CreateFromDirectory write it: "\\" names."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name.replace("/", "\\"))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def zip_in_code_page(files: dict[str, bytes], encoding: str) -> bytes:
    """A ZIP whose names are in `encoding` with no UTF-8 flag: 7-Zip on a Chinese Windows (GBK),
    Info-ZIP and macOS's Archive Utility (UTF-8, unflagged)."""
    encoded = [name.encode(encoding) for name in files]
    # Python writes ASCII names unflagged: ASCII stand-ins of the same length, swapped after.
    stand_ins = [f"{i:04d}".rjust(len(name), "~").encode() for i, name in enumerate(encoded)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for stand_in, data in zip(stand_ins, files.values()):
            archive.writestr(stand_in.decode(), data)
    raw = buffer.getvalue()
    for stand_in, name in sorted(zip(stand_ins, encoded), key=lambda pair: -len(pair[0])):
        raw = raw.replace(stand_in, name)
    return raw


def encrypted_zip(name: str, data: bytes) -> bytes:
    """A one-entry ZIP whose entry is marked encrypted (ZipCrypto), as 7-Zip and WinZip write
    them with a password: Python's zipfile reads but cannot write such entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(name, data)
    raw = bytearray(buffer.getvalue())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        flags = struct.unpack_from("<H", raw, at + flag_at)[0]
        struct.pack_into("<H", raw, at + flag_at, flags | 0x1)
    return bytes(raw)


def tar_of(path: Path, files: dict[str, bytes]) -> Path:
    """A .tar.gz at `path` holding `files` (name -> bytes)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def pets_archives(folder: Path, per_class: int = 8, size: int = 48) -> str:
    """Generated images.tar.gz and annotations.tar.gz in `folder`, named as Oxford-IIIT Pet's.

    Cat breeds are capitalised, as there. Returns their MD5s as CATDOG_PETS_MD5 takes them.
    """

    folder.mkdir(parents=True, exist_ok=True)
    files = {f"images/Bengal_{i}.jpg": jpeg_bytes("cats", i, size) for i in range(per_class)}
    files |= {
        f"images/beagle_{i}.jpg": jpeg_bytes("dogs", 100 + i, size) for i in range(per_class)
    }
    images = tar_of(folder / "images.tar.gz", files)
    annotations = tar_of(folder / "annotations.tar.gz", {"annotations/trimaps/Bengal_0.png": b""})
    return ",".join(hashlib.md5(p.read_bytes()).hexdigest() for p in (images, annotations))

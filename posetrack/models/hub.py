"""Model files on demand: a cache under ``$POSETRACK_HOME``, and downloads into it that are streamed, resumable,
checked and atomic.

- The cache is ``$POSETRACK_HOME/models`` (default ``~/.cache/posetrack/models``). A file is under its final name
  only once its sha256 matched; a zip is unpacked into a folder named after it, which appears only when complete.
- A download goes to ``<file>.part``; a ``.part`` left by an interrupted download is resumed with an HTTP Range
  request (a server that ignores Range sends the whole file again, which is then written from the start).
- ``POSETRACK_MIRROR=BASE_URL`` fetches every file by its name from ``BASE_URL/<file>`` instead of its source
  (air-gapped sites; the tests), ``POSETRACK_OFFLINE=1`` never touches the network.
- Processes fetching the same file at once (batch workers starting together) take turns on a lock file: the first
  downloads, the others find the file cached. The lock file goes when the fetch ends.
- Checksums: the full sha256, or the 8-hex-digit prefix MMPose puts in its file names. A file whose source
  publishes none is pinned on its first download that passes every check (complete, unpacks, the caller's
  ``verify``: ONNX Runtime opens it); its digest is stored beside it and every later download is compared with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from posetrack.errors import PosetrackError

HOME_ENV, MIRROR_ENV, OFFLINE_ENV = "POSETRACK_HOME", "POSETRACK_MIRROR", "POSETRACK_OFFLINE"
CHUNK = 1 << 20
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Remote:
    """A model file that lives on the network.

    Attributes:
        file: its name (in the cache, and on a mirror).
        url: where its source publishes it.
        sha256: the file's sha256, full or as its first 8 hex digits (MMPose's names); None: none published.
        member: for a zip, the file inside it that is the model (``end2end.onnx``); None for a plain file.
        member_sha256: sha256 of ``member`` once unpacked, where one is recorded.
        size_mb: the size its source states (for the table and the first-use line), if known.
    """

    file: str
    url: str
    sha256: str | None = None
    member: str | None = None
    member_sha256: str | None = None
    size_mb: float | None = None


def home() -> Path:
    """``$POSETRACK_HOME``, default ``~/.cache/posetrack``."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".cache" / "posetrack")


def models_dir() -> Path:
    return home() / "models"


def local_path(remote: Remote) -> Path:
    """Where the model file of ``remote`` is once fetched: the file, or ``member`` in the folder its zip unpacks to."""
    if remote.member is None:
        return models_dir() / remote.file
    return models_dir() / Path(remote.file).stem / remote.member


def is_cached(remote: Remote) -> bool:
    return local_path(remote).is_file()


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def source_url(remote: Remote) -> str:
    """The URL a fetch uses: the mirror's copy when ``POSETRACK_MIRROR`` is set, else the source's."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    return f"{mirror.rstrip('/')}/{remote.file}" if mirror else remote.url


def fetch(remote: Remote, name: str, progress: bool = True, verify: Callable[[Path], None] | None = None) -> Path:
    """The local model file of ``remote`` (model ``name``), downloaded, checked and unpacked on first use.

    ``verify(path)`` (e.g. ONNX Runtime opening it) is one more check of the model file before it is kept. A digest
    is pinned (for a file whose source publishes none) only once the file passed every check, so a bad download
    (a broken mirror, a proxy's error page) is never taken for the real file.

    Raises:
        DownloadError: offline, unreachable, or an HTTP error; one line saying what to do.
        PosetrackError: a checksum mismatch, a zip without the model, or a model file ``verify`` refuses; nothing
            is left under a final name and nothing is pinned.
    """
    target = local_path(remote)
    if target.is_file():
        return target
    models_dir().mkdir(parents=True, exist_ok=True)
    with _locked(models_dir() / f"{remote.file}.lock"):
        if target.is_file():  # another process fetched it while this one waited
            return target
        part = models_dir() / f"{remote.file}.part"
        _download(remote, name, part, progress)
        pins = {remote.file: _checked(part, remote.sha256, remote.file, name, source_url(remote))}
        try:
            if remote.member is None:
                if verify is not None:
                    verify(part)
                part.replace(target)
            else:
                pins[f"{remote.file}.{remote.member}"] = _unpack(remote, name, part, target.parent, verify)
        finally:
            part.unlink(missing_ok=True)
        for file, digest in pins.items():
            if digest is not None:
                _pin_path(file).write_text(digest + "\n")
    return target


class DownloadError(PosetrackError):
    """A model file that could not be downloaded (offline, unreachable, an HTTP error).

    Attributes:
        name: the model. remote: its file. url: where it was asked for. reason: why it failed.
    """

    def __init__(self, name: str, remote: Remote, url: str, reason: str):
        super().__init__(f"cannot download {name} from {url} ({reason}); put {remote.file} at "
                         f"{models_dir() / remote.file} or set {MIRROR_ENV}")
        self.name, self.remote, self.url, self.reason = name, remote, url, reason


def _download(remote: Remote, name: str, part: Path, progress: bool) -> None:
    """Download ``remote`` into ``part`` (resuming what a ``part`` holds already)."""
    url = source_url(remote)
    if offline():
        raise DownloadError(name, remote, url, f"{OFFLINE_ENV} is set")
    have = part.stat().st_size if part.is_file() else 0
    if progress:  # the first use of a model: say once what is fetched, from where, into where
        stated = f" (~{remote.size_mb:.0f} MB)" if remote.size_mb else ""
        print(f"posetrack: fetching {name}{stated} once from {url} into {models_dir()}"
              f"{f', resuming at {have} bytes' if have else ''}", file=sys.stderr, flush=True)
    request = urllib.request.Request(url, headers={"User-Agent": "posetrack", **(
        {"Range": f"bytes={have}-"} if have else {})})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            resumed = have > 0 and response.status == 206
            total = response.headers.get("Content-Length")
            size = (int(total) + (have if resumed else 0)) if total is not None else None
            with part.open("ab" if resumed else "wb") as out, tqdm(
                    total=size, initial=have if resumed else 0, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=f"downloading {name}", disable=not progress or None, dynamic_ncols=True) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
        got = part.stat().st_size
        if size is not None and got < size:  # the connection closed early: http.client does not say so itself
            raise DownloadError(name, remote, url, f"the connection closed after {got} of {size} bytes; run again "
                                "to resume")
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the range starts at the end: the .part is complete already
            return
        raise DownloadError(name, remote, url, f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:  # the .part stays, for a resume
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise DownloadError(name, remote, url, str(reason) or type(exc).__name__) from None


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _pin_path(file: str) -> Path:
    return models_dir() / f"{file}.sha256"


def _checked(path: Path, expected: str | None, file: str, name: str, url: str) -> str | None:
    """Compare ``path``'s sha256 with ``expected`` (full or prefix), or with the digest pinned at an earlier download
    of a file whose source publishes none. Returns the digest to pin once every other check passed (None: nothing
    to pin). A mismatch deletes ``path``."""
    actual = sha256_of(path)
    pin = _pin_path(file)
    if expected is None and pin.is_file():
        expected = pin.read_text().strip()
    if expected is None:
        return actual
    if not actual.startswith(expected.lower()):
        path.unlink(missing_ok=True)
        raise PosetrackError(f"{name}: the sha256 of {file} from {url} is {actual[:16]}..., not the expected "
                             f"{expected[:16]}{'...' if len(expected) > 16 else ''}; the file was removed (a damaged "
                             "download, or the source changed the file)")
    return None


def _unpack(remote: Remote, name: str, archive: Path, folder: Path,
            verify: Callable[[Path], None] | None) -> str | None:
    """Unpack ``archive`` into ``folder`` (first into a temporary folder, renamed once complete and checked); returns
    the model member's digest to pin, as ``_checked``."""
    assert remote.member is not None
    draft = folder.with_name(f"{folder.name}.{os.getpid()}.unpack")
    shutil.rmtree(draft, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as z:
            members = {Path(m).name: m for m in z.namelist() if not m.endswith("/")}
            if remote.member not in members:
                raise PosetrackError(f"{name}: {remote.file} holds no {remote.member} (it has "
                                     f"{', '.join(sorted(members)) or 'nothing'}); it was removed")
            draft.mkdir(parents=True)
            for base, member in members.items():  # flat: the SDK zips keep their files in one folder
                with z.open(member) as src, (draft / base).open("wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
        pin = _checked(draft / remote.member, remote.member_sha256, f"{remote.file}.{remote.member}", name,
                       remote.url)
        if verify is not None:
            verify(draft / remote.member)
    except zipfile.BadZipFile:
        shutil.rmtree(draft, ignore_errors=True)
        raise PosetrackError(f"{name}: {remote.file} is not a readable zip; it was removed") from None
    except BaseException:  # a zip without the model, or whose model fails a check, is no use either
        shutil.rmtree(draft, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    draft.rename(folder)
    return pin


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the file ``path`` held for the block (processes fetching one file take turns), removed
    when the block ends. A process that waited on a lock file its holder removed locks the new one instead (the
    inode check), so removing it never lets two processes in at once."""
    while True:
        handle = path.open("a")
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()

"""Safe dataset edits across processes: one editor per dataset, and label changes that never lose each other.

* :class:`DatasetLock` -- ``fcntl.flock`` (non-blocking) on ``<dataset>/.crackviewer/lock``. The holder writes who
  it is into that file (pid, host, user, app, start time). A second process gets :class:`LockHeld` with that owner
  and opens the dataset read-only, saying ``opened read-only: ana (pid 4242 on lab-pc) is editing this dataset
  since 14:05``. The kernel drops a flock when its process dies (even by SIGKILL), so a dead holder's lock is free;
  the owner information it left behind is then reported as :attr:`DatasetLock.stale_owner` and overwritten.
* :func:`update_manifest_labels` -- one read-modify-write of ``manifest.csv`` under a short-held flock on
  ``<dataset>/.crackviewer/manifest.lock``: the file is re-read under the lock, only the changed rows' ``label``
  cells are rewritten (every other line is kept byte for byte) and the result is written atomically. Two processes
  flipping labels of different samples both keep their changes, whatever the order.

flock works on local disks; on some network file systems it is advisory per machine only.
"""
from __future__ import annotations

import csv
import errno
import fcntl
import getpass
import io
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from trainer.atomic import atomic_write_bytes, write_error
from trainer.errors import CrackError, DataError

STATE_DIR = ".crackviewer"          # the dataset's state folder (MaskStore's backups, journals, labels.json)
LOCK_FILE = "lock"
MANIFEST_LOCK_FILE = "manifest.lock"
MANIFEST = "manifest.csv"


@dataclass(frozen=True)
class LockOwner:
    """Who holds a dataset lock."""

    pid: int
    host: str
    user: str
    app: str
    started: float          # time.time() when the lock was taken

    @classmethod
    def me(cls, app: str) -> "LockOwner":
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name in some containers
            user = str(os.getuid())
        return cls(os.getpid(), socket.gethostname(), user, app, time.time())

    @classmethod
    def parse(cls, text: str) -> "LockOwner | None":
        try:
            d = json.loads(text)
            return cls(int(d["pid"]), str(d["host"]), str(d["user"]), str(d["app"]), float(d["started"]))
        except (ValueError, KeyError, TypeError):
            return None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True) + "\n"

    def alive(self) -> bool | None:
        """Whether the owner process runs (None when it is on another host and cannot be checked)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
        return True

    def describe(self) -> str:
        since = time.strftime("%H:%M", time.localtime(self.started))
        return f"{self.user} (pid {self.pid} on {self.host}) is editing this dataset since {since}"


class LockHeld(CrackError):
    """Another process edits this dataset; :attr:`owner` says who (None when it left no readable information)."""

    kind = "data"

    def __init__(self, lock_path: Path, owner: LockOwner | None):
        self.owner = owner
        who = owner.describe() if owner else "another process is editing this dataset"
        super().__init__(f"opened read-only: {who}")
        self.file = str(lock_path)


def state_dir(root: str | os.PathLike) -> Path:
    return Path(root) / STATE_DIR


def _open_lock_file(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise write_error(e, path) from None


def _read_owner(fd: int, tries: int = 5) -> LockOwner | None:
    for _ in range(tries):                  # the holder may be writing it right now
        try:
            text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        except OSError:
            return None
        owner = LockOwner.parse(text)
        if owner is not None:
            return owner
        time.sleep(0.01)
    return None


class DatasetLock:
    """The edit lock of one dataset (see the module docstring). Use as a context manager or acquire/release."""

    def __init__(self, root: str | os.PathLike, app: str = "crackviewer"):
        self.root = Path(root)
        self.path = state_dir(root) / LOCK_FILE
        self.app = app
        self.stale_owner: LockOwner | None = None   # owner info a dead holder left (set by acquire)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock; True when taken (or already held by this object). Raises :class:`LockHeld` otherwise."""
        if self._fd is not None:
            return True
        fd = _open_lock_file(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            owner = _read_owner(fd)
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockHeld(self.path, owner) from None
            raise write_error(e, self.path) from None
        self.stale_owner = _read_owner(fd, tries=1)  # left by a holder that died without releasing
        try:
            data = LockOwner.me(self.app).to_json().encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)
        except OSError as e:
            os.close(fd)
            raise write_error(e, self.path) from None
        self._fd = fd
        return True

    def try_acquire(self) -> LockHeld | None:
        """None when the lock was taken, the :class:`LockHeld` (with its owner) when another process holds it."""
        try:
            self.acquire()
        except LockHeld as held:
            return held
        return None

    def owner(self) -> LockOwner | None:
        """Who holds the lock now (None when nobody does). Never takes it."""
        if self._fd is not None:
            return _read_owner(self._fd)
        if not self.path.is_file():
            return None
        fd = os.open(self.path, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return _read_owner(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)       # nobody holds it: whatever the file says is stale
            return None
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)                  # a released lock names nobody
        except OSError:
            pass
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> "DatasetLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # noqa: BLE001
            pass


class _ShortLock:
    """A blocking flock held for one read-modify-write; gives up after ``timeout`` seconds with a clear error."""

    def __init__(self, path: Path, timeout: float):
        self.path, self.timeout = path, timeout
        self.fd: int | None = None

    def __enter__(self) -> "_ShortLock":
        fd = _open_lock_file(self.path)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    os.close(fd)
                    raise DataError(f"another process has held this lock for over {self.timeout:.0f} s; "
                                    "try again, or close the other program", file=self.path) from None
                time.sleep(0.005)
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = None


def short_lock(root: str | os.PathLike, name: str, timeout: float = 10.0) -> _ShortLock:
    """A short-held exclusive flock on ``<root>/.crackviewer/<name>`` (a context manager)."""
    return _ShortLock(state_dir(root) / name, timeout)


def _set_labels(text: str, changes: dict[str, int], mpath: Path) -> tuple[str, dict[str, int]]:
    """``text`` with the label cells of ``changes`` replaced (other lines byte for byte), and every name's label."""
    lines = text.splitlines(keepends=True)
    header_i = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if header_i is None:
        raise DataError("manifest is empty", file=mpath)
    header = [h.strip().lower() for h in next(csv.reader([lines[header_i]]))]
    if "name" not in header or "label" not in header:
        raise DataError("manifest has no 'name' and 'label' columns", file=mpath)
    ci_name, ci_label = header.index("name"), header.index("label")
    labels: dict[str, int] = {}
    for i in range(header_i + 1, len(lines)):
        ln = lines[i]
        body = ln.rstrip("\r\n")
        if not body.strip():
            continue
        row = next(csv.reader([body]))
        if len(row) <= ci_name:
            continue
        name = row[ci_name].strip()
        if name in changes:
            row = row + [""] * (len(header) - len(row))
            row[ci_label] = str(changes[name])
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(row)
            lines[i] = buf.getvalue() + ln[len(body):]
        cell = row[ci_label].strip() if len(row) > ci_label else ""
        labels[name] = int(cell) if cell in ("0", "1") else -1
    missing = sorted(set(changes) - set(labels))
    if missing:
        shown = ", ".join(repr(n) for n in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise DataError(f"{len(missing)} sample(s) not listed, nothing was changed: {shown}", file=mpath)
    return "".join(lines), labels


def update_manifest_labels(root: str | os.PathLike, changes: dict[str, int], *, backup: Path | None = None,
                           timeout: float = 10.0) -> dict[str, int]:
    """Set the labels of ``changes`` (``{name: 0|1}``) in ``<root>/manifest.csv`` in one locked, atomic
    read-modify-write; returns every sample's label as now on disk (other processes' changes included).

    ``backup``: where to copy the manifest's original bytes first, when that file does not exist yet.
    Raises :class:`DataError` (manifest missing or malformed, unknown names: nothing is written) or
    :class:`~trainer.atomic.WriteError` (the old manifest is left as it was).
    """
    root = Path(root)
    mpath = root / MANIFEST
    changes = {str(k): 1 if v else 0 for k, v in changes.items()}
    with short_lock(root, MANIFEST_LOCK_FILE, timeout):
        try:
            raw = mpath.read_bytes()
        except OSError as e:
            raise DataError(f"cannot read ({e.strerror or e})", file=mpath) from None
        bom = raw.startswith(b"\xef\xbb\xbf")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DataError("manifest is not UTF-8 text", file=mpath) from None
        out, labels = _set_labels(text, changes, mpath)
        if not changes:
            return labels
        if backup is not None and not Path(backup).exists():
            atomic_write_bytes(backup, raw)
        atomic_write_bytes(mpath, (("\ufeff" if bom else "") + out).encode("utf-8"))
        return labels

"""The crash journal of the Annotate tab: every completed stroke's pixels, appended before the autosave. Qt-free.

A record is ``b"CVJ1" + length + crc32 + zlib(payload)``; the payload holds the absolute pixel values of the changed
rectangles, so replaying records in order over the last saved mask gives the edited mask, whatever saves happened in
between. A torn record at the end (the process was killed while writing it) is ignored.
"""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from urllib.parse import quote

import numpy as np

_MAGIC = b"CVJ1"
_HEAD = struct.Struct("<4sII")          # magic, payload length, crc32 of payload

Writes = list[tuple[int, int, np.ndarray]]   # (y, x, values) blocks


def safe_name(name: str) -> str:
    """A file name for sample ``name`` (names never hold '/', but may hold other odd characters)."""
    return quote(name, safe="-_.,+=@~") or "_"


def encode_record(name: str, shape: tuple[int, int], writes: Writes) -> bytes:
    """One journal record: the absolute values ``writes`` put into a mask of ``shape``."""
    meta = {"name": name, "h": int(shape[0]), "w": int(shape[1]), "patches": []}
    blobs = []
    for y, x, vals in writes:
        bits = np.packbits(np.asarray(vals, np.uint8), axis=None).tobytes()
        meta["patches"].append([int(y), int(x), int(vals.shape[0]), int(vals.shape[1]), len(bits)])
        blobs.append(bits)
    mj = json.dumps(meta, separators=(",", ":")).encode()
    payload = zlib.compress(struct.pack("<I", len(mj)) + mj + b"".join(blobs), 1)
    return _HEAD.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload


def _decode_payload(body: bytes) -> tuple[dict, Writes]:
    raw = zlib.decompress(body)
    (mlen,) = struct.unpack_from("<I", raw, 0)
    meta = json.loads(raw[4:4 + mlen])
    off = 4 + mlen
    writes = []
    for y, x, h, w, nb in meta["patches"]:
        bits = np.frombuffer(raw, np.uint8, count=nb, offset=off)
        off += nb
        writes.append((y, x, np.unpackbits(bits, count=h * w).reshape(h, w)))
    return meta, writes


def read_journal(path: Path) -> tuple[list[tuple[dict, Writes]], bool]:
    """Complete records of a journal file, and whether a torn/corrupt tail was dropped."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return [], False
    out = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < _HEAD.size:
            return out, True
        magic, n, crc = _HEAD.unpack_from(data, pos)
        body = data[pos + _HEAD.size: pos + _HEAD.size + n]
        if magic != _MAGIC or len(body) != n or zlib.crc32(body) != crc:
            return out, True
        try:
            out.append(_decode_payload(body))
        except (zlib.error, ValueError, KeyError, struct.error):
            return out, True
        pos += _HEAD.size + n
    return out, False


def replay(mask: np.ndarray, records: list[tuple[dict, Writes]]) -> int:
    """Apply journal ``records`` to ``mask`` in place; returns how many applied (others were for another size)."""
    n = 0
    for meta, writes in records:
        if (meta.get("h"), meta.get("w")) != tuple(mask.shape):
            continue      # written for another image size: the image changed on disk since; ignore
        for y, x, vals in writes:
            mask[y:y + vals.shape[0], x:x + vals.shape[1]] = vals
        n += 1
    return n

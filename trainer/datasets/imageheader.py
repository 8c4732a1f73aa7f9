"""Image width and height from the file header, without decoding the pixels.

Reads only the first bytes (JPEG: walks the marker segments up to the first SOF) of PNG, JPEG, BMP, TIFF (first
IFD, classic and BigTIFF), WebP (VP8, VP8L, VP8X) and binary/ASCII PNM files. :func:`image_size` returns
``(width, height)`` or ``None`` when the format is not one of these or the header is cut short (the decoder then
reports the file). Sizes are as stored: an EXIF rotation swaps them but not their product.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

_HEAD = 64


def _png(head: bytes, f: BinaryIO):
    if head[12:16] != b"IHDR" or len(head) < 24:
        return None
    w, h = struct.unpack(">II", head[16:24])
    return w, h


def _jpeg(head: bytes, f: BinaryIO):
    f.seek(2)
    while True:
        b = f.read(1)
        while b and b != b"\xff":          # tolerate garbage between segments
            b = f.read(1)
        while b == b"\xff":                # fill bytes
            b = f.read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0x01, *range(0xD0, 0xD8)):
            continue                       # no length
        if marker in (0xD9, 0xDA):         # end of image / start of scan before any SOF
            return None
        seg = f.read(2)
        if len(seg) < 2:
            return None
        (length,) = struct.unpack(">H", seg)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            body = f.read(5)
            if len(body) < 5:
                return None
            h, w = struct.unpack(">HH", body[1:5])
            return w, h
        if length < 2:
            return None
        f.seek(length - 2, os.SEEK_CUR)


def _bmp(head: bytes, f: BinaryIO):
    if len(head) < 26:
        return None
    (dib,) = struct.unpack("<I", head[14:18])
    if dib == 12:
        w, h = struct.unpack("<HH", head[18:22])
    else:
        w, h = struct.unpack("<ii", head[18:26])
    return abs(w), abs(h)


def _tiff(head: bytes, f: BinaryIO):
    e = "<" if head[:2] == b"II" else ">"
    (magic,) = struct.unpack(e + "H", head[2:4])
    if magic == 42:
        (off,) = struct.unpack(e + "I", head[4:8])
        count_fmt, count_size, entry_size, val_fmt = "H", 2, 12, "I"
    elif magic == 43:
        (off,) = struct.unpack(e + "Q", head[8:16])
        count_fmt, count_size, entry_size, val_fmt = "Q", 8, 20, "Q"
    else:
        return None
    f.seek(off)
    raw = f.read(count_size)
    if len(raw) < count_size:
        return None
    (n,) = struct.unpack(e + count_fmt, raw)
    data = f.read(min(n, 4096) * entry_size)
    size = {}
    for i in range(len(data) // entry_size):
        ent = data[i * entry_size:(i + 1) * entry_size]
        tag, typ = struct.unpack(e + "HH", ent[:4])
        if tag not in (256, 257):
            continue
        val = ent[4 + (4 if entry_size == 12 else 8):]
        if typ == 3:
            (v,) = struct.unpack(e + "H", val[:2])
        elif typ == 4:
            (v,) = struct.unpack(e + "I", val[:4])
        elif typ == 16:
            (v,) = struct.unpack(e + "Q", val[:8])
        else:
            return None
        size[tag] = v
    if 256 in size and 257 in size:
        return size[256], size[257]
    return None


def _webp(head: bytes, f: BinaryIO):
    kind = head[12:16]
    if kind == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        (bits,) = struct.unpack("<I", head[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X" and len(head) >= 30:
        w = int.from_bytes(head[24:27], "little") + 1
        h = int.from_bytes(head[27:30], "little") + 1
        return w, h
    return None


def _pnm(head: bytes, f: BinaryIO):
    tokens: list[int] = []
    text = head[2:].split(b"\n")
    for line in text:
        line = line.split(b"#", 1)[0]
        for tok in line.split():
            if not tok.isdigit():
                return None
            tokens.append(int(tok))
            if len(tokens) == 2:
                return tokens[0], tokens[1]
    return None


def _parser(head: bytes):
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png
    if head.startswith(b"\xff\xd8"):
        return _jpeg
    if head.startswith(b"BM"):
        return _bmp
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return _tiff
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _webp
    if head[:1] == b"P" and head[1:2] in b"123456" and len(head) > 2 and head[2:3].isspace():
        return _pnm
    return None


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(width, height)`` from the header of the image file at ``path``, or None (unknown format, cut short).

    Raises ``OSError`` when the file cannot be opened (the caller names it).
    """
    with open(Path(path), "rb") as f:
        head = f.read(_HEAD)
        parse = _parser(head)
        if parse is None:
            return None
        try:
            size = parse(head, f)
        except (struct.error, OSError, ValueError):
            return None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return int(size[0]), int(size[1])

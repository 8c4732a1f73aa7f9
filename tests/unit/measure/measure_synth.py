"""Synthetic cracks of known geometry (test helper for tests/unit/measure): antialiased (4 x 4 supersampled
coverage), blurred, thresholded at 0.5."""
from __future__ import annotations

import math

import cv2
import numpy as np

SS = 4


def _grid(shape):
    h, w = shape
    o = (np.arange(SS) + 0.5) / SS - 0.5
    ys = (np.arange(h)[:, None] + o[None, :]).reshape(-1)
    xs = (np.arange(w)[:, None] + o[None, :]).reshape(-1)
    return np.meshgrid(xs, ys)


def _finish(inside: np.ndarray, shape, blur: float) -> np.ndarray:
    h, w = shape
    cov = inside.reshape(h, SS, w, SS).mean(axis=(1, 3)).astype(np.float32)
    if blur > 0:
        cov = cv2.GaussianBlur(cov, (0, 0), blur)
    return cov >= 0.5


def _in_bar(X, Y, p0, p1, width, back=0.0):
    """Inside a bar of the given width from p0 to p1 (square ends), started ``back`` behind p0."""
    d = np.subtract(p1, p0, dtype=float)
    L = math.hypot(*d)
    t = d / L
    u = (X - p0[0]) * t[0] + (Y - p0[1]) * t[1]
    v = -(X - p0[0]) * t[1] + (Y - p0[1]) * t[0]
    return (u >= -back) & (u <= L) & (np.abs(v) <= width / 2)


def straight(shape, center, length, width, angle_deg, blur=0.5):
    a = math.radians(angle_deg)
    d = np.array([math.cos(a), -math.sin(a)]) * length / 2     # angle counter-clockwise on screen
    X, Y = _grid(shape)
    return _finish(_in_bar(X, Y, np.asarray(center) - d, np.asarray(center) + d, width), shape, blur)


def arc(shape, center, radius, width, a0_deg, a1_deg, blur=0.5):
    """Annulus sector; centreline length radius * (a1 - a0) in radians."""
    X, Y = _grid(shape)
    r = np.hypot(X - center[0], Y - center[1])
    ang = np.degrees(np.arctan2(-(Y - center[1]), X - center[0])) % 360
    inside = (np.abs(r - radius) <= width / 2) & (ang >= a0_deg) & (ang <= a1_deg)
    return _finish(inside, shape, blur)


def branching(shape, center, arms, width, blur=0.5):
    """A Y: bars from ``center`` at (angle_deg, length) each; centreline length = sum of the arm lengths."""
    X, Y = _grid(shape)
    inside = np.zeros(X.shape, bool)
    for ang, L in arms:
        a = math.radians(ang)
        p1 = (center[0] + L * math.cos(a), center[1] - L * math.sin(a))
        inside |= _in_bar(X, Y, center, p1, width, back=width / 2)
    return _finish(inside, shape, blur)

"""Synthetic crack scenes (numpy + OpenCV only): textured backgrounds, branching cracks and distractors.

Every image has a textured background: asphalt (aggregate grain), concrete (blotches, grain, pores) or masonry
(bricks or stones with mortar joints, per-unit colour). Crack images carry one to three cracks: random walks with
momentum that branch (up to two levels), taper towards their tips, vary in width (sub-pixel to ~5 px, drawn 4x
supersampled and area-downsampled) and in contrast along their length (some are faint). The mask is the crack
coverage >= 0.5 at output resolution, so hair-line tips that cover less than half a pixel are visible but not
labelled, as in hand-made ground truth. Crack-free images carry distractors that look like cracks to a naive
detector: straight saw-cut joints and seams, stains, oil drips, soft shadows, scratches, debris and road markings;
some crack images carry distractors too, so a distractor does not mean "no crack".
"""
from __future__ import annotations

import math

import cv2
import numpy as np


TEXTURES = ("asphalt", "concrete", "masonry")
DISTRACTORS = ("joint", "stain", "oil", "shadow", "scratch", "debris", "marking")
_SS = 4  # supersampling factor for drawing cracks


# --------------------------------------------------------------------------------------------------------------------
# noise and backgrounds

def _smooth_noise(rng, h, w, scale: float) -> np.ndarray:
    """Zero-mean, roughly unit-variance noise with features about ``scale`` pixels wide."""
    gh, gw = max(2, int(h / scale) + 3), max(2, int(w / scale) + 3)
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    big = cv2.resize(g, (int(gw * scale), int(gh * scale)), interpolation=cv2.INTER_CUBIC)
    y0 = int(rng.integers(0, max(1, big.shape[0] - h)))
    x0 = int(rng.integers(0, max(1, big.shape[1] - w)))
    out = big[y0:y0 + h, x0:x0 + w]
    if out.shape != (h, w):
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    return out / max(float(out.std()), 1e-6)


def _fractal(rng, h, w, base: float, octaves: int = 4, gain: float = 0.55) -> np.ndarray:
    out = np.zeros((h, w), np.float32)
    amp, total, scale = 1.0, 0.0, base
    for _ in range(octaves):
        out += amp * _smooth_noise(rng, h, w, max(scale, 1.0))
        total += amp
        amp *= gain
        scale /= 2.0
    return out / total


def _tint(rng, grey: float, spread: float) -> np.ndarray:
    return np.clip(grey + rng.uniform(-spread, spread, 3), 0.02, 0.98).astype(np.float32)


def _asphalt(rng, h, w) -> np.ndarray:
    base = _tint(rng, rng.uniform(0.30, 0.58), 0.03)
    lum = 0.06 * _fractal(rng, h, w, max(h, w) / 3, 3)
    grain = rng.standard_normal((h, w)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), rng.uniform(0.6, 1.1))
    grain *= rng.uniform(0.08, 0.16) / max(float(grain.std()), 1e-6)
    stones = _smooth_noise(rng, h, w, rng.uniform(2.0, 3.5))
    stones = np.where(np.abs(stones) > 1.4, np.sign(stones) * rng.uniform(0.05, 0.12), 0).astype(np.float32)
    return base[None, None, :] * (1.0 + (lum + grain + stones)[..., None])


def _concrete(rng, h, w) -> np.ndarray:
    base = _tint(rng, rng.uniform(0.52, 0.78), 0.025)
    blotch = rng.uniform(0.03, 0.07) * _fractal(rng, h, w, max(h, w) / 2.5, 4)
    grain = rng.standard_normal((h, w)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.7) * rng.uniform(0.02, 0.05) / 0.35
    img = base[None, None, :] * (1.0 + (blotch + grain)[..., None])
    pores = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(0, max(2, h * w // 800)))):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(pores, c, int(rng.integers(1, 3)), float(rng.uniform(0.2, 0.5)), -1, cv2.LINE_AA)
    pores = cv2.GaussianBlur(pores, (0, 0), 0.6)
    return img * (1.0 - pores[..., None])


def _masonry(rng, h, w) -> np.ndarray:
    stone = rng.random() < 0.35
    pad = max(h, w) // 2
    H, W = h + 2 * pad, w + 2 * pad
    bh = rng.uniform(h / 7.0, h / 3.5)
    bw = bh * (rng.uniform(1.0, 1.8) if stone else rng.uniform(2.0, 3.2))
    mortar_w = rng.uniform(1.2, 3.2)
    mortar = _tint(rng, rng.uniform(0.45, 0.8), 0.03)
    if stone:
        g = rng.uniform(0.42, 0.7)
        unit_base = np.array([g * rng.uniform(1.0, 1.08), g, g * rng.uniform(0.85, 1.0)], np.float32)  # grey-beige
    else:
        unit_base = np.array([rng.uniform(0.45, 0.65), rng.uniform(0.22, 0.35), rng.uniform(0.15, 0.25)], np.float32)
    img = np.empty((H, W, 3), np.float32)
    img[:] = mortar
    y, row = 0.0, 0
    while y < H:
        x = -rng.uniform(0, bw) if stone else -(bw / 2.0) * (row % 2)
        while x < W:
            ww = bw * (rng.uniform(0.7, 1.3) if stone else 1.0)
            col = np.clip(unit_base * rng.uniform(0.82, 1.18) + rng.uniform(-0.015, 0.015, 3), 0, 1)
            p0 = (int(round(x + mortar_w / 2)), int(round(y + mortar_w / 2)))
            p1 = (int(round(x + ww - mortar_w / 2)), int(round(y + bh - mortar_w / 2)))
            cv2.rectangle(img, p0, p1, tuple(float(c) for c in col), -1)
            x += ww
        y += bh
        row += 1
    ang = rng.uniform(-6, 6)
    M = cv2.getRotationMatrix2D((W / 2, H / 2), ang, 1.0)
    img = cv2.warpAffine(img, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    img = img[pad:pad + h, pad:pad + w]
    tex = 0.05 * _fractal(rng, h, w, max(h, w) / 6, 3) + 0.04 * rng.standard_normal((h, w)).astype(np.float32)
    return img * (1.0 + tex[..., None])


_BACKGROUNDS = {"asphalt": _asphalt, "concrete": _concrete, "masonry": _masonry}


# --------------------------------------------------------------------------------------------------------------------
# cracks

def _walk(rng, start, heading, length, step, wiggle):
    """A crack path: points (x, y) in output pixels. The heading zig-zags around a slowly drifting main direction
    (an Ornstein-Uhlenbeck process), which gives the jagged but persistent look of real cracks."""
    pts = [np.array(start, np.float64)]
    base, dev = heading, 0.0
    for _ in range(max(2, int(length / step))):
        base += rng.normal(0.0, wiggle * 0.25)
        dev = 0.8 * dev + rng.normal(0.0, wiggle)
        th = base + dev
        pts.append(pts[-1] + step * np.array([math.cos(th), math.sin(th)]))
    return np.array(pts), base


def _width_profile(rng, n, w0, taper_start: bool):
    t = np.linspace(0.0, 1.0, n)
    env = np.sin(np.pi * (0.5 + t / 2 if not taper_start else t)) if n > 1 else np.ones(1)
    env = 0.3 + 0.7 * np.clip(env, 0, 1) ** 0.6
    k = max(2, n // 12)
    wob = np.interp(np.arange(n), np.linspace(0, n - 1, k), rng.uniform(0.65, 1.35, k))
    return w0 * env * wob


def _draw_polyline(canvas, pts, widths, value=255):
    p = np.round(pts * _SS).astype(np.int32)
    for i in range(len(p) - 1):
        th = max(1, int(round(widths[i] * _SS)))
        cv2.line(canvas, (int(p[i, 0]), int(p[i, 1])), (int(p[i + 1, 0]), int(p[i + 1, 1])), value, th, cv2.LINE_AA)


def _crack(rng, canvas, h, w, depth=0, start=None, heading=None, length=None, w0=None):
    """Draw one crack with branches into the supersampled coverage canvas."""
    if start is None:
        if rng.random() < 0.6:  # enter from a border, heading inwards
            side = int(rng.integers(0, 4))
            u = rng.uniform(0.1, 0.9)
            start = [(u * w, -2.0), (w + 2.0, u * h), (u * w, h + 2.0), (-2.0, u * h)][side]
            heading = [math.pi / 2, math.pi, -math.pi / 2, 0.0][side] + rng.normal(0, 0.35)
            taper_start = False
        else:
            start = (rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h)
            heading = rng.uniform(0, 2 * math.pi)
            taper_start = True
        length = rng.uniform(0.6, 1.4) * max(h, w)
        w0 = float(np.exp(rng.uniform(np.log(0.9), np.log(5.0))))  # log-uniform width in px at 160 px
        w0 = float(np.clip(w0 * (max(h, w) / 160.0) ** 0.5, 0.8, 8.0))
    else:
        taper_start = False
    step = max(0.8, max(h, w) / 160.0)
    pts, _ = _walk(rng, start, heading, length, step, wiggle=rng.uniform(0.15, 0.45))
    widths = _width_profile(rng, len(pts), w0, taper_start)
    _draw_polyline(canvas, pts, widths)
    if depth < 2:
        n_br = int(rng.poisson(1.4 if depth == 0 else 0.6))
        for _ in range(n_br):
            j = int(rng.integers(int(0.15 * len(pts)), max(int(0.15 * len(pts)) + 1, int(0.9 * len(pts)))))
            d = pts[min(j + 1, len(pts) - 1)] - pts[max(j - 1, 0)]
            base_th = math.atan2(d[1], d[0])
            th = base_th + rng.choice([-1, 1]) * rng.uniform(math.radians(25), math.radians(75))
            _crack(rng, canvas, h, w, depth + 1, start=tuple(pts[j]), heading=th,
                   length=length * rng.uniform(0.15, 0.5), w0=max(0.6, widths[j] * rng.uniform(0.4, 0.75)))


def _render_cracks(rng, h, w):
    """Coverage in [0,1] at output size, and the per-pixel darkening strength."""
    canvas = np.zeros((h * _SS, w * _SS), np.uint8)
    n = 1 + int(rng.random() < 0.3) + int(rng.random() < 0.1)
    for _ in range(n):
        _crack(rng, canvas, h, w)
    cov = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return cov


def _apply_cracks(rng, img, cov):
    h, w = cov.shape
    contrast = rng.uniform(0.3, 0.85) if rng.random() < 0.85 else rng.uniform(0.18, 0.3)  # some faint cracks
    along = np.clip(1.0 + 0.35 * _smooth_noise(rng, h, w, max(h, w) / 4), 0.3, 1.5)
    core = cv2.GaussianBlur(cov, (0, 0), rng.uniform(0.3, 0.8))
    halo = cv2.GaussianBlur(cov, (0, 0), rng.uniform(1.5, 3.0)) * rng.uniform(0.05, 0.2)
    dark = np.clip(contrast * along * core + halo, 0, 0.95)
    return img * (1.0 - dark[..., None])


# --------------------------------------------------------------------------------------------------------------------
# distractors (crack-free look-alikes)

def _soft(mask, sigma):
    return cv2.GaussianBlur(mask, (0, 0), sigma) if sigma > 0 else mask


def _d_joint(rng, img):
    """Straight saw-cut joint or seam across the image (sometimes a pair of edges)."""
    h, w = img.shape[:2]
    m = np.zeros((h * _SS, w * _SS), np.uint8)
    th = rng.choice([0.0, math.pi / 2]) + rng.normal(0, 0.08) if rng.random() < 0.7 else rng.uniform(0, math.pi)
    cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
    L = 2 * max(h, w)
    p0 = (int((cx - L * math.cos(th)) * _SS), int((cy - L * math.sin(th)) * _SS))
    p1 = (int((cx + L * math.cos(th)) * _SS), int((cy + L * math.sin(th)) * _SS))
    width = rng.uniform(1.2, 4.0)
    cv2.line(m, p0, p1, 255, max(1, int(width * _SS)), cv2.LINE_AA)
    cov = cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    if rng.random() < 0.4:  # filled joint: bright filler with dark edges
        edges = np.clip(cv2.morphologyEx(cov, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)), 0, 1)
        return img * (1 - 0.4 * edges[..., None]) * (1 + 0.15 * cov[..., None])
    return img * (1.0 - rng.uniform(0.3, 0.65) * _soft(cov, 0.5)[..., None])


def _blob(rng, h, w, r):
    m = np.zeros((h, w), np.float32)
    c = (int(rng.uniform(0.1, 0.9) * w), int(rng.uniform(0.1, 0.9) * h))
    axes = (max(1, int(r * rng.uniform(0.6, 1.4))), max(1, int(r * rng.uniform(0.6, 1.4))))
    cv2.ellipse(m, c, axes, rng.uniform(0, 180), 0, 360, 1.0, -1, cv2.LINE_AA)
    rough = _smooth_noise(rng, h, w, max(2.0, r / 2))
    edge = cv2.GaussianBlur(m, (0, 0), max(1.0, r / 3))
    return np.clip((edge + 0.25 * rough - 0.45) * 4, 0, 1)


def _d_stain(rng, img):
    h, w = img.shape[:2]
    m = _blob(rng, h, w, rng.uniform(0.1, 0.3) * min(h, w))
    m = _soft(m, rng.uniform(0.5, 2.0))
    if rng.random() < 0.5:  # water stain: darker rim
        rim = np.clip(m - cv2.erode(m, np.ones((5, 5), np.uint8)), 0, 1)
        m = 0.5 * m + rim
    tint = np.array([1.0, rng.uniform(0.9, 1.0), rng.uniform(0.75, 1.0)], np.float32)
    a = rng.uniform(0.1, 0.35)
    return img * (1 - a * m[..., None]) * (1 - (1 - tint) * m[..., None])


def _d_oil(rng, img):
    h, w = img.shape[:2]
    out = img
    for _ in range(int(rng.integers(1, 5))):
        m = _blob(rng, h, w, rng.uniform(0.03, 0.09) * min(h, w))
        core = cv2.erode(m, np.ones((3, 3), np.uint8))
        out = out * (1 - (rng.uniform(0.2, 0.45) * m + 0.2 * core)[..., None])
    return out


def _d_shadow(rng, img):
    h, w = img.shape[:2]
    m = np.zeros((h, w), np.float32)
    if rng.random() < 0.5:  # half-plane shadow
        pts = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
        k = int(rng.integers(0, 4))
        a, b = rng.uniform(0.1, 0.9, 2)
        poly = [pts[k], pts[(k + 1) % 4]]
        e1 = pts[(k + 1) % 4] + (pts[(k + 2) % 4] - pts[(k + 1) % 4]) * a
        e2 = pts[k] + (pts[(k + 3) % 4] - pts[k]) * b
        cv2.fillPoly(m, [np.array(poly + [e1, e2], np.int32)], 1.0, cv2.LINE_AA)
    else:  # a pole's shadow: a long band
        th = rng.uniform(0, math.pi)
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        L = 2 * max(h, w)
        cv2.line(m, (int(cx - L * math.cos(th)), int(cy - L * math.sin(th))),
                 (int(cx + L * math.cos(th)), int(cy + L * math.sin(th))), 1.0,
                 int(rng.uniform(0.06, 0.18) * min(h, w)), cv2.LINE_AA)
    m = _soft(m, rng.uniform(1.5, 5.0))
    return img * (1 - rng.uniform(0.2, 0.45) * m[..., None])


def _d_scratch(rng, img):
    """Faint thin, nearly straight lines (tyre marks, tool scratches): thin like cracks but straight and weak."""
    h, w = img.shape[:2]
    m = np.zeros((h * _SS, w * _SS), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        th = rng.uniform(0, math.pi)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        L = rng.uniform(0.3, 1.0) * max(h, w)
        c = rng.uniform(-0.2, 0.2) * L  # gentle curvature
        pts = []
        for t in np.linspace(-0.5, 0.5, 16):
            off = c * (1 - 4 * t * t)
            pts.append(((cx + t * L * math.cos(th) - off * math.sin(th)) * _SS,
                        (cy + t * L * math.sin(th) + off * math.cos(th)) * _SS))
        cv2.polylines(m, [np.array(pts, np.int32)], False, 255, max(1, int(rng.uniform(0.5, 1.3) * _SS)), cv2.LINE_AA)
    cov = cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    sign = 1.0 if rng.random() < 0.7 else -1.0  # mostly darker, sometimes lighter
    return img * (1 - sign * rng.uniform(0.08, 0.2) * cov[..., None])


def _d_debris(rng, img):
    h, w = img.shape[:2]
    m = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(3, 15))):
        c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        axes = (int(rng.integers(1, 4)), int(rng.integers(1, 3)))
        cv2.ellipse(m, c, axes, rng.uniform(0, 180), 0, 360, float(rng.uniform(0.3, 0.7)), -1, cv2.LINE_AA)
    return img * (1 - _soft(m, 0.6)[..., None])


def _d_marking(rng, img):
    h, w = img.shape[:2]
    m = np.zeros((h, w), np.float32)
    th = rng.uniform(0, math.pi)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    L = 2 * max(h, w)
    cv2.line(m, (int(cx - L * math.cos(th)), int(cy - L * math.sin(th))),
             (int(cx + L * math.cos(th)), int(cy + L * math.sin(th))), 1.0,
             max(2, int(rng.uniform(0.05, 0.12) * min(h, w))), cv2.LINE_AA)
    m *= np.clip(0.8 + 0.3 * _smooth_noise(rng, h, w, 3.0), 0, 1)  # worn paint
    paint = np.array([0.92, 0.9, 0.8] if rng.random() < 0.7 else [0.95, 0.8, 0.2], np.float32)
    a = rng.uniform(0.5, 0.85)
    return img * (1 - a * m[..., None]) + a * m[..., None] * paint


_DISTRACTOR_FN = {"joint": _d_joint, "stain": _d_stain, "oil": _d_oil, "shadow": _d_shadow,
                  "scratch": _d_scratch, "debris": _d_debris, "marking": _d_marking}
_DISTRACTOR_P = np.array([0.24, 0.2, 0.14, 0.16, 0.12, 0.08, 0.06])


# --------------------------------------------------------------------------------------------------------------------
# one sample

def _finish(rng, img):
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    g = rng.uniform(-0.15, 0.15) * ((xx / w - 0.5) * math.cos(rng.uniform(0, 6.3)) + (yy / h - 0.5))
    r2 = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2)
    vign = 1.0 - rng.uniform(0.0, 0.35) * r2
    img = img * ((1.0 + g) * vign * rng.uniform(0.85, 1.15))[..., None]
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.7))
    img = img + rng.normal(0, rng.uniform(0.005, 0.02), img.shape).astype(np.float32)
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def render_sample(rng: np.random.Generator, size, crack: bool, texture: str | None = None):
    """One synthetic sample: ``(rgb uint8 HxWx3, mask uint8 HxW 0/255, texture, distractors)``."""
    h, w = int(size[0]), int(size[1])
    texture = texture or str(rng.choice(TEXTURES, p=[0.45, 0.3, 0.25]))
    img = _BACKGROUNDS[texture](rng, h, w).astype(np.float32)
    n_d = int(rng.integers(1, 4)) if not crack else int(rng.random() < 0.35)
    names = [str(x) for x in rng.choice(DISTRACTORS, size=n_d, replace=False, p=_DISTRACTOR_P)] if n_d else []
    for d in names:
        img = _DISTRACTOR_FN[d](rng, img)
    mask = np.zeros((h, w), np.uint8)
    if crack:
        min_px = max(8, int(0.004 * h * w))
        for _ in range(20):
            cov = _render_cracks(rng, h, w)
            mask = np.where(cov >= 0.5, 255, 0).astype(np.uint8)
            if int((mask > 0).sum()) >= min_px:
                break
        img = _apply_cracks(rng, img, cov)
    return _finish(rng, img), mask, texture, names


# --------------------------------------------------------------------------------------------------------------------

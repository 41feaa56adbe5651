"""Procedural cel-shaded anime-style pictures: Irodori's embedded default and test data.

Each picture is a sky or pastel background with one to three simple characters (hair,
face, eyes, clothes) and a few props, every region filled with one flat colour, a darker
shadow band on one side, a light highlight, and a dark outline, the way cel shading looks.
Colours come from skin, hair, clothing and sky palettes, so lightness alone is ambiguous
but learnable from shape and context, as in real line art. Picture i is a pure function
of (seed, i): the data set is the same on every machine.
"""

import os

import cv2
import numpy as np

from export.atomic import staged

SKIN = [(255, 228, 206), (250, 212, 182), (236, 188, 150), (198, 140, 105)]
HAIR = [(44, 40, 60), (246, 222, 120), (205, 62, 70), (110, 72, 48), (112, 168, 236),
        (238, 152, 204), (236, 236, 244), (72, 160, 110)]
CLOTHES = [(220, 40, 60), (40, 80, 190), (250, 250, 250), (30, 30, 40), (250, 170, 40),
           (120, 60, 170), (60, 170, 160), (240, 120, 150)]
SKY = [((120, 190, 250), (210, 236, 255)), ((250, 160, 120), (255, 220, 170)),
       ((40, 50, 110), (110, 90, 160)), ((170, 220, 200), (240, 250, 230))]
EYES = [(60, 120, 220), (150, 60, 40), (60, 160, 80), (190, 50, 60), (140, 80, 200)]
OUTLINE = (28, 22, 32)


def _shade(color, factor):
    return tuple(int(np.clip(c * factor, 0, 255)) for c in color)


def _paint(canvas, mask, color, rng, line_width):
    """Fill a region with cel shading and an outline."""
    inside = mask > 0
    canvas[inside] = color
    # Shadow: the crescent the region does not share with itself shifted towards the light.
    shift = max(2, canvas.shape[0] // 24)
    dx, dy = rng.integers(-shift, shift + 1, size=2)
    moved = np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    canvas[inside & (moved == 0)] = _shade(color, 0.72)
    highlight = np.roll(np.roll(mask, -dy // 2, axis=0), -dx // 2, axis=1)
    small = cv2.erode(mask, np.ones((shift * 2 + 1, shift * 2 + 1), np.uint8))
    canvas[(small > 0) & (highlight > 0) & (rng.random() < 0.5)] = _shade(color, 1.12)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(canvas, contours, -1, OUTLINE, line_width, lineType=cv2.LINE_AA)


def _ellipse_mask(shape, center, axes, angle=0.0):
    mask = np.zeros(shape, np.uint8)
    cv2.ellipse(mask, (int(center[0]), int(center[1])), (max(1, int(axes[0])), max(1, int(axes[1]))),
                angle, 0, 360, 255, -1)
    return mask


def _polygon_mask(shape, points):
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.asarray(points, np.int32)], 255)
    return mask


def _background(size, rng):
    top, bottom = SKY[rng.integers(len(SKY))]
    t = np.linspace(0.0, 1.0, size)[:, None, None]
    sky = (1 - t) * np.array(top) + t * np.array(bottom)
    canvas = np.broadcast_to(sky, (size, size, 3)).astype(np.uint8).copy()
    if rng.random() < 0.6:  # ground band
        horizon = int(size * rng.uniform(0.65, 0.85))
        canvas[horizon:] = CLOTHES[rng.integers(len(CLOTHES))] if rng.random() < 0.3 else (110, 170, 90)
        cv2.line(canvas, (0, horizon), (size, horizon), OUTLINE, max(1, size // 128))
    return canvas


def _character(canvas, rng, line_width):
    size = canvas.shape[0]
    shape = canvas.shape[:2]
    cx = rng.uniform(0.2, 0.8) * size
    head = rng.uniform(0.09, 0.17) * size
    cy = rng.uniform(0.3, 0.6) * size
    hair_color = HAIR[rng.integers(len(HAIR))]
    clothes = CLOTHES[rng.integers(len(CLOTHES))]
    skin = SKIN[rng.integers(len(SKIN))]
    # Body first, then hair behind the head, face, fringe and eyes on top.
    shoulders = [(cx - head * 1.3, size), (cx - head * 0.9, cy + head * 1.1),
                 (cx + head * 0.9, cy + head * 1.1), (cx + head * 1.3, size)]
    _paint(canvas, _polygon_mask(shape, shoulders), clothes, rng, line_width)
    _paint(canvas, _ellipse_mask(shape, (cx, cy + head * 0.2), (head * 1.25, head * 1.35)),
           hair_color, rng, line_width)
    _paint(canvas, _ellipse_mask(shape, (cx, cy + head * 0.15), (head * 0.85, head)), skin, rng, line_width)
    fringe = [(cx - head * 1.05, cy), (cx - head * 0.6, cy - head * 1.05), (cx + head * 0.7, cy - head * 1.0),
              (cx + head * 1.05, cy + head * 0.1), (cx + head * 0.3, cy - head * 0.35),
              (cx - head * 0.2, cy - head * 0.2), (cx - head * 0.5, cy - head * 0.45)]
    _paint(canvas, _polygon_mask(shape, fringe), hair_color, rng, line_width)
    eye_color = EYES[rng.integers(len(EYES))]
    for side in (-1, 1):
        center = (cx + side * head * 0.38, cy + head * 0.25)
        _paint(canvas, _ellipse_mask(shape, center, (head * 0.16, head * 0.24)), eye_color, rng, line_width)


def _prop(canvas, rng, line_width):
    size = canvas.shape[0]
    color = (CLOTHES + HAIR)[rng.integers(len(CLOTHES) + len(HAIR))]
    center = rng.uniform(0.05, 0.95, size=2) * size
    radius = rng.uniform(0.04, 0.12) * size
    if rng.random() < 0.5:
        mask = _ellipse_mask(canvas.shape[:2], center, (radius, radius * rng.uniform(0.5, 1.0)),
                             angle=rng.uniform(0, 180))
    else:
        sides = rng.integers(3, 7)
        angles = np.sort(rng.uniform(0, 2 * np.pi, size=sides))
        points = center + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        mask = _polygon_mask(canvas.shape[:2], points)
    _paint(canvas, mask, color, rng, line_width)


def draw_image(index, size=256, seed=0):
    """Picture number `index` of the data set `seed`: uint8 RGB (size, size, 3)."""
    rng = np.random.default_rng([seed, index])
    big = size * 2  # draw at twice the size, then downsample for anti-aliased edges
    line_width = max(2, big // 96)
    canvas = _background(big, rng)
    for _ in range(rng.integers(1, 4)):
        _prop(canvas, rng, line_width)
    for _ in range(rng.integers(1, 4)):
        _character(canvas, rng, line_width)
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)


def write_dataset(directory, count, size=256, seed=0):
    """Write pictures 0..count-1 as PNG files into `directory`; returns their paths.

    Files already present are kept, so calling this again is cheap.
    """
    os.makedirs(directory, exist_ok=True)
    paths = []
    for index in range(count):
        path = os.path.join(directory, f"synthetic_{seed}_{size}_{index:05d}.png")
        if not os.path.exists(path):
            rgb = draw_image(index, size=size, seed=seed)
            with staged(path) as temporary:
                cv2.imwrite(temporary, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths

"""Contact sheets: pictures side by side in a grid, for people to look at rather than read."""

import math

import cv2
import numpy as np

from export.atomic import staged, write_atomically


def fit_within(image, max_side):
    """Downscale (never upscale) so the longer side is at most max_side; uint8 [H, W, 3]."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def enlarge_to(image, min_side):
    """Upscale by a whole factor with nearest neighbour until the longer side reaches min_side,
    so small pictures are visible and every pixel stays as computed."""
    factor = max(1, math.ceil(min_side / max(image.shape[:2])))
    return image if factor == 1 else np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def as_rgb(image):
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]


def contact_sheet(images, labels=None, columns=None, max_cell=384, gutter=4, min_cell=0):
    """uint8 images (any sizes, 1 or 3 channels) -> one uint8 RGB grid on white.

    columns defaults to a near-square grid. Each cell is scaled to fit max_cell (and enlarged
    to min_cell by whole factors) and centred in the largest cell; labels (one per image, or None) are written in each cell's corner.
    """
    if not len(images):
        raise ValueError("contact_sheet needs at least one image")
    cells = [fit_within(enlarge_to(as_rgb(image), min_cell), max_cell) for image in images]
    columns = columns or math.ceil(math.sqrt(len(cells)))
    rows = math.ceil(len(cells) / columns)
    cell_h = max(cell.shape[0] for cell in cells)
    cell_w = max(cell.shape[1] for cell in cells)
    sheet = np.full((rows * cell_h + (rows + 1) * gutter, columns * cell_w + (columns + 1) * gutter, 3),
                    255, np.uint8)
    for index, cell in enumerate(cells):
        row, column = divmod(index, columns)
        top = gutter + row * (cell_h + gutter) + (cell_h - cell.shape[0]) // 2
        left = gutter + column * (cell_w + gutter) + (cell_w - cell.shape[1]) // 2
        sheet[top:top + cell.shape[0], left:left + cell.shape[1]] = cell
        if labels and labels[index]:
            _label(sheet, str(labels[index]), left + 3, top + 3)
    return sheet


def _label(sheet, text, left, top):
    """Dark text on a white box, readable on any colouring."""
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1
    (width, height), baseline = cv2.getTextSize(text, font, scale, thickness)
    cv2.rectangle(sheet, (left, top), (left + width + 4, top + height + baseline + 4), (255, 255, 255), -1)
    cv2.putText(sheet, text, (left + 2, top + height + 2), font, scale, (0, 0, 0), thickness, cv2.LINE_AA)


def write_png(path, rgb):
    """Write uint8 RGB [H, W, 3] (NumPy array or tensor) as PNG, atomically: never a half-written
    picture, and a big picture is never held twice.

    A tensor is encoded and written by TensorFlow (a copy into NumPy would double it). An array
    goes to OpenCV, which encodes BGR: red and blue are swapped in place, a block of rows at a
    time, and swapped back after encoding.
    """
    if not isinstance(rgb, np.ndarray) and hasattr(rgb, "dtype") and hasattr(rgb, "numpy"):
        import tensorflow as tf

        with staged(path) as temporary:
            tf.io.write_file(temporary, tf.io.encode_png(tf.cast(rgb, tf.uint8)))
        return path
    rgb = np.asarray(rgb)
    if not (rgb.flags.writeable and rgb.flags.c_contiguous):
        rgb = np.array(rgb)  # our own copy to swap in
    _swap_red_and_blue(rgb)
    try:
        ok, encoded = cv2.imencode(".png", rgb)
    finally:
        _swap_red_and_blue(rgb)  # the caller gets its RGB back
    if not ok:
        raise OSError(f"could not encode {path} as PNG")
    return write_atomically(path, encoded)


def _swap_red_and_blue(image, rows=256):
    for top in range(0, image.shape[0], rows):
        block = image[top:top + rows]
        red = block[..., 0].copy()
        block[..., 0] = block[..., 2]
        block[..., 2] = red

"""Colour hints as network inputs: an RGBA hint image at the picture's size -> hint colour and
mask at the network's size (inference), and hints simulated from the truth (training).

Resizing must not lose hints: a 1 px hint on a 4000 px page covers 1/240 of a 256 px pixel,
which an ordinary resize of the hint colours would average away. The colour is therefore
premultiplied by its opacity, both are area-averaged, and the colour divided back: every
network pixel that any hint touches is a hint (mask 1) with the mean colour of the hints
over it, and all others are 0.
"""

import tensorflow as tf

from pipeline import color


def hints_at_size(rgba, size):
    """uint8 RGBA [..., H, W, 4] -> (float RGB [..., S, S, 3] in [0, 1], mask [..., S, S, 1] in {0, 1}).

    size: S for the network's square trained size, or a pair (h, w) for another working size
    (irodori-colorize --render-size), which gives [..., h, w, ...] instead.
    Pixels count as hints by their opacity (alpha / 255); the colour where the mask is 0 is 0.
    """
    rgba = tf.cast(rgba, tf.float32) / 255.0
    alpha = rgba[..., 3:]
    premultiplied = tf.concat([rgba[..., :3] * alpha, alpha], axis=-1)
    small = tf.image.resize(premultiplied, size if isinstance(size, (tuple, list)) else [size, size], method="area")
    coverage = small[..., 3:]
    mask = tf.cast(coverage > 0, tf.float32)
    rgb = tf.math.divide_no_nan(small[..., :3], coverage)
    return tf.clip_by_value(rgb, 0.0, 1.0) * mask, mask


def gray_hint_channels(rgba, size):
    """Grayscale task: RGBA hints -> [..., S, S, 3] = normalised a*b* of the hint colours (as the
    targets, ab / 110) and the 0/1 mask, ideepcolor's hint input beside L*. size: as hints_at_size's."""
    rgb, mask = hints_at_size(rgba, size)
    ab = color.normalize_ab(color.rgb_to_lab(rgb)[..., 1:]) * mask
    return tf.concat([ab, mask], axis=-1)


def sketch_hint_channels(rgba, size):
    """Sketch task: RGBA hints -> [..., S, S, 4] = the hint colours as the targets (RGB in [-1, 1],
    0 where there is none) and the 0/1 mask. Line art carries no colour of its own to keep, so the
    hint is the whole colour, RGB as the network's output, not a*b*. size: as hints_at_size's."""
    rgb, mask = hints_at_size(rgba, size)
    return tf.concat([(rgb * 2.0 - 1.0) * mask, mask], axis=-1)


# The channels the hints add to each task's condition (1 channel: L* or the line art).
HINT_CHANNELS = {"gray": 3, "sketch": 4}
TASK_HINT_CHANNELS = {"gray": gray_hint_channels, "sketch": sketch_hint_channels}


def condition_channels(task, hints):
    """The generator's (and discriminator's condition's) input channels."""
    return 1 + (HINT_CHANNELS[task] if hints else 0)


# Simulated hints, after ideepcolor (Zhang et al. 2017; colorization-pytorch's
# add_color_patches_rand_gt): half of the examples get none, so automatic colouring keeps
# learning; the others get 1 + Geometric(1/8) square patches of side 1-9 px whose colour is
# the mean of the truth over the patch. Positions follow a normal around the centre (sd a
# quarter of the side) as ideepcolor's default: artists hint the subject, rarely the margins.
NO_HINT_SHARE = 0.5
POINT_P = 1.0 / 8.0
MAX_POINTS = 48  # P(more than 48 | hinted) = (7/8)^47, about 2e-3: a fixed size for graph mode
PATCH_SIDES = (1, 9)
SPREAD = 0.25
HINT_STREAM = 7  # folded into the example's seed: hints draw from their own stream, not the sketch jitter's
STROKE_STREAM = 11  # folded into the hints' seed for the stroke plan


def hint_plan(seed, height, width):
    """Where the simulated hints go: (count, sides [MAX_POINTS], top-left corners [MAX_POINTS, 2]);
    only the first `count` patches are used. Stateless: the same seed, the same plan."""
    seeds = tf.random.experimental.stateless_split(seed, 4)
    hinted = tf.random.stateless_uniform([], seeds[0]) >= NO_HINT_SHARE
    # 1 + Geometric(p) by inversion: the number of failures before the first success.
    u = tf.random.stateless_uniform([], seeds[1], minval=1e-7, maxval=1.0)
    count = 1 + tf.cast(tf.floor(tf.math.log(u) / tf.math.log(1.0 - POINT_P)), tf.int32)
    count = tf.where(hinted, tf.minimum(count, MAX_POINTS), 0)
    sides = tf.random.stateless_uniform([MAX_POINTS], seeds[2], PATCH_SIDES[0], PATCH_SIDES[1] + 1, tf.int32)
    sides = tf.minimum(sides, tf.minimum(height, width))
    centres = tf.random.stateless_normal([MAX_POINTS, 2], seeds[3], mean=0.5, stddev=SPREAD)
    size = tf.cast(tf.stack([height, width]), tf.float32)
    centres = tf.cast(tf.floor(tf.clip_by_value(centres, 0.0, 1.0) * (size - 1.0)), tf.int32)
    corners = centres - (sides[:, None] - 1) // 2
    corners = tf.clip_by_value(corners, 0, tf.stack([height, width]) - sides[:, None])  # whole patches, inside
    return count, sides, corners


# Sketch hints also come as short strokes, as PaintsTorch simulates them (there splines; here
# straight, which a 3 px brush over about 17 px barely tells apart): half the patches become a
# chain of STROKE_SEGMENTS squares of side STROKE_WIDTH, STROKE_SPACING px apart in a uniform
# direction, one colour (the truth's mean over the stroke), as an artist's dab of colour.
STROKE_SHARE = 0.5
STROKE_SEGMENTS = 8
STROKE_WIDTH = 3
STROKE_SPACING = 2


def stroke_plan(seed, height, width, corners):
    """Turn about STROKE_SHARE of the patches into strokes: (is_stroke [K], segment corners [K, L, 2]).

    A square patch keeps its side and repeats its corner L times; a stroke starts at its
    patch's corner and steps along a random direction, every segment kept inside the picture.
    """
    seeds = tf.random.experimental.stateless_split(seed, 2)
    is_stroke = tf.random.stateless_uniform([MAX_POINTS], seeds[0]) < STROKE_SHARE
    angle = tf.random.stateless_uniform([MAX_POINTS], seeds[1], 0.0, 2.0 * 3.14159265)
    direction = tf.stack([tf.sin(angle), tf.cos(angle)], axis=-1)  # (row, column) steps
    steps = tf.range(STROKE_SEGMENTS, dtype=tf.float32)[None, :, None] * STROKE_SPACING  # [1, L, 1]
    offsets = tf.cast(tf.round(steps * direction[:, None]), tf.int32) * tf.cast(is_stroke, tf.int32)[:, None, None]
    limit = tf.stack([height, width]) - STROKE_WIDTH
    segment_corners = tf.clip_by_value(corners[:, None] + offsets, 0, tf.maximum(limit, 0))
    return is_stroke, segment_corners


# Every patch fits in an EXTENT x EXTENT box (a 9 px square, or a stroke of 8 segments 2 px apart).
EXTENT = max(PATCH_SIDES[1], (STROKE_SEGMENTS - 1) * STROKE_SPACING + STROKE_WIDTH)


def simulate_hints(target, seed, strokes=False):
    """target [H, W, C] (a*b* or RGB, the network's target scale), seed int64 [2] ->
    (hint values [H, W, C], mask [H, W, 1]): each patch carries the mean of target over it.
    strokes: also short strokes (the sketch task), see stroke_plan.

    Stateless: the same seed gives the same hints, so they repeat (and resume) with the batches;
    drawn on the cropped and flipped target, they are aligned with it by construction.
    Each patch is handled as the pixels of its EXTENT x EXTENT box, so the work does not grow
    with the picture: only one scatter and one gather touch the whole [H, W].
    """
    height, width = tf.shape(target)[0], tf.shape(target)[1]
    count, sides, corners = hint_plan(seed, height, width)
    segment_corners = corners[:, None]  # [K, L, 2]: one segment per square patch
    if strokes:
        is_stroke, stroke_corners = stroke_plan(tf.random.experimental.stateless_fold_in(seed, STROKE_STREAM),
                                                height, width, corners)
        sides = tf.where(is_stroke, tf.minimum(STROKE_WIDTH, tf.minimum(height, width)), sides)
        segment_corners = tf.where(is_stroke[:, None, None], stroke_corners,
                                   tf.repeat(segment_corners, STROKE_SEGMENTS, axis=1))
    box = tf.reduce_min(segment_corners, axis=1)  # [K, 2] top-left of each patch's box
    steps = tf.range(EXTENT)
    offsets = tf.reshape(tf.stack(tf.meshgrid(steps, steps, indexing="ij"), -1), [1, -1, 2])  # [1, P, 2]
    pixels = box[:, None] + offsets  # [K, P, 2]
    relative = pixels[:, :, None] - segment_corners[:, None]  # [K, P, L, 2]
    in_segment = tf.reduce_all((relative >= 0) & (relative < sides[:, None, None, None]), axis=-1)
    inside = tf.reduce_any(in_segment, axis=-1) & (tf.range(MAX_POINTS) < count)[:, None]  # [K, P], no repeats
    pixels = tf.minimum(pixels, tf.stack([height, width]) - 1)  # box pixels outside the patch stay in range
    weights = tf.cast(inside, target.dtype)[..., None]
    colours = tf.gather_nd(target, pixels)  # [K, P, C]
    means = tf.reduce_sum(colours * weights, 1) / tf.maximum(tf.reduce_sum(weights, 1), 1.0)  # [K, C]
    # Where patches overlap, the later one is on top, as if placed one after another: each pixel
    # keeps the highest patch number (1-based; 0 = no hint) that covers it.
    numbers = tf.where(inside, tf.range(1, MAX_POINTS + 1)[:, None], 0)
    top = tf.tensor_scatter_nd_max(tf.zeros([height, width], tf.int32), tf.reshape(pixels, [-1, 2]),
                                   tf.reshape(numbers, [-1]))
    values = tf.gather(tf.concat([tf.zeros_like(means[:1]), means], axis=0), top)
    return values, tf.cast(top > 0, target.dtype)[..., None]


def hinted_example(make_example, strokes=False):
    """Wrap a make_example (see pipeline.dataset) so the condition carries simulated hints.

    Condition channels: the task's own (L*, or the line art), then the hint in the target's
    form and scale (a*b* / 110 for gray: ideepcolor's layout; RGB in [-1, 1] for sketches, whose
    target is RGB), then the 0/1 mask. Training examples (seeded) draw their hints from the
    cropped and flipped target; validation (seed None) gets none, so its numbers measure the
    automatic colouring that must not get worse. strokes: also stroke hints (the sketch task).
    """
    def make(rgb, seed=None):
        condition, target = make_example(rgb, seed)
        if seed is None:
            hints = tf.zeros_like(tf.concat([target, target[..., :1]], axis=-1))
            return tf.concat([condition, hints], axis=-1), target
        return with_simulated_hints(condition, target, tf.random.experimental.stateless_fold_in(seed, HINT_STREAM),
                                    strokes), target

    return make


def with_simulated_hints(condition, target, seed, strokes=False):
    """condition [H, W, 1] + hints drawn from target [H, W, C] -> [H, W, 1 + C + 1] (see hinted_example).

    Also what int8 calibration feeds the converter, so the hint channels' range is measured."""
    values, mask = simulate_hints(target, seed, strokes)
    return tf.concat([condition, values, mask], axis=-1)

"""Irodori's input pipeline: image files -> tf.data batches of (condition, target)."""

"""Irodori's networks, losses and the Pix2Pix training model (Keras 3)."""

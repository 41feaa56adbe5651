"""What Irodori's generators share as Keras models."""

import keras


class AnySizeGenerator(keras.Model):
    """A fully convolutional generator whose input height and width are left free.

    Keras' TF backend gives every tracked model an automatic save signature traced at the
    input's declared shape; at unknown height and width, bilinear UpSampling2D cannot be
    built and tf.saved_model.save fails. export/ defines its own fixed-size endpoints, so
    generators opt out of the automatic one here.
    """

    @property
    def _default_save_signature(self):
        return None

"""Networks, training model and optimizers from the configs, as train.py needs them."""

import keras

from model.config import ModelConfig
from model.fused_adam import FusedAdam
from model.patchgan import PatchGANDiscriminator
from model.pix2pix import Pix2Pix
from model.unet import UNetGenerator


def build_training(model_cfg: ModelConfig, lr_g, lr_d, beta1, beta2, target_channels, gan_weight=0.0,
                   vgg_weights=None, loss_scaling=False, condition_channels=1):
    """(generator, discriminator, training model, g_optimizer, d_optimizer).

    Call it inside a tf.distribute strategy's scope to place the variables there.
    target_channels: 2 (a*b*) for the grayscale task, 3 (RGB) for sketches.
    condition_channels: the generator's input, L* or the line art (1) plus any hint channels;
        the discriminator judges each pair with the same condition the generator was given.
    loss_scaling wraps both optimizers for float16 mixed precision.
    """
    discriminator = PatchGANDiscriminator(ndf=model_cfg.ndf, n_layers=model_cfg.n_layers_d, norm=model_cfg.d_norm,
                                          init=model_cfg.init, target_channels=target_channels,
                                          condition_channels=condition_channels)
    if model_cfg.generator == "sgru":
        from model.perceptual import vgg19_features
        from model.sgru import SGRUGenerator
        from model.sgru_trainer import SGRUTrainer

        features = vgg19_features(vgg_weights)  # one clear error if the file is missing
        generator = SGRUGenerator(image_size=model_cfg.image_size, num_levels=model_cfg.sgru_levels,
                                  filters=model_cfg.ngf, num_outputs=model_cfg.num_outputs,
                                  in_channels=condition_channels)
        trainer = SGRUTrainer(generator, discriminator, features, model_cfg.num_outputs, gan_weight)
    else:
        generator = UNetGenerator(image_size=model_cfg.image_size, num_downs=model_cfg.num_downs,
                                  ngf=model_cfg.ngf, upsample=model_cfg.upsample, init=model_cfg.init,
                                  dropout=model_cfg.dropout, in_channels=condition_channels,
                                  out_channels=target_channels, colour_head=model_cfg.colour_head,
                                  temperature=model_cfg.temperature)
        trainer = Pix2Pix(generator, discriminator)
    g_optimizer = FusedAdam(lr_g, beta_1=beta1, beta_2=beta2)
    d_optimizer = FusedAdam(lr_d, beta_1=beta1, beta_2=beta2)
    if loss_scaling:  # float16 gradients underflow without it
        g_optimizer = keras.optimizers.LossScaleOptimizer(g_optimizer)
        d_optimizer = keras.optimizers.LossScaleOptimizer(d_optimizer)
    return generator, discriminator, trainer, g_optimizer, d_optimizer


def seed_states(generator, trainer):
    """The states of the Keras seed generators behind dropout masks and WGAN-GP's mixing.

    Saved in checkpoints so that a resumed run draws the same random numbers as one that
    never stopped.
    """
    return [layer.seed_generator.state.value for layer in [*generator._flatten_layers(), trainer]
            if isinstance(getattr(layer, "seed_generator", None), keras.random.SeedGenerator)]

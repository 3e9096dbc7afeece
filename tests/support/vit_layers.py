"""A ViT's own layers, as an operator's trusted module (`--custom-objects
tests/support/vit_layers.py`, or CATDOG_CUSTOM_OBJECTS). Keras has no class-token or
position-embedding layer, so every Keras ViT brings one of its own (keras-io's
image_classification_with_vision_transformer, keras-hub's)."""

import keras


class ClassTokenPositions(keras.layers.Layer):
    """(N, P, C) patch tokens -> (N, extra + P, C): `extra` learnt tokens ahead of the patches
    (a class token; DeiT's distillation token and registers beside it), then a learnt position
    embedding added to every token. Deliberately not registered: the operator's module names it."""

    def __init__(self, extra: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.extra = extra

    def build(self, shape):
        channels = shape[-1]
        self.tokens = self.add_weight(shape=(1, max(self.extra, 1), channels), name="tokens")
        self.positions = self.add_weight(shape=(1, self.extra + shape[1], channels), name="pos")

    def call(self, patches):
        if self.extra:
            batch = keras.ops.shape(patches)[0]
            tokens = keras.ops.broadcast_to(
                self.tokens, (batch, self.extra, patches.shape[-1])
            )
            patches = keras.ops.concatenate([tokens, patches], axis=1)
        return patches + self.positions

    def get_config(self):
        return {**super().get_config(), "extra": self.extra}

"""What is done to 0-255 RGB pixels before a model sees them: the names and the one layer.

The pages and the CLI feed every model 0-255 RGB. A model this app builds carries its own
preprocessing inside ("none" here); an imported one gets a `Preprocess` layer in front of it
(core/imported.py), so every consumer feeds it the same input.
"""

from __future__ import annotations

import keras

# name -> one line, as the import form and `--preprocessing` describe it.
PREPROCESSING = {
    "caffe": "RGB to BGR minus the ImageNet means (Keras' ResNet50, VGG16/19)",
    "tf": "x / 127.5 - 1, pixels in [-1, 1] (MobileNet, MobileNetV2, InceptionV3, Xception)",
    "torch": "x / 255, then the ImageNet mean and std (DenseNet)",
    "rescale": "x / 255, pixels in [0, 1] (ImageDataGenerator(rescale=1/255), the seed article)",
    "none": "0-255 pixels as they are (EfficientNet, ConvNeXt, this app's own models: inside)",
}
# ImageNet's per-channel means in BGR order ("caffe", keras.applications.imagenet_utils).
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
# ImageNet's per-channel mean and standard deviation of 0-1 RGB ("torch", torchvision's).
TORCH_MEAN, TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="catdog")
class Preprocess(keras.layers.Layer):
    """0-255 RGB in, the input a model was trained on out; `mode` is a PREPROCESSING name.

    The formulas are keras.applications.imagenet_utils.preprocess_input's for caffe, tf and
    torch; "rescale" is ImageDataGenerator(rescale=1/255)'s. Raises ValueError for another mode.
    """

    def __init__(self, mode: str = "none", **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESSING:
            raise ValueError(f"Unknown preprocessing {mode!r}; one of {list(PREPROCESSING)}.")
        self.mode = mode

    def call(self, images):
        x = keras.ops.cast(images, "float32")
        if self.mode == "caffe":
            return keras.ops.flip(x, axis=-1) - keras.ops.convert_to_tensor(CAFFE_BGR_MEAN)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "torch":
            mean = keras.ops.convert_to_tensor(TORCH_MEAN)
            return (x / 255.0 - mean) / keras.ops.convert_to_tensor(TORCH_STD)
        if self.mode == "rescale":
            return x / 255.0
        return x

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="catdog")
class CaffePreprocess(keras.layers.Layer):
    """0-255 RGB in, ResNet-50's input out: RGB->BGR, ImageNet channel means subtracted.

    The seed article's 1/255 rescale feeds ImageNet ResNet-50 inputs it never saw; this is what
    `keras.applications.resnet50.preprocess_input` does, as a saved layer so the model takes raw
    pixels.
    """

    def call(self, images):
        bgr = keras.ops.flip(keras.ops.cast(images, "float32"), axis=-1)
        return bgr - keras.ops.convert_to_tensor(CAFFE_BGR_MEAN, dtype="float32")

"""Validation-only recipe probe (Keras 3 on JAX, GPU). Never reads the test set.

Usage: python probe.py VARIANT SEED EPOCHS OUTDIR
Trains on the course's 55k split (stratified, seed 42 like helpers.data.make_splits is
approximated by sklearn's train_test_split) and saves validation probabilities.
"""
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras
import numpy as np
from keras import layers, ops
from sklearn.model_selection import train_test_split


class RandomAffine(layers.Layer):
    def __init__(self, degrees=12.0, scale=0.1, shift=2.5, seed=None, **kw):
        super().__init__(**kw)
        self.degrees, self.scale, self.shift = degrees, scale, shift
        self.gen = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training:
            return x
        n = ops.shape(x)[0]
        ang = keras.random.uniform((n,), -1, 1, seed=self.gen) * self.degrees * np.pi / 180
        s = 1 + keras.random.uniform((n,), -1, 1, seed=self.gen) * self.scale
        tx = keras.random.uniform((n,), -1, 1, seed=self.gen) * self.shift
        ty = keras.random.uniform((n,), -1, 1, seed=self.gen) * self.shift
        c = 13.5
        a0 = ops.cos(ang) / s
        a1 = ops.sin(ang) / s
        b0 = -ops.sin(ang) / s
        b1 = ops.cos(ang) / s
        a2 = c - (a0 * (c + tx) + a1 * (c + ty))
        b2 = c - (b0 * (c + tx) + b1 * (c + ty))
        z = ops.zeros_like(a0)
        t = ops.stack([a0, a1, a2, b0, b1, b2, z, z], axis=1)
        return ops.image.affine_transform(x, t, interpolation="bilinear", fill_mode="constant")


def build(variant):
    inp = keras.Input((28, 28, 1))
    x = inp
    aug = variant.get("aug", True)
    if aug == "chain":
        x = layers.RandomRotation(10 / 360, fill_mode="constant")(x)
        x = layers.RandomZoom(0.1, fill_mode="constant")(x)
        x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant")(x)
    elif aug:
        x = RandomAffine(variant.get("deg", 12.0), variant.get("sc", 0.1), variant.get("sh", 2.5))(x)
    f1, f2 = variant.get("filters", (32, 64))
    bn = variant.get("bn")
    for i, f in enumerate((f1, f2)):
        x = layers.Conv2D(f, 5, use_bias=not bn, activation=None if bn else "relu")(x)
        if bn:
            x = layers.BatchNormalization(momentum=bn)(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(variant.get("dense", 256), activation="relu")(x)
    x = layers.Dropout(variant.get("drop", 0.3))(x)
    out = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inp, out)


VARIANTS = {
    "A": {},
    "A_bn9": {"bn": 0.9},
    "A_bn99": {"bn": 0.99},
    "A_noLSema": {"ls": 0.0, "ema": False},
    "A_big": {"deg": 15.0, "sc": 0.15, "sh": 3.0},
    "A_4896": {"filters": (48, 96)},
    "A_chain": {"aug": "chain"},
    "A_noaug": {"aug": False},
    "A_const": {"const": True},
    "A_p1e2": {"peak": 1e-2},
    "F": {"filters": (16, 32), "peak": 1e-2},
    "F_noema": {"filters": (16, 32), "peak": 1e-2, "ema": False},
    "F_ema99": {"filters": (16, 32), "peak": 1e-2, "ema_m": 0.99},
    "F_bn9": {"filters": (16, 32), "peak": 1e-2, "bn": 0.9},
    "F_2448": {"filters": (24, 48), "peak": 1e-2},
    "F_noaug": {"filters": (16, 32), "peak": 1e-2, "aug": False},
}


def main():
    name, seed, epochs, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    v = VARIANTS[name]
    d = np.load("mnist.npz")
    x = d["x_train"].astype("float32")[..., None] / 255.0
    y = d["y_train"].astype("int64")
    xtr, xva, ytr, yva = train_test_split(x, y, test_size=5000, stratify=y, random_state=42)
    full = False
    if os.environ.get("PROBE_SMALL"):
        xtr, ytr = xtr[:3000], ytr[:3000]
    keras.utils.set_random_seed(seed)
    model = build(v)
    bs = 256
    steps = epochs * (-(-len(ytr) // bs))
    peak = v.get("peak", 3e-3)
    warm = int(0.15 * steps)
    if v.get("const"):
        lr = peak
    else:
        lr = keras.optimizers.schedules.CosineDecay(peak / 25, steps - warm, warmup_target=peak,
                                                    warmup_steps=warm)
    ema = v.get("ema", True)
    opt = keras.optimizers.Adam(lr, use_ema=ema, ema_momentum=v.get("ema_m", 0.999)) if ema else keras.optimizers.Adam(lr)
    model.compile(opt, keras.losses.CategoricalCrossentropy(label_smoothing=v.get("ls", 0.1)),
                  metrics=["accuracy"])
    t = time.time()
    h = model.fit(xtr, keras.utils.to_categorical(ytr, 10), batch_size=bs, epochs=epochs,
                  verbose=0, validation_data=(xva, keras.utils.to_categorical(yva, 10)))
    sec = time.time() - t
    p = model.predict(xva, batch_size=2000, verbose=0)
    acc = float((p.argmax(1) == yva).mean())
    tag = f"{name}_s{seed}_e{epochs}{'_full' if full else ''}"
    np.save(os.path.join(out, tag + ".npy"), p.astype("float16"))
    rec = {"tag": tag, "variant": name, "seed": seed, "epochs": epochs, "val_acc": acc,
           "seconds": sec, "val_curve": [round(a, 4) for a in h.history["val_accuracy"]],
           "train_curve": [round(a, 4) for a in h.history["accuracy"]]}
    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()

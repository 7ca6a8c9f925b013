"""The keras-io reference as the benchmark trains it (15 epochs, 55,000 images, float32):
prints each epoch's seconds, to see how the unit of speed behaves over a long run."""
import json

import helpers  # noqa: F401
from helpers import config, data, models, training

splits = data.make_splits(data.load_mnist())
config.set_seed(42)
model = training.compile_adam(models.build_original_cnn(), 1e-3)
timer = training.EpochTimer()
model.fit(splits.x_train, splits.y_train, batch_size=128, epochs=15, callbacks=[timer], verbose=0)
print(json.dumps({"epoch_seconds": [round(s, 2) for s in timer.seconds],
                  "seconds_per_epoch": round(sum(timer.seconds) / 15, 3)}))

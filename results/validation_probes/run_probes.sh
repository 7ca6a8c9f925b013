#!/bin/bash
# Runs the probe jobs, N at a time, on the GPU machine.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site whl/*.whl || exit 1
export PYTHONPATH=/tmp/site KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false XLA_PYTHON_CLIENT_MEM_FRACTION=0.1 PYTHONUNBUFFERED=1
python3 -c "import keras, jax; print(keras.__version__, jax.__version__, jax.devices())"
mkdir -p $OUT/p
jobs_file=$1; par=$2
cat $jobs_file | xargs -P $par -L 1 bash -c 'python3 probe.py $0 $1 $2 $OUT/p 2>>$OUT/err.log' | tee $OUT/results.jsonl
cd $OUT && tar czf probs.tgz p && rm -rf p

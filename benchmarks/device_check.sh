#!/usr/bin/env bash
# The accelerator checks, prepared to run as one command when a task is lent a GPU (a task
# gets about 15 minutes of device time in all, machine start included): every step has its
# own time limit, so one that fails or runs long does not cost the others.
#
#   1. the certified NTK lambda_min at the issue's size: n = 65,536, m = 4,096, p = 135,168,
#      float64 (bench_ntk_lmin.py; the compiled program's footprint is read first and a size
#      that cannot fit is reported, not attempted);
#   2. the seed-vmap check: N seeds of villani.train in one vmapped call against a loop
#      (bench_seeds.py);
#   3. the tests that exercise the compiled paths, on the GPU.
#
# Results land in benchmarks/results/ntk_lmin_certified-gpu.{json,md} and
# bench_seeds-<device>.{json,md}, copied to $OUT with the four logs (the device tool brings
# back 8 files); commit them with the device named.
#
# On the device machine (JAX with CUDA, diffrax, equinox, optax, chex are installed there;
# matfree is not, so carry its wheel): here, once,
#     echo /.whl/ >> .git/info/exclude
#     python3 -m pip download --no-deps --only-binary=:all: -d .whl matfree==0.6.3
# then run(command="bash benchmarks/device_check.sh", carry=[".whl"], timeout_s=590)
# (steps: 60 + 240 + 90 + 180 s at most).
# A dry run on a CPU, at small sizes: SMALL=1 bash benchmarks/device_check.sh
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/villani-device-check}
mkdir -p "$OUT"
PY=${PY:-python3}
if ls .whl/*.whl > /dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# JAX takes 75 % of the GPU by default; the n = 65,536 path needs about 96 GiB of 139
export XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.95}
if [ "${SMALL:-0}" = 1 ]; then N=2048 M=128 CHUNK=512 SEEDS=--quick; else N=65536 M=4096 CHUNK=4096 SEEDS=; fi

step() {  # step NAME SECONDS COMMAND...: run with a limit, log to $OUT/NAME.log, go on
    local name=$1 limit=$2; shift 2
    echo "== $name (limit ${limit} s): $*"
    local t0=$SECONDS
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    echo "== $name: exit $rc after $((SECONDS - t0)) s"
    tail -n 25 "$OUT/$name.log"
}

step devices 60 "$PY" -c "import jax, villani; print(jax.__version__, jax.devices())"
command -v nvidia-smi > /dev/null && nvidia-smi -L
step ntk_lmin 240 "$PY" benchmarks/bench_ntk_lmin.py --n "$N" --m "$M" --chunk "$CHUNK"
step seeds 90 "$PY" benchmarks/bench_seeds.py $SEEDS
step tests 180 "$PY" -m pytest -q -p no:cacheprovider tests/test_certified.py \
    tests/test_compiled_once.py tests/test_ntk.py
for f in benchmarks/results/*-gpu.json benchmarks/results/*-gpu.md \
         benchmarks/results/bench_seeds-*.json benchmarks/results/bench_seeds-*.md; do
    [ -f "$f" ] && cp "$f" "$OUT/"
done
ls -l "$OUT"

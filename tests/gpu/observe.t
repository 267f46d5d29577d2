#!/usr/bin/env bash
# arepo-observe's CUDA backend against its CPU backend, bit for bit (run by
# make test-gpu): every mode on IRIS's two reference cases (and against
# IRIS's own outputs), at every stage; a synthetic galaxy's slice of the
# SEDIGISM grid; the options that change the path (v_subsamples, blur, beam,
# max reduction, NaN temperatures); blocks of one lon and more; the backend,
# device and lock options. Where no GPU is usable the file is skipped.
TAP_TOP=$(dirname "$0")/../..
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/gpu.sh"

REF="${IRIS_OBSERVE_DATA:-$TOP/../shared/data/iris-observe}"
MKTENSOR="$HELPERS/mktensor"
MKVIEW="$HELPERS/mkview"
REFPY="$TOP/tests/lib/observe_reference.py"
find_python || true
cd "$SCRATCH" || exit 1
export AREPO_CACHE_DIR="$SCRATCH/cache"
preset="$TOP/pipelines/presets/tiny.json"

# A synthetic tensor with the tiny preset's grid (32 x 32 x 8), physical
# values, and with zero-T a few temperatures of 0 (NaN observations).
synthetic() { # OUT [zero-T]
	"$MKTENSOR" 32 32 8 snap_001 3 7 1e7 "$1" && "$PYTHON" "$REFPY" synthetic "$1" "$preset" ${2:-}
}
# same A.h5 B.h5: every dataset holds the same bits (NaNs match NaNs: their
# payloads are not IRIS's either way).
same() { "$PYTHON" "$REFPY" same "$1" "$2"; }

if [ -z "$PYTHON" ]; then
	echo "1..0 # SKIP no python3 with numpy and h5py"
	exit 0
fi
synthetic t.h5
if ! arepo-observe --backend cuda t.h5 probe.h5 2>probe.err; then
	if grep -q -- "--backend cuda:" probe.err; then
		echo "1..0 # SKIP $(sed 's/^arepo-observe: --backend cuda: //' probe.err | head -n 1)"
		exit 0
	fi
	cat probe.err >&2
fi

# observe NAME OPTIONS...: the CPU's and the GPU's observation of one input,
# with their stages, into NAME.cpu.h5 and NAME.cuda.h5.
observe() {
	local name=$1
	shift
	arepo-observe --force --backend cpu --stages "$name.cpu.stages.h5" "$@" "$name.cpu.h5" &&
		arepo-observe --force --backend cuda --stages "$name.cuda.stages.h5" "$@" "$name.cuda.h5"
}
both_same() { # NAME: observed files and stages
	same "$1.cpu.h5" "$1.cuda.h5" && same "$1.cpu.stages.h5" "$1.cuda.stages.h5"
}

# IRIS's reference cases: every mode, every stage, CUDA = CPU = IRIS.
if [ -d "$REF/tiny" ] && [ -d "$REF/small" ]; then
	for c in tiny small; do
		shape=$("$PYTHON" -c "import numpy; print(*numpy.load('$REF/$c/physical.npy', mmap_mode='r').shape[1:])")
		# shellcheck disable=SC2086
		"$MKTENSOR" $shape snap_000 0 1 1e7 "$c.h5" && "$PYTHON" "$REFPY" tensor "$REF/$c" "$c.h5"
		for mode in thick thin selthin simple; do
			observe "$c-$mode" --mode $mode "$c.h5"
			ok "$c, $mode: the GPU gives the CPU's bits at every stage" both_same "$c-$mode"
			ok "$c, $mode: and IRIS's own outputs, bit for bit" \
				"$PYTHON" "$REFPY" compare "$REF/$c" $mode "$c-$mode.cuda.h5" "$c-$mode.cuda.stages.h5"
		done
	done
else
	skip 16 "no IRIS reference outputs in $REF"
fi

# The synthetic tensor, with the options that change the path.
for opts in "--mode thick" "--mode thin" "--mode selthin" "--mode simple" \
	    "--set observer_hyper.v_subsamples=2" "--set observer_hyper.v_subsamples=4" \
	    "--set observer_hyper.blur_inputs=false --set observer_hyper.out_blur_fwhm=null" \
	    "--set cube_hyper.reduction=\"max\"" "--mode thin --set cube_hyper.reduction=\"max\""; do
	name=$(echo "$opts" | tr -cd 'a-z0-9')
	# shellcheck disable=SC2086
	observe "$name" $opts t.h5
	ok "synthetic, $opts: CUDA = CPU at every stage" both_same "$name"
done
ok "the observed files are byte for byte the same" cmp modethick.cpu.h5 modethick.cuda.h5
arepo-observe --backend cuda --lon-block 1 t.h5 block1.h5
arepo-observe --backend cuda --lon-block 5 --mode selthin t.h5 block5.h5
ok "blocks of one lon (32 blocks, two in flight): the same bytes" cmp block1.h5 modethick.cpu.h5
ok "blocks of five lons, selthin: the same bytes" cmp block5.h5 modeselthin.cpu.h5
synthetic cold.h5 zero-T
for mode in thick selthin; do
	observe cold-$mode --allow-nan --mode $mode cold.h5
	ok "temperatures of 0 (--allow-nan), $mode: NaN where the CPU has NaN, its bits elsewhere" \
		both_same cold-$mode
done
run_status arepo-observe --backend cuda --set observer_hyper.v_subsamples=5 t.h5 vsub5.h5
is "$status" 2 "v_subsamples 5: exit 2 on the GPU"
like "$err" "v_subsamples is 5; the CUDA backend takes at most 4" "... saying why"

# A synthetic galaxy on a slice of the SEDIGISM grid (512 x 64 x 128: the full
# grid's r, lat and pixel scale), thick and simple.
sedigism="$TOP/pipelines/presets/sedigism-13co.json"
slice=(--config "$sedigism" --set coordinate_hyper.lon_steps=64
       --set coordinate_hyper.lon_min=-0.1875 --set coordinate_hyper.lon_max=0.1875)
arepo-mksnap --cells 1e6 --seed 1 snap.hdf5 >/dev/null
"$MKVIEW" "${slice[@]}" --set dataset_hyper.CMZ_scale_range=null snap.hdf5 view.h5 >/dev/null
arepo-interp view.h5 slice.h5
run_status arepo-observe --backend cuda --stats "${slice[@]}" slice.h5 slice.cuda.h5
is "$status" 0 "SEDIGISM slice, thick: the CUDA backend runs"
like "$out" "backend=cuda" "--stats says backend=cuda"
like "$out" "device=.+" "and the device"
like "$out" "seconds_kernel=[0-9.]+" "and the kernels' time"
cuda_channels=$(printf '%s\n' "$out" | sed -n 's/^line_channels=//p')
run_status arepo-observe --backend cpu --stats "${slice[@]}" slice.h5 slice.cpu.h5
ok "SEDIGISM slice, thick: the same bytes as the CPU" cmp slice.cuda.h5 slice.cpu.h5
is "$cuda_channels" "$(printf '%s\n' "$out" | sed -n 's/^line_channels=//p')" \
	"and the same count of profile channels"
arepo-observe --backend cuda --mode simple "${slice[@]}" slice.h5 slice-simple.cuda.h5
arepo-observe --backend cpu --mode simple "${slice[@]}" slice.h5 slice-simple.cpu.h5
ok "SEDIGISM slice, simple: the same bytes" cmp slice-simple.cuda.h5 slice-simple.cpu.h5

# The backend, device and lock options, as arepo-interp's.
run_status arepo-observe --backend auto --stats t.h5 auto.h5
like "$out" "backend=cuda" "--backend auto takes the GPU"
gpu_option_checks arepo-observe t.h5 cmp

done_testing

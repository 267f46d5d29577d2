#!/usr/bin/env bash
# arepo-observe's CUDA backend against its CPU backend, bit for bit (run by
# make test-gpu): every mode at every stage on a synthetic galaxy's slice of
# the SEDIGISM grid, blocks of one lon and more; with Python, IRIS's two
# reference cases (against IRIS's own outputs too) and a synthetic tensor
# with the options that change the path (v_subsamples, blur, beam, max
# reduction, NaN temperatures); the backend, device and lock options. Where
# no GPU is usable the file is skipped.
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

# Slices of the SEDIGISM grid (its r, lat and pixel scale; LONS lons) of a
# synthetic galaxy: NAME.h5, and the options that describe them in $NAME.
sedigism="$TOP/pipelines/presets/sedigism-13co.json"
arepo-mksnap --cells 1e6 --seed 1 snap.hdf5 >/dev/null
slice() { # NAME LONS
	local half
	half=$(awk -v n="$2" 'BEGIN { printf "%.10g", n * 3 / 1024 }')
	eval "$1=\"--config $sedigism --set coordinate_hyper.lon_steps=$2 --set coordinate_hyper.lon_min=-$half --set coordinate_hyper.lon_max=$half\""
	# shellcheck disable=SC2086
	"$MKVIEW" ${!1} --set dataset_hyper.CMZ_scale_range=null snap.hdf5 "$1.view.h5" >/dev/null &&
		arepo-interp "$1.view.h5" "$1.h5"
}
slice narrow 8
slice wide 64

if ! arepo-observe --backend cuda $narrow narrow.h5 probe.h5 2>probe.err; then
	if grep -q -- "--backend cuda:" probe.err; then
		echo "1..0 # SKIP $(sed 's/^arepo-observe: --backend cuda: //' probe.err | head -n 1)"
		exit 0
	fi
	cat probe.err >&2
fi

# same A.h5 B.h5: every dataset holds the same bits (with Python; NaNs match
# NaNs: their payloads are not IRIS's either way), else the same values.
same() {
	if [ -n "$PYTHON" ]; then
		"$PYTHON" "$REFPY" same "$1" "$2"
	else
		h5diff "$1" "$2"
	fi
}
# observe NAME OPTIONS...: the CPU's and the GPU's observation of one input,
# with their stages, into NAME.cpu.h5 and NAME.cuda.h5.
observe() {
	local name=$1
	shift
	arepo-observe --force --backend cpu --stages "$name.cpu.stages.h5" "$@" "$name.cpu.h5" &&
		arepo-observe --force --backend cuda --stages "$name.cuda.stages.h5" "$@" "$name.cuda.h5"
}
both_same() { # NAME: the observed files byte for byte, the stages
	cmp "$1.cpu.h5" "$1.cuda.h5" && same "$1.cpu.stages.h5" "$1.cuda.stages.h5"
}

# The SEDIGISM slice: every mode; the thick mode's counts; blocks.
for mode in thick thin selthin simple; do
	# shellcheck disable=SC2086
	observe wide-$mode --mode $mode $wide wide.h5
	ok "SEDIGISM slice (512 x 64 x 128), $mode: the GPU gives the CPU's bits at every stage" \
		both_same wide-$mode
done
# shellcheck disable=SC2086
run_status arepo-observe --backend cuda --stats $wide wide.h5 stats.cuda.h5
is "$status" 0 "--stats: the CUDA backend runs"
like "$out" "backend=cuda" "--stats says backend=cuda"
like "$out" "device=.+" "and the device"
like "$out" "seconds_kernel=[0-9.]+" "and the kernels' time"
cuda_channels=$(printf '%s\n' "$out" | sed -n 's/^line_channels=//p')
# shellcheck disable=SC2086
run_status arepo-observe --backend cpu --stats $wide wide.h5 stats.cpu.h5
is "$cuda_channels" "$(printf '%s\n' "$out" | sed -n 's/^line_channels=//p')" \
	"the same count of profile channels as the CPU"
# shellcheck disable=SC2086
arepo-observe --backend cuda --lon-block 1 $wide wide.h5 block1.h5
# shellcheck disable=SC2086
arepo-observe --backend cuda --lon-block 5 --mode selthin $wide wide.h5 block5.h5
ok "blocks of one lon (64 blocks, two in flight): the same bytes" cmp block1.h5 wide-thick.cpu.h5
ok "blocks of five lons, selthin: the same bytes" cmp block5.h5 wide-selthin.cpu.h5
# shellcheck disable=SC2086
run_status arepo-observe --backend cuda --set observer_hyper.v_subsamples=5 $narrow narrow.h5 vsub5.h5
is "$status" 2 "v_subsamples 5: exit 2 on the GPU"
like "$err" "v_subsamples is 5; the CUDA backend takes at most 4" "... saying why"

if [ -n "$PYTHON" ]; then
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

	# A synthetic tensor with the tiny preset's grid (32 x 32 x 8), with the
	# options that change the path, and temperatures of 0.
	preset="$TOP/pipelines/presets/tiny.json"
	"$MKTENSOR" 32 32 8 snap_001 3 7 1e7 t.h5 && "$PYTHON" "$TOP/tests/lib/physical_tensor.py" t.h5 "$preset" 5 edges
	for opts in "--mode thick" "--mode thin" "--mode selthin" "--mode simple" \
		    "--set observer_hyper.v_subsamples=2" "--set observer_hyper.v_subsamples=4" \
		    "--set observer_hyper.blur_inputs=false --set observer_hyper.out_blur_fwhm=null" \
		    "--set cube_hyper.reduction=\"max\"" "--mode thin --set cube_hyper.reduction=\"max\""; do
		name=$(echo "$opts" | tr -cd 'a-z0-9')
		# shellcheck disable=SC2086
		observe "$name" $opts t.h5
		ok "synthetic, $opts: CUDA = CPU at every stage" both_same "$name"
	done
	"$MKTENSOR" 32 32 8 snap_001 3 7 1e7 cold.h5 && "$PYTHON" "$TOP/tests/lib/physical_tensor.py" cold.h5 "$preset" 5 edges zero-T
	for mode in thick selthin; do
		observe cold-$mode --allow-nan --mode $mode cold.h5
		ok "temperatures of 0 (--allow-nan), $mode: NaN where the CPU has NaN, its bits elsewhere" \
			sh -c "'$PYTHON' '$REFPY' same cold-$mode.cpu.h5 cold-$mode.cuda.h5 &&
			       '$PYTHON' '$REFPY' same cold-$mode.cpu.stages.h5 cold-$mode.cuda.stages.h5"
	done
else
	skip 27 "no python3 with numpy and h5py"
fi

# The backend, device and lock options, as arepo-interp's.
# shellcheck disable=SC2086
run_status arepo-observe --backend auto --stats $narrow narrow.h5 auto.h5
like "$out" "backend=cuda" "--backend auto takes the GPU"
gpu_option_checks "arepo-observe $narrow" narrow.h5 cmp

done_testing

#!/usr/bin/env bash
# The CUDA backend of arepo-interp against the CPU's, bit for bit (run by
# make test-gpu): random views with ties, a galaxy view, many slabs, the
# fill options, the diagnostics, device choice and the lock directory.
# Where no GPU is usable the whole file is reported as skipped.
TAP_TOP=$(dirname "$0")/../..
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/gpu.sh"

RANDVIEW="$HELPERS/randview"
MKVIEW="$HELPERS/mkview"
cd "$SCRATCH" || exit 1

"$RANDVIEW" uniform 1 50 2 3 4 probe.h5
if ! arepo-interp --backend cuda probe.h5 probe.t 2>probe.err; then
	echo "1..0 # SKIP $(sed 's/^arepo-interp: --backend cuda: //' probe.err | head -n 1)"
	exit 0
fi

same_tensor() { h5diff -d 0 "$1" "$2" /physical /physical >/dev/null; }
attr() { h5dump -m '%.17g' -a "/$2" "$1" 2>/dev/null | sed -n 's/^ *(0): //p'; }
same_diagnostics() {
	local a
	for a in points_at_risk margin_needed points_filled; do
		[ "$(attr "$1" $a)" = "$(attr "$2" $a)" ] || return 1
	done
}

for pattern in uniform duplicates plane single far clustered; do
	for seed in 1 2 3; do
		v=$pattern-$seed
		"$RANDVIEW" $pattern $seed 400 9 13 7 $v.h5
		arepo-interp -j 2 $v.h5 $v.cpu.h5
		arepo-interp --backend cuda $v.h5 $v.cuda.h5
		arepo-interp --backend cuda --max-memory 1K $v.h5 $v.thin.h5
		ok "$v: the GPU picks the CPU's cell at every point" same_tensor $v.cuda.h5 $v.cpu.h5
		ok "$v: and the same diagnostics" same_diagnostics $v.cuda.h5 $v.cpu.h5
		ok "$v: one r step per slab gives the same tensor" same_tensor $v.thin.h5 $v.cpu.h5
	done
done

arepo-mksnap -n 200000 --seed 5 snap_005.hdf5 >/dev/null
"$MKVIEW" --config "$TOP/pipelines/presets/tiny.json" --view 1 --radius snap_005.hdf5 galaxy.h5 >cells.txt
arepo-interp galaxy.h5 galaxy.cpu.h5
run_status arepo-interp --backend cuda --stats galaxy.h5 galaxy.cuda.h5
is "$status" 0 "galaxy view ($(cat cells.txt) cells): the CUDA backend runs"
like "$out" "backend=cuda" "and --stats says so"
like "$out" "seconds_kernel=" "with the kernel's time"
ok "galaxy view: the same tensor as the CPU's" same_tensor galaxy.cuda.h5 galaxy.cpu.h5
ok "galaxy view: the same diagnostics" same_diagnostics galaxy.cuda.h5 galaxy.cpu.h5
like "$(attr galaxy.cuda.h5 backend)" "cuda" "the tensor records the backend"
ok "galaxy view: compressed with the same codec as on the CPU (the host's threads compress)" \
	sh -c "test \"\$(h5dump -pH -d /physical galaxy.cuda.h5 | sed -n '/FILTERS/,/FILLVALUE/p')\" = \
		\"\$(h5dump -pH -d /physical galaxy.cpu.h5 | sed -n '/FILTERS/,/FILLVALUE/p')\" &&
		h5dump -pH -d /physical galaxy.cuda.h5 | grep -q 'FILTER_ID 32001'"
arepo-interp --backend cuda --compress lz4 galaxy.h5 galaxy.lz4.cuda.h5
ok "galaxy view: --compress lz4 on the CUDA backend, the same values" same_tensor galaxy.lz4.cuda.h5 galaxy.cpu.h5
for opts in "--max-distance 20" "--radius-factor 1.2 --fill -7" "--max-distance 15 --radius-factor 2 --fill -1"; do
	name=$(echo "$opts" | tr -d ' -')
	arepo-interp $opts galaxy.h5 galaxy.$name.cpu.h5
	arepo-interp --backend cuda $opts galaxy.h5 galaxy.$name.cuda.h5
	ok "galaxy view, $opts: the same tensor" same_tensor galaxy.$name.cuda.h5 galaxy.$name.cpu.h5
	ok "galaxy view, $opts: the same counts" same_diagnostics galaxy.$name.cuda.h5 galaxy.$name.cpu.h5
done

run_status arepo-interp --backend auto --stats galaxy.h5 auto.h5
like "$out" "backend=cuda" "--backend auto takes the GPU"
"$RANDVIEW" empty 1 10 3 4 5 empty.h5
run_status arepo-interp --backend cuda empty.h5 empty.t
is "$status" 0 "an empty view: zeros, as on the CPU"

gpu_option_checks arepo-interp probe.h5 same_tensor galaxy.h5

done_testing

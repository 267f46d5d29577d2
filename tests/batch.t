#!/usr/bin/env bash
# Quiet in batch, progress when asked: --progress draws a line that ends at
# 100% for extract, interp, merge and normalize, nothing otherwise (the
# tests' stderr is no terminal); standard output carries only results; the
# GPU fallback of --backend auto is warned once per run.
. "$(dirname "$0")/lib/tap.sh"

MKTENSOR="$HELPERS/mktensor"
cd "$SCRATCH" || exit 1

arepo-mksnap -n 20000 --seed 3 snap_003.hdf5 >/dev/null
run_status arepo-extract --chunk-mb 1 --config "$TOP/pipelines/presets/tiny.json" -o views snap_003.hdf5
is "$status|$out|$err" "0||" "arepo-extract in batch: nothing on stdout or stderr"
run_status arepo-extract --progress --force --chunk-mb 1 --config "$TOP/pipelines/presets/tiny.json" -o views snap_003.hdf5
like "$err" "arepo-extract: [^ ]*snap_003.hdf5: 100%$" "--progress: the reading, to 100%"
is "$out" "" "... and still nothing on stdout"

run_status arepo-interp views/snap_003/view_0.h5 t0.h5
is "$status|$out|$err" "0||" "arepo-interp in batch: nothing"
run_status arepo-interp --progress --no-progress views/snap_003/view_1.h5 t1.h5
is "$status|$err" "0|" "--no-progress after --progress: nothing"
run_status arepo-interp --progress views/snap_003/view_2.h5 t2.h5
like "$err" "100%" "--progress: a progress line"

# The GPU fallback: the tasks of one run (a process group, or a Slurm array)
# say it once.
warnings=0
for i in 0 1 2; do
	run_status arepo-interp --backend auto --gpu-lock locks --force views/snap_003/view_$i.h5 auto$i.h5
	warnings=$((warnings + $(printf '%s\n' "$err" | grep -c 'warn: .*using the CPU')))
done
if "$TOP/bin/arepo-interp" --backend cuda views/snap_003/view_0.h5 probe.h5 2>/dev/null; then
	skip 3 "a GPU is usable here: no fallback to count"
else
	is "$warnings" 1 "--backend auto without a GPU: warned once by the tasks of one run"
	run_status env SLURM_ARRAY_JOB_ID=4242 arepo-interp --backend auto --gpu-lock locks --force views/snap_003/view_0.h5 a.h5
	like "$err" "warn: .*using the CPU" "a new run (another Slurm array) is warned again"
	run_status env SLURM_ARRAY_JOB_ID=4242 arepo-interp --backend auto --gpu-lock locks --log-level info --force views/snap_003/view_1.h5 b.h5
	like "$err" "info: .*using the CPU" "its later tasks note it at --log-level info only"
fi

for i in 0 1 2 3; do "$MKTENSOR" 4 5 3 snap_00$i $i 7 1e7 m$i.h5; done
"$MKTENSOR" 4 5 3 snap_009 0 7 3.0856775814913673e18 other.h5
run_status arepo-merge --copy -o ds m0.h5 m1.h5
is "$status|$out|$err" "0||" "arepo-merge in batch: nothing"
run_status arepo-merge --copy --progress -o ds m2.h5 m3.h5 --export-iris exp
like "$err" "arepo-merge: ds: 100%" "--progress: the entries placed ..."
like "$err" "arepo-merge: exp: 100%" "... and exported"
arepo-merge --copy -o other other.h5
run_status arepo-normalize --units-from other ds
is "$status|$out|$err" "0||" "arepo-normalize in batch: nothing on stdout or stderr"
arepo-merge --copy -o ds3 m0.h5 m1.h5 m2.h5 m3.h5
run_status arepo-normalize --progress -j 2 --units-from other ds3
like "$err" "arepo-normalize: +100%" "--progress: the entries converted, from every worker"

done_testing

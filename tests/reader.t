#!/usr/bin/env bash
# The snapshot reader on arepo-mksnap snapshots and on real AREPO output,
# checked bit for bit against tests/lib/iris_reference.py (NumPy, written
# from IRIS-NUMERICS independently of the C code).
. "$(dirname "$0")/lib/tap.sh"

DUMP="$HELPERS/dump-cells"
NOCHEM="--set dataset_hyper.use_AREPO_abundances=false --set dataset_hyper.default_dust_temperature=20"
FIXED="--set dataset_hyper.CMZ_scale_range=null --set dataset_hyper.CMZ_scale_factor=0.5 --set dataset_hyper.CMZ_density_factor=1.7"

# dump NAME SNAPSHOT [dump-cells options...]: cells into $SCRATCH/NAME, its
# report into $SCRATCH/NAME/meta.
dump() {
	local name=$1 snap=$2
	shift 2
	mkdir -p "$SCRATCH/$name"
	"$DUMP" "$@" "$snap" "$SCRATCH/$name" >"$SCRATCH/$name/meta"
}
meta() { sed -n "s/^$2=//p" "$SCRATCH/$1/meta"; }
same_dumps() {
	local f
	for f in position velocity density temperature x_h2 x_co dust; do
		cmp -s "$SCRATCH/$1/$f.f32" "$SCRATCH/$2/$f.f32" || { echo "$f differs"; return 1; }
	done
}

find_python || true
reference() { # SNAPSHOT DUMPNAME [reference options]
	local snap=$1 name=$2
	shift 2
	"$PYTHON" "$TOP/tests/lib/iris_reference.py" "$snap" "$SCRATCH/$name" "$@"
}

cd "$SCRATCH" || exit 1
arepo-mksnap -n 30000 --seed 3 snap_007.hdf5 >/dev/null
arepo-mksnap -n 30000 --seed 3 --files 3 snapdir_007 >/dev/null
arepo-mksnap -n 30000 --seed 3 --double double_007.hdf5 >/dev/null
arepo-mksnap -n 30000 --seed 3 --no-chemistry plain_007.hdf5 >/dev/null

ok "reads a single-file float32 snapshot" dump single snap_007.hdf5 --chunk-cells 4099 --radius
is "$(meta single cells)" 30000 "all 30000 cells"
is "$(meta single chunks)" 8 "in IO chunks of the asked size (30000 / 4099 -> 8)"
ok "a multi-file snapshot directory reads" dump multi snapdir_007 --chunk-cells 4099
is "$(meta multi files)" 3 "as 3 pieces"
is "$(meta multi name)" snap_007 "named like its single-file form"
ok "multi-file gives the same cells as single-file" same_dumps single multi
ok "its piece 0 opens the whole snapshot" dump piece0 snapdir_007/snap_007.0.hdf5
ok "with the same cells" same_dumps single piece0
ok "one chunk or many, the same cells" dump onechunk snap_007.hdf5 --chunk-cells 1000000
ok "(compared)" same_dumps single onechunk
ok "a float64 snapshot reads" dump double double_007.hdf5

if [ -n "$PYTHON" ]; then
	ok "float32 cells match IRIS's arithmetic bit for bit" reference snap_007.hdf5 single --radius
	ok "float64 cells match IRIS's arithmetic bit for bit" reference double_007.hdf5 double
	above=$("$PYTHON" "$TOP/tests/lib/iris_reference.py" snap_007.hdf5 "$SCRATCH/single" | sed -n 's/^above_T_inf //p')
	info_above=$(arepo-info snap_007.hdf5 | sed -n 's/^above T_inf *\([0-9]*\) of.*/\1/p')
	is "$info_above" "$above" "arepo-info counts the cells above T_inf as the reference ($above)"
	ok "fixed scale and density factors" dump fixed snap_007.hdf5 $FIXED --view 0
	ok "match the reference" reference snap_007.hdf5 fixed --scale 0.5 --density 1.7
	ok "a skew" dump skew snap_007.hdf5 $FIXED --set dataset_hyper.CMZ_skew_factor=1.3 --view 0
	is "$(meta skew has_skew)" 1 "is drawn"
	ok "and matches IRIS's skew matrix" reference snap_007.hdf5 skew --scale 0.5 --density 1.7 --skew 1.3 --skew-angle "$(meta skew skew_angle)"
	ok "T_inf null: no ceiling" dump notinf snap_007.hdf5 --set observer_hyper.T_inf=null
	ok "matches the reference" reference snap_007.hdf5 notinf --tinf none
else
	skip 12 "no python3 with numpy and h5py (scripts/install-deps installs them)"
fi

# Perturbations drawn from the deterministic generator.
ok "view 1 draws its factors" dump view1 snap_007.hdf5 --view 1 --set dataset_hyper.CMZ_density_range=[0.5,2]
ok "and again" dump view1again snap_007.hdf5 --view 1 --set dataset_hyper.CMZ_density_range=[0.5,2]
ok "view 2 draws its own" dump view2 snap_007.hdf5 --view 2 --set dataset_hyper.CMZ_density_range=[0.5,2]
is "$(meta view1 scale) $(meta view1 density)" "$(meta view1again scale) $(meta view1again density)" "the same factors on a rerun"
ok "the same cells on a rerun" same_dumps view1 view1again
ok "other factors for another view" test "$(meta view1 scale)" != "$(meta view2 scale)"
ok "scale within CMZ_scale_range [0.25, 1]" awk -v s="$(meta view1 scale)" 'BEGIN { exit !(s >= 0.25 && s < 1) }'
ok "density within CMZ_density_range [0.5, 2]" awk -v s="$(meta view1 density)" 'BEGIN { exit !(s >= 0.5 && s < 2) }'
ok "the multi-file snapshot draws the same factors" dump view1multi snapdir_007 --view 1 --set dataset_hyper.CMZ_density_range=[0.5,2]
ok "and gives the same cells" same_dumps view1 view1multi

# Snapshots without SGChem fields.
run_status arepo-info plain_007.hdf5
is "$status" 3 "no DustTemperature: exit 3"
like "$err" "plain_007.hdf5: dataset PartType0/DustTemperature is missing.*default_dust_temperature" "naming the file, the dataset and the fallback"
run_status arepo-info --set dataset_hyper.default_dust_temperature=20 plain_007.hdf5
is "$status" 3 "no ChemicalAbundances: exit 3"
like "$err" "ChemicalAbundances is missing.*use_AREPO_abundances" "naming the dataset and the fallback"
ok "with both fallbacks it reads" dump plain plain_007.hdf5 $NOCHEM
if [ -n "$PYTHON" ]; then
	ok "with IRIS's fallback abundances" reference plain_007.hdf5 plain --no-abundances --default-dust 20
else
	skip 1 "no python3 with numpy and h5py"
fi

# Real AREPO output.
if [ -d "$REAL_DATA" ]; then
	run_status arepo-info "$REAL_DATA/noh_3d/snap_004.hdf5"
	is "$status" 3 "real AREPO without SGChem: exit 3"
	like "$err" "noh_3d/snap_004.hdf5: dataset PartType0/DustTemperature is missing" "naming file and dataset"
	ok "real single-file snapshot" dump noh "$REAL_DATA/noh_3d/snap_004.hdf5" $NOCHEM
	ok "real multi-file snapshot" dump noh_split "$REAL_DATA/noh_3d_split/snapdir_004" $NOCHEM --chunk-cells 5000
	is "$(meta noh_split cells) $(meta noh_split files)" "27000 2" "27000 cells in 2 pieces"
	ok "split and single-file real snapshots give identical cells" same_dumps noh noh_split
	ok "real double-precision snapshot" dump noh_dp "$REAL_DATA/noh_3d_dp/snap_004.hdf5" $NOCHEM
	ok "rounds to the single-precision output's cells exactly" same_dumps noh noh_dp
	ok "real galaxy merger (six particle types)" dump merger "$REAL_DATA/galaxy_merger_sf_3d/snap_000.hdf5" $NOCHEM --radius
	is "$(meta merger cells)" 26672 "reads its 26672 gas cells only"
	if [ -n "$PYTHON" ]; then
		ok "real float32 output matches the reference" reference "$REAL_DATA/noh_3d/snap_004.hdf5" noh --no-abundances --default-dust 20
		ok "real float64 output matches the reference" reference "$REAL_DATA/noh_3d_dp/snap_004.hdf5" noh_dp --no-abundances --default-dust 20
		ok "the merger matches the reference" reference "$REAL_DATA/galaxy_merger_sf_3d/snap_000.hdf5" merger --no-abundances --default-dust 20 --radius
	else
		skip 3 "no python3 with numpy and h5py"
	fi
else
	skip 13 "real AREPO snapshots not found at $REAL_DATA (set AREPO_REAL_DATA)"
fi

done_testing

#!/usr/bin/env bash
# Bad snapshots: exit status 3 and one line on stderr naming the file and
# what is wrong with it (one test for each kind of damage).
. "$(dirname "$0")/lib/tap.sh"

cd "$SCRATCH" || exit 1
arepo-mksnap -n 4000 good.hdf5 >/dev/null
arepo-mksnap -n 4000 --double good_double.hdf5 >/dev/null
arepo-mksnap -n 4000 --files 3 snapdir_005 >/dev/null

# expect_bad FILE PATTERN NAME: arepo-info FILE exits 3 with one line matching PATTERN.
expect_bad() {
	run_status arepo-info "$1"
	is "$status" 3 "$3: exit 3"
	like "$err" "^arepo-info: $2" "$3: the message names the file and the problem"
	is "$(printf '%s\n' "$err" | wc -l)" 1 "$3: in one line"
}

printf 'this is not a snapshot\n' >text.hdf5
expect_bad text.hdf5 "text.hdf5: not an HDF5 file" "not HDF5"

size=$(stat -c %s good.hdf5)
head -c $((size / 2)) good.hdf5 >truncated.hdf5
expect_bad truncated.hdf5 "truncated.hdf5: cannot open as HDF5 \(truncated or damaged\)" "truncated"

mkdir empty_dir
expect_bad empty_dir "empty_dir: no snapshot piece 0" "a directory without snapshot pieces"

cp -r snapdir_005 missing_piece
rm missing_piece/snap_005.1.hdf5
expect_bad missing_piece "missing_piece/snap_005.1.hdf5: piece 1 of the 3-file snapshot is missing" "a multi-file snapshot with a missing piece"

run_status arepo-info no_such_file.hdf5
is "$status" 1 "a path that does not exist: exit 1 (I/O)"
like "$err" "no_such_file.hdf5: No such file or directory" "naming it"

if find_python; then
	corrupt() { # KIND SOURCE DEST
		cp "$2" "$3" && "$PYTHON" "$TOP/tests/lib/corrupt.py" "$1" "$3"
	}
	corrupt no-boxsize good.hdf5 no_boxsize.hdf5
	expect_bad no_boxsize.hdf5 "no_boxsize.hdf5: Header attribute BoxSize is missing" "a missing Header attribute"
	corrupt no-header good.hdf5 no_header.hdf5
	expect_bad no_header.hdf5 "no_header.hdf5: no Header group" "no Header at all"
	corrupt no-velocities good.hdf5 no_velocities.hdf5
	expect_bad no_velocities.hdf5 "no_velocities.hdf5: dataset PartType0/Velocities is missing" "a missing dataset"
	corrupt flat-coordinates good.hdf5 flat.hdf5
	expect_bad flat.hdf5 "flat.hdf5: PartType0/Coordinates has shape" "a mis-shaped dataset"
	corrupt short-density good.hdf5 short.hdf5
	expect_bad short.hdf5 "short.hdf5: PartType0/Density holds 3999 cells but NumPart_ThisFile\[0\] is 4000" "datasets of different lengths"
	corrupt integer-density good.hdf5 intdens.hdf5
	expect_bad intdens.hdf5 "intdens.hdf5: PartType0/Density is not a floating-point dataset" "an integer field"
	corrupt nan-coordinate good.hdf5 nan.hdf5
	expect_bad nan.hdf5 "nan.hdf5: PartType0/Coordinates of cell 2000 is not finite \(nan\)" "a NaN coordinate"
	corrupt inf-coordinate good_double.hdf5 inf.hdf5
	expect_bad inf.hdf5 "inf.hdf5: PartType0/Coordinates of cell 2000 is not finite \(inf\)" "an infinite float64 coordinate"
	corrupt two-abundances good.hdf5 two_abundances.hdf5
	expect_bad two_abundances.hdf5 "two_abundances.hdf5: PartType0/ChemicalAbundances has shape" "too few abundance columns for AREPO_CO_abundance_id"
	cp -r snapdir_005 wrong_total
	for piece in wrong_total/*.hdf5; do "$PYTHON" "$TOP/tests/lib/corrupt.py" wrong-total "$piece"; done
	expect_bad wrong_total "wrong_total: the pieces hold 4000 gas cells but NumPart_Total says 4005" "pieces that do not add up"
else
	skip 30 "no python3 with numpy and h5py to damage snapshots (scripts/install-deps installs them)"
fi

done_testing

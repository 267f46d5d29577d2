#!/usr/bin/env bash
# arepo-mksnap: AREPO's layout, the galaxy it promises, reproducibility,
# atomic output, bounded memory.
. "$(dirname "$0")/lib/tap.sh"

cd "$SCRATCH" || exit 1
ok "writes a single-file snapshot" arepo-mksnap -n 20000 --seed 1 snap_001.hdf5
ok "a 3-file snapshot directory" arepo-mksnap -n 20000 --seed 1 --files 3 snapdir_001
ok "its pieces are named snap_001.K.hdf5" test -f snapdir_001/snap_001.0.hdf5 -a -f snapdir_001/snap_001.2.hdf5
ok "float64" arepo-mksnap -n 20000 --double snap_002.hdf5
ok "without chemistry" arepo-mksnap -n 20000 --no-chemistry snap_003.hdf5

if find_python; then
	ok "single file: AREPO's header and datasets" "$PYTHON" "$TOP/tests/lib/check_mksnap.py" snap_001.hdf5 20000 1 float32 yes
	ok "3 files: AREPO's header and datasets" "$PYTHON" "$TOP/tests/lib/check_mksnap.py" snapdir_001 20000 3 float32 yes
	ok "float64: every field float64" "$PYTHON" "$TOP/tests/lib/check_mksnap.py" snap_002.hdf5 20000 1 float64 yes
	ok "no chemistry: no ChemicalAbundances, no DustTemperature" "$PYTHON" "$TOP/tests/lib/check_mksnap.py" snap_003.hdf5 20000 1 float32 no
	arepo-mksnap -n 200000 --seed 4 big.hdf5 >/dev/null
	fraction=$("$PYTHON" "$TOP/tests/lib/frustum_fraction.py" big.hdf5)
	ok "about a third of the cells in the preset's view (got $fraction)" awk -v f="$fraction" 'BEGIN { exit !(f > 0.28 && f < 0.40) }'
else
	skip 5 "no python3 with numpy and h5py (scripts/install-deps installs them)"
fi

info=$(arepo-info snap_001.hdf5)
tmin=$(printf '%s\n' "$info" | awk '$1 == "temperature" { print $2 }')
tmax=$(printf '%s\n' "$info" | awk '$1 == "temperature" { print $3 }')
hot=$(printf '%s\n' "$info" | sed -n 's/^above T_inf *\([0-9]*\) of.*/\1/p')
ok "temperatures from about 10 K ($tmin)" awk -v t="$tmin" 'BEGIN { exit !(t >= 9 && t < 12) }'
ok "up to T_inf ($tmax)" awk -v t="$tmax" 'BEGIN { exit !(t > 4e4 && t <= 5e4) }'
ok "some cells above T_inf ($hot of 20000)" awk -v n="$hot" 'BEGIN { exit !(n > 600 && n < 3000) }'

arepo-mksnap -n 20000 --seed 1 again.hdf5 >/dev/null
ok "the same seed writes the same bytes" cmp snap_001.hdf5 again.hdf5
arepo-mksnap -n 20000 --seed 2 other.hdf5 >/dev/null
ok "another seed, other cells" sh -c '! cmp -s snap_001.hdf5 other.hdf5'

before=$(stat -c %Y.%s snap_001.hdf5)
run_status arepo-mksnap -n 100 snap_001.hdf5
is "$status" 0 "an existing output is kept (exit 0)"
like "$err" "snap_001.hdf5 exists; not rewritten" "with a note"
is "$(stat -c %Y.%s snap_001.hdf5)" "$before" "and left as it was"
ok "--force replaces it" arepo-mksnap --force -n 100 snap_001.hdf5
ok "with the new content" sh -c "arepo-info snap_001.hdf5 | grep -q '^cells  *100\$'"
ok "--force replaces a snapshot directory" arepo-mksnap --force -n 100 --files 2 snapdir_001
is "$(ls snapdir_001 | tr '\n' ' ')" "snap_001.0.hdf5 snap_001.1.hdf5 " "with only the new pieces"

# Interrupted: nothing that looks finished, no temporary left.
mkdir killed
arepo-mksnap -n 3e7 killed/snap_009.hdf5 >/dev/null 2>&1 &
pid=$!
for i in $(seq 50); do
	ls -A killed | grep -q part && break
	sleep 0.05
done
kill -TERM $pid
wait $pid
is "$?" 143 "mksnap killed by SIGTERM while writing"
is "$(ls -A killed)" "" "leaves neither the snapshot nor a temporary file"

ok "memory stays bounded: 3e6 cells under a 200 MB address-space limit" \
	bash -c 'ulimit -v 200000 && arepo-mksnap -n 3e6 bounded.hdf5 && arepo-info bounded.hdf5'

run_status arepo-mksnap -n 0 x.hdf5
is "$status" 2 "--cells 0: usage error"
run_status arepo-mksnap -n 10 --files 11 x.hdf5
is "$status" 2 "more files than cells: usage error"
run_status arepo-mksnap -n 10 no_such_dir/x.hdf5
is "$status" 1 "an unwritable output: exit 1"
like "$err" "no_such_dir/.*cannot create" "naming it"
ok "and nothing is left" test ! -e no_such_dir

done_testing

#!/usr/bin/env bash
# arepo-merge and arepo-normalize: the dataset read with h5py from anywhere,
# refusals that change nothing, the IRIS export, unit conversion exactly
# once even when killed with SIGKILL.
. "$(dirname "$0")/lib/tap.sh"

MKTENSOR="$HELPERS/mktensor"
find_python || true
cd "$SCRATCH" || exit 1
for k in 0 1 2; do
	"$MKTENSOR" 6 7 5 snap_001 $k 3 1e7 t1_$k.h5
	"$MKTENSOR" 6 7 5 snap_002 $k 3 1e7 t2_$k.h5
	"$MKTENSOR" 6 7 5 snap_003 $k 3 2e7 u3_$k.h5
done
"$MKTENSOR" 6 7 4 snap_004 0 3 1e7 othergrid.h5
mkdir keep && cp t1_*.h5 t2_*.h5 u3_*.h5 keep/

ok "merge three tensors into a new dataset" arepo-merge -o data t1_0.h5 t1_1.h5 t1_2.h5
ok "they are moved under data/tensors" sh -c 'test $(ls data/tensors | wc -l) = 3 && ! test -e t1_0.h5'
ok "--copy keeps the inputs" arepo-merge --copy -o data t2_0.h5
ok "(kept)" test -e t2_0.h5
ok "--link hard-links them" arepo-merge --link -o data t2_1.h5
is "$(stat -c %h t2_1.h5)" 2 "(two names, one file)"

fingerprint() { md5sum data/dataset.h5 | cut -d' ' -f1; ls data/tensors | md5sum | cut -d' ' -f1; }
before=$(fingerprint)
expect_refused() { # NAME PATTERN ARGS...
	local name=$1 pattern=$2
	shift 2
	run_status arepo-merge -o data "$@"
	is "$status" 3 "$name: refused (exit 3)"
	like "$err" "$pattern" "$name: says why"
	is "$(fingerprint)" "$before" "$name: nothing changed"
}
expect_refused "another grid" "othergrid.h5: grid 6x7x4 differs from the dataset's 6x7x5" t2_2.h5 othergrid.h5
ok "(the good input before it is still in place)" test -e t2_2.h5
expect_refused "a duplicate" "duplicate of .*snap_001.*view 0, seed 3" keep/t1_0.h5
printf 'junk\n' >junk.h5
expect_refused "not HDF5" "junk.h5: not an HDF5 file" junk.h5
head -c 3000 keep/t2_2.h5 >truncated.h5
expect_refused "an incomplete tensor" "truncated.h5: cannot open as HDF5" truncated.h5
expect_refused "other units" "u3_0.h5: its units differ from the dataset's" u3_0.h5
ok "--allow-duplicates accepts a duplicate" arepo-merge --copy --allow-duplicates -o data keep/t1_0.h5
ok "under a name of its own" test -e data/tensors/snap_001_view0_seed3_1.h5

ok "a second dataset" arepo-merge -o second t2_2.h5
ok "merged into the first (a dataset as input)" arepo-merge -o data second
ok "which is emptied" test ! -e second/dataset.h5

if [ -n "$PYTHON" ]; then
	mkdir elsewhere
	ok "h5py reads physical[i] from another directory, equal to the tensor file" \
		sh -c "cd elsewhere && '$PYTHON' -c \"
import h5py, numpy as np, sys
d = h5py.File('../data/dataset.h5', 'r')
cat = d['catalog'][:]
ok = d['physical'].shape == (7, 6, 6, 7, 5)
for i, row in enumerate(cat):
    t = h5py.File('../data/' + row['tensor'].decode(), 'r')['physical'][...]
    ok &= np.array_equal(d['physical'][i], t)
sys.exit(not ok)\""
	mv data moved_data
	ok "and after the dataset directory is moved" sh -c "cd / && '$PYTHON' -c \"
import h5py, numpy as np, sys
d = h5py.File('$SCRATCH/moved_data/dataset.h5', 'r')
t = h5py.File('$SCRATCH/moved_data/' + d['catalog'][3]['tensor'].decode(), 'r')['physical'][...]
sys.exit(not np.array_equal(d['physical'][3], t))\""
	mv moved_data data
	ok "the catalog holds snapshot, index, view, seed, theta and factors; shuffle is a permutation" "$PYTHON" -c "
import h5py, numpy as np, sys
d = h5py.File('data/dataset.h5', 'r')
c = d['catalog'][:]
s = d['shuffle'][:]
ok = sorted(s) == list(range(7)) and set(c['snapshot_index']) == {1, 2}
ok &= set(c['view']) == {0, 1, 2} and set(c['seed']) == {3} and np.all(c['scale'] == 0.5)
ok &= np.all(np.isnan(c['density_factor'])) and np.all(c['theta'] == 0.5)
sys.exit(not ok)"
	arepo-merge --copy -o shuffled_a keep/t1_0.h5 keep/t1_1.h5 keep/t1_2.h5 keep/t2_0.h5
	arepo-merge --copy -o shuffled_b keep/t1_0.h5 keep/t1_1.h5 keep/t1_2.h5 keep/t2_0.h5
	ok "the same inputs give the same shuffle" "$PYTHON" -c "
import h5py, sys
a = h5py.File('shuffled_a/dataset.h5')['shuffle'][:]; b = h5py.File('shuffled_b/dataset.h5')['shuffle'][:]
sys.exit(not (list(a) == list(b) and list(a) != [0, 1, 2, 3]))"

	ok "--export-iris writes IRIS's layout" arepo-merge -o data --export-iris iris
	ok "which numpy loads: attributes.json, hyper.json with the units, one .npy per tensor" "$PYTHON" -c "
import h5py, json, numpy as np, sys
a = json.load(open('iris/attributes.json')); h = json.load(open('iris/hyper.json'))
d = h5py.File('data/dataset.h5', 'r')
ok = a['cardinality'] == 7 and len(a['index']) == 7
ok &= h['dataset_hyper']['_length_iris_per_SI'] == 1e-5 and h['dataset_hyper']['_mass_iris_per_SI'] == 1000.0
for k, name in enumerate(a['index']):
    x = np.load('iris/' + name)
    ok &= x.dtype == np.float32 and np.array_equal(x, d['physical'][int(d['shuffle'][k])])
sys.exit(not ok)"
else
	skip 6 "no python3 with numpy and h5py (scripts/install-deps installs them)"
fi

# Units.
run_status arepo-normalize data
is "$status $out $err" "0  " "normalize a dataset already in its units: nothing on stdout or stderr"
run_status arepo-normalize --log-level info data
like "$err" "nothing rewritten" "says that nothing is rewritten, at --log-level info"
ok "a dataset in other processing units" arepo-merge --copy -o other keep/u3_0.h5 keep/u3_1.h5 keep/u3_2.h5
ok "merged with --units-from adopts the first's units" arepo-merge --copy --units-from data -o data other
run_status arepo-normalize --stats data
like "$out" "converted=3" "arepo-normalize converts those 3 tensors"
run_status arepo-normalize --stats data
like "$out" "converted=0" "and a second run does nothing"
if [ -n "$PYTHON" ]; then
	ok "density times 0.125 (IRIS's take_units for 2e7 cm), in float32; velocity and temperature unchanged" "$PYTHON" -c "
import h5py, numpy as np, sys
d = h5py.File('data/dataset.h5', 'r')
ok = True
for i, row in enumerate(d['catalog'][:]):
    if row['snapshot_name'] != b'snap_003':
        continue
    before = h5py.File('keep/u3_%d.h5' % row['view'], 'r')['physical'][...]
    after = d['physical'][i]
    ok &= np.array_equal(after[1], before[1] * np.float32(0.125)) and np.array_equal(after[0], before[0])
    ok &= np.array_equal(after[2], before[2]) and np.array_equal(after[3:5], before[3:5])
sys.exit(not ok)"
fi

# Killed with SIGKILL at several moments, then run again: every tensor scaled once.
for k in 0 1 2 3 4 5; do "$MKTENSOR" 96 128 64 snap_005 $k 3 2e7 big_$k.h5; done
mkdir bigkeep && cp big_*.h5 bigkeep/
arepo-merge -o big big_0.h5 big_1.h5 big_2.h5 big_3.h5 big_4.h5 big_5.h5
arepo-merge -o target --copy keep/t1_1.h5
ok "a target dataset's units adopted" arepo-normalize --units-from target -j 1 big
for delay in 0.05 0.1 0.15 0.2 0.4; do
	rm -rf big && mkdir big_src_$delay && cp bigkeep/* big_src_$delay/
	arepo-merge -o big big_src_$delay/*.h5
	setsid arepo-normalize --units-from target -j 2 big >/dev/null 2>&1 &
	pid=$!
	sleep $delay
	kill -9 -- -$pid 2>/dev/null
	wait $pid 2>/dev/null
	done_before=$(for f in big/tensors/*.h5; do h5dump -a iris_units "$f" >/dev/null 2>&1 && echo x; done | wc -l)
	run_status arepo-normalize --units-from target big
	is "$status" 0 "killed after ${delay}s ($done_before of 6 converted), the rerun finishes"
	if [ -n "$PYTHON" ]; then
		ok "every tensor scaled exactly once" "$PYTHON" -c "
import glob, h5py, numpy as np, sys
d = h5py.File('big/dataset.h5', 'r')
ok = True
for i, row in enumerate(d['catalog'][:]):
    before = h5py.File('bigkeep/big_%d.h5' % row['view'], 'r')['physical'][...]
    ok &= np.array_equal(d['physical'][i][1], before[1] * np.float32(0.125))
    ok &= np.array_equal(d['physical'][i][0], before[0])
sys.exit(not ok)"
	fi
	is "$(ls -A big/tensors | grep -c part)" 0 "no temporary file left"
done

# A new dataset adopts its first input's units, whatever its processing
# units of temperature (IRIS counts its units from them, with factor 1).
"$MKTENSOR" 6 7 5 snap_006 0 3 1e7 tk_0.h5 2
"$MKTENSOR" 6 7 5 snap_006 1 3 1e7 tk_1.h5 2
run_status arepo-merge --copy -o tk tk_0.h5 tk_1.h5
is "$status $err" "0 " "a new dataset of tensors made with temperature_K_per_processing=2 takes them"
run_status arepo-normalize --log-level info tk
like "$status $err" "^0 .*nothing rewritten" "and arepo-normalize finds nothing to convert"
run_status arepo-merge --copy -o tk keep/t1_0.h5
like "$status $err" "^3 .*t1_0.h5: its units differ from the dataset's \(factors 1, 1, 0.5\)" \
	"a tensor made with 1 K per unit is refused (IRIS's factor 0.5)"

# Any name a file system allows: %, %%, %b (HDF5 reads the virtual
# dataset's source names as patterns), newlines, quotes, leading dashes and
# spaces, in snapshot names, input files and directories.
names=("pct%_001" "pct%%_002" "pb%b_003" $'new\nline_004' "-dash_005" "q\"u'o te_006" "%s%n_007")
mkdir odd
for k in "${!names[@]}"; do
	"$MKTENSOR" 6 7 5 "${names[$k]}" $k 3 2e7 "odd/${names[$k]}.h5"
	cp "odd/${names[$k]}.h5" "keep/odd_$k.h5"
done
dir=$'-odd %b%%\nset'
run_status arepo-merge --units-from data -o "$dir" -- odd/*.h5
is "$status $err" "0 " "merged (moved) into a dataset named with them too"
is "$(ls -A odd | wc -l) $(ls -- "$dir/tensors" | grep -c _view)" "0 7" "(inputs moved into tensors/)"
run_status arepo-normalize --log-level info -- "$dir"
is "$status $out|$(printf '%s\n' "$err" | tail -n 1)" "0 |arepo-normalize: info: $(printf '%s' "$dir" | tr '\n' ' '): 7 of 7 tensors converted" "arepo-normalize converts them"
run_status arepo-merge -o "$dir" --export-iris "$dir/iris %b"
is "$status" 0 "and exports them"
if [ -n "$PYTHON" ]; then
	ok "h5py reads physical: each row its tensor, density times 0.125, the export equal" "$PYTHON" - "$dir" <<'EOF'
import h5py, json, numpy as np, sys
top = sys.argv[1]
d = h5py.File(top + '/dataset.h5', 'r')
names = ["pct%_001", "pct%%_002", "pb%b_003", "new\nline_004", "-dash_005", "q\"u'o te_006", "%s%n_007"]
ok = d['physical'].shape[0] == 7
for i, row in enumerate(d['catalog'][:]):
    k = names.index(row['snapshot_name'].decode())
    before = h5py.File('keep/odd_%d.h5' % k, 'r')['physical'][...]
    t = h5py.File(top + '/' + row['tensor'].decode(), 'r')['physical'][...]
    ok &= np.array_equal(d['physical'][i], t) and np.array_equal(t[1], before[1] * np.float32(0.125))
    ok &= np.array_equal(t[0], before[0])
a = json.load(open(top + '/iris %b/attributes.json'))
for k, name in enumerate(a['index']):
    ok &= np.array_equal(np.load(top + '/iris %b/' + name), d['physical'][int(d['shuffle'][k])])
sys.exit(not ok)
EOF
else
	skip 1 "no python3 with numpy and h5py (scripts/install-deps installs them)"
fi

done_testing

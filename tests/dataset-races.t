#!/usr/bin/env bash
# Datasets changed by several runs at once: one lock per dataset (who holds
# it, --no-wait, waiting), two arepo-normalize or two arepo-merge at once
# (20 trials each, every one must pass), and arepo-normalize's workers
# stopping with their parent whatever signal it gets.
. "$(dirname "$0")/lib/tap.sh"

MKTENSOR="$HELPERS/mktensor"
find_python || true
cd "$SCRATCH" || exit 1
TRIALS=${AREPO_RACE_TRIALS:-20}

mkdir keep
for k in 0 1 2 3 4 5; do
	"$MKTENSOR" 12 16 8 snap_001 $k 3 1e7 keep/l_$k.h5
	"$MKTENSOR" 12 16 8 snap_002 $k 3 2e7 keep/u_$k.h5
	"$MKTENSOR" 12 16 8 snap_003 $k 3 1e7 keep/a_$k.h5
	"$MKTENSOR" 12 16 8 snap_004 $k 3 1e7 keep/b_$k.h5
done
arepo-merge --copy -o L keep/l_0.h5

# Exactly once: every tensor of the datasets given equals its keep/ copy
# with density times 0.125 and the other channels unchanged.
scaled_once() { # DATASET...
	"$PYTHON" - "$@" <<'EOF'
import h5py, numpy as np, sys
bad = []
for ds in sys.argv[1:]:
    d = h5py.File(ds + '/dataset.h5', 'r')
    for i, row in enumerate(d['catalog'][:]):
        before = h5py.File('keep/u_%d.h5' % row['view'], 'r')['physical'][...]
        after = d['physical'][i]
        if not (np.array_equal(after[1], before[1] * np.float32(0.125)) and
                np.array_equal(after[0], before[0]) and np.array_equal(after[2:], before[2:])):
            bad.append('%s[%d]' % (ds, i))
print(' '.join(bad))
sys.exit(1 if bad else 0)
EOF
}

# --- The lock: who holds it, --no-wait, waiting. -----------------------------
for k in 0 1 2 3 4 5 6 7; do "$MKTENSOR" 48 96 64 snap_005 $k 3 2e7 keep/big_$k.h5; done
"$MKTENSOR" 48 96 64 snap_006 0 3 1e7 keep/c_0.h5
arepo-merge --copy --units-from L -o held keep/big_*.h5
setsid arepo-normalize -j 1 held >/dev/null 2>&1 &
holder=$!
for i in $(seq 500); do
	grep -q "^arepo-normalize $holder " held/dataset.lock 2>/dev/null && break
	sleep 0.01
done
kill -STOP -- -$holder
ok "arepo-normalize records itself in held/dataset.lock while it holds the lock" \
	sh -c "grep -q '^arepo-normalize $holder ' held/dataset.lock && ! flock -n held/dataset.lock true"
before=$(md5sum held/dataset.h5)
run_status arepo-merge --no-wait --copy --units-from held -o held keep/c_0.h5
is "$status" 1 "arepo-merge --no-wait on a dataset in use: exit 1"
like "$err" "^arepo-merge: held: in use by arepo-normalize \(pid $holder on $(hostname), since [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC\); not waiting \(--no-wait\)$" \
	"says who holds it: tool, pid, host, since when"
run_status arepo-normalize --no-wait held
is "$status" 1 "arepo-normalize --no-wait: exit 1"
like "$err" "held: in use by arepo-normalize \(pid $holder " "(the same holder)"
is "$(md5sum held/dataset.h5)" "$before" "nothing changed"
arepo-merge --copy --units-from held -o held keep/c_0.h5 >waiter.out 2>&1 &
waiter=$!
sleep 0.5
ok "a second run without --no-wait waits" kill -0 $waiter
kill -CONT -- -$holder
wait $holder
hs=$?
wait $waiter
ws=$?
is "$hs $ws" "0 0" "both finish, exit 0, once the first lets go"
[ $ws = 0 ] || sed 's/^/# /' waiter.out
ok "the merge that waited added its entry" sh -c 'h5dump -a entries held/dataset.h5 | grep -q "(0): 9"'

# --- Two arepo-normalize on one dataset at once. ----------------------------
bad=
for t in $(seq "$TRIALS"); do
	arepo-merge --copy --units-from L -o n$t keep/u_*.h5
	arepo-normalize -j 1 n$t >/dev/null 2>&1 &
	a=$!
	arepo-normalize -j 1 n$t >/dev/null 2>&1 &
	b=$!
	wait $a
	sa=$?
	wait $b
	[ "$sa $?" = "0 0" ] || bad="$bad $t"
done
is "$bad" "" "$TRIALS trials of two arepo-normalize at once: both exit 0 every time"
if [ -n "$PYTHON" ]; then
	ok "every tensor scaled exactly once in every trial" scaled_once $(seq -f n%g "$TRIALS")
else
	skip 1 "no python3 with numpy and h5py (scripts/install-deps installs them)"
fi

# --- Two arepo-merge into one dataset at once (moves, a new dataset). --------
bad=
for t in $(seq "$TRIALS"); do
	mkdir in$t && cp keep/a_*.h5 keep/b_*.h5 in$t/
	want=12
	if [ $((t % 2)) = 0 ]; then # an existing dataset, every other trial
		arepo-merge --copy -o m$t keep/l_0.h5
		want=13
	fi
	arepo-merge -o m$t in$t/a_*.h5 2>>merge.err &
	a=$!
	arepo-merge -o m$t in$t/b_*.h5 2>>merge.err &
	b=$!
	wait $a
	sa=$?
	wait $b
	sb=$?
	entries=$(h5dump -a entries m$t/dataset.h5 2>/dev/null | sed -n 's/.*(0): //p')
	names=$(h5dump -d catalog m$t/dataset.h5 | grep -o 'tensors/snap_00[134]_view[0-9]_seed3[^"]*' | sort | tr '\n' ' ')
	files=$(cd m$t/tensors && ls | sed 's|^|tensors/|' | sort | tr '\n' ' ')
	left=$(ls -A in$t | wc -l)
	[ "$sa $sb $entries $left" = "0 0 $want 0" ] && [ "$names" = "$files" ] &&
		[ "$(ls -A m$t | tr '\n' ' ')" = "dataset.h5 dataset.lock tensors " ] ||
		bad="$bad $t($sa $sb entries=$entries left=$left)"
done
is "$bad" "" "$TRIALS trials of two arepo-merge into one dataset at once (new, or existing every other trial): both exit 0, every entry in the catalog, their tensors and nothing else in tensors/, no input left"
is "$(cat merge.err)" "" "(and nothing on stderr)"

# --- arepo-normalize's workers stop with their parent. -----------------------
# A signal to the parent alone or to the whole group, at several moments;
# a rerun started at once (it waits for the lock) finishes; every tensor
# is then byte for byte what one uninterrupted run makes: scaled once.
arepo-merge --copy --units-from L -o bigsrc keep/big_*.h5
cp -rl bigsrc bigref && arepo-normalize bigref >/dev/null
reference=$(cd bigref/tensors && md5sum *)
gone_within() { # SECONDS PID...: all the processes have exited in time
	local limit=$1 i p alive
	shift
	for i in $(seq $((limit * 20))); do
		alive=
		for p in "$@"; do # a zombie (orphans wait for init to reap them) has ended
			case $(ps -o stat= -p "$p" 2>/dev/null) in "" | Z*) ;; *) alive=1 ;; esac
		done
		[ -z "$alive" ] && return 0
		sleep 0.05
	done
	return 1
}
for case in "TERM parent" "INT parent" "HUP parent" "KILL parent" "TERM group" "KILL group"; do
	set -- $case
	sig=$1 whom=$2
	for delay in 0 0.03 0.08; do
		rm -rf big && cp -rl bigsrc big # normalize renames new files over the links
		env --default-signal=INT setsid arepo-normalize -j 2 big >/dev/null 2>sig.err &
		pid=$!
		sleep $delay
		workers=$(pgrep -P $pid | tr '\n' ' ')
		if [ "$whom" = group ]; then kill -$sig -- -$pid 2>/dev/null; else kill -$sig $pid 2>/dev/null; fi
		arepo-normalize big >rerun.out 2>&1 &
		rerun=$!
		wait $pid 2>/dev/null
		ps=$?
		alive=0
		gone_within 2 $workers || alive=1
		wait $rerun
		status=$?
		left=$(grep -o '[0-9] of 8' rerun.out)
		[ "$alive $status" = "0 0" ] || echo "# workers still running: $alive; rerun: $status $(cat rerun.out)"
		case $sig in TERM) want=143 ;; INT) want=130 ;; HUP) want=129 ;; KILL) want=137 ;; esac
		[ "$ps" = 0 ] && want=0 # it had finished
		is "$ps $alive $status" "$want 0 0" \
			"SIG$sig to the $whom after ${delay}s: exit $want, no worker left, a rerun started at once finishes (${left:-0 of 8} left to it)"
		is "$(cd big/tensors && md5sum *)" "$reference" "(every tensor scaled exactly once)"
		is "$(ls -A big/tensors | grep -c part)" 0 "(no temporary left)"
	done
done

# A worker held stopped while its parent is told to stop (or killed), and a
# rerun started: once the worker may run again it converts nothing more.
for sig in TERM KILL; do
	rm -rf big && cp -rl bigsrc big
	setsid arepo-normalize -j 1 big >/dev/null 2>&1 &
	pid=$!
	worker=
	for i in $(seq 500); do
		worker=$(pgrep -P $pid)
		[ -n "$worker" ] && break
		sleep 0.01
	done
	kill -STOP $worker
	kill -$sig $pid
	arepo-normalize big >rerun.out 2>&1 &
	rerun=$!
	sleep 0.3
	kill -CONT $worker
	wait $pid 2>/dev/null
	ps=$?
	gone_within 1 $worker
	gone=$?
	wait $rerun
	is "$ps $gone $?" "$([ $sig = TERM ] && echo 143 || echo 137) 0 0" \
		"SIG$sig to the parent of a stopped worker: the worker ends as soon as it runs, the rerun finishes"
	is "$(cd big/tensors && md5sum *)" "$reference" "(every tensor scaled exactly once)"
done

done_testing

#!/usr/bin/env bash
# Faults of the run, not of the data, for arepo-extract, arepo-interp and
# arepo-observe: a full disk (a small tmpfs, as root), SIGKILL and the
# temporaries it leaves, signals to mpirun, huge settings, memory and file
# limits.
. "$(dirname "$0")/lib/tap.sh"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
CONFIG="$TOP/pipelines/presets/tiny.json"
cd "$SCRATCH" || exit 1
trap 'umount "$SCRATCH/full" 2>/dev/null; rm -rf "$SCRATCH"' EXIT

arepo-mksnap -n 3000 --seed 3 snap_003.hdf5 >/dev/null
arepo-mksnap -n 200000 --seed 5 snap_005.hdf5 >/dev/null
arepo-extract --config "$CONFIG" -o views snap_003.hdf5 snap_005.hdf5
arepo-interp views/snap_003/view_0.h5 t.h5

parts() { find "$@" -name '.*.part-*' 2>/dev/null | wc -l; }
# wait_for SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds.
wait_for() {
	local end=$(($(date +%s%N) + $1 * 1000000000))
	shift
	until "$@"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.05
	done
}
has_parts() { [ "$(parts "$@")" -gt 0 ]; }

# --- A full disk: one line with the reason, exit 1, nothing left, no crash.
# disk_full NAME SIZE FILE-PATTERN COMMAND...: runs COMMAND on a fresh tmpfs of SIZE.
disk_full() {
	local name=$1 size=$2 pattern=$3
	shift 3
	umount full 2>/dev/null
	mount -t tmpfs -o size="$size" tmpfs full
	run_status "$@"
	is "$status" 1 "$name: exit 1 (not a crash: $status)"
	# mpirun adds its own report; the tools' lines are those of their names.
	local said
	said=$(printf '%s\n' "$err" | grep '^arepo-')
	like "$said" "^arepo-[a-z]+: full/$pattern: [^:]*: No space left on device\$" "$name: one line naming the file and the reason"
	is "$(printf '%s\n' "$said" | wc -l)" 1 "$name: and only one"
	is "$(find full -type f | wc -l)" 0 "$name: no file left, temporary or not"
}
mkdir full
if [ "$(id -u)" != 0 ]; then
	skip 52 "the full-disk tests mount a tmpfs, which needs root"
elif ! mount -t tmpfs -o size=16k tmpfs full 2>/dev/null; then
	skip 52 "cannot mount a tmpfs here"
else
	for size in 12k 64k 512k; do
		disk_full "extract, $size free" $size "out/snap_003/view_[0-9].h5" \
			arepo-extract --config "$CONFIG" -o full/out snap_003.hdf5
	done
	disk_full "extract under mpirun -n 2, 256k free" 256k "out/snap_005/view_[0-9].h5" \
		mpirun -n 2 arepo-extract --chunk-mb 2 --config "$CONFIG" -o full/out snap_005.hdf5
	# The tensor takes 76k compressed (the default), 218k not.
	for size in 16k 48k; do
		disk_full "interp, $size free" $size t.h5 arepo-interp views/snap_003/view_0.h5 full/t.h5
	done
	for size in 100k 200k; do
		disk_full "interp --compress none, $size free" $size t.h5 \
			arepo-interp --compress none views/snap_003/view_0.h5 full/t.h5
	done
	for size in 16k 64k; do
		disk_full "observe, $size free" $size o.h5 arepo-observe --mode simple --config "$CONFIG" t.h5 full/o.h5
	done
	disk_full "observe --stages, 64k free" 64k stages.h5 \
		arepo-observe --mode simple --config "$CONFIG" --stages full/stages.h5 t.h5 o.h5
	disk_full "observe's grid file, 16k free" 16k grids.h5 \
		arepo-observe --config "$CONFIG" --build-grids full/grids.h5 \
		--set 'observer_hyper.N_H_TOT_steps=[8]' --set 'observer_hyper.abundance_H2_steps=[8]' \
		--set 'observer_hyper.T_steps=[8]'
	rm -f o.h5
	umount full
fi

# --- SIGKILL: what it leaves, the next run removes.
big=views/snap_005/view_0.h5
arepo-interp --backend brute -j 1 $big killed.h5 &
pid=$!
wait_for 20 has_parts . -maxdepth 1
kill -KILL $pid
wait $pid 2>/dev/null
is "$(parts . -maxdepth 1)" 1 "interp killed by SIGKILL leaves its temporary"
ok "a rerun writes the tensor" arepo-interp views/snap_003/view_0.h5 killed.h5
is "$(parts . -maxdepth 1)" 0 "and removes the dead run's temporary"
arepo-interp --backend brute -j 1 --force $big killed.h5 &
pid=$!
wait_for 20 has_parts . -maxdepth 1
kill -KILL $pid
wait $pid 2>/dev/null
ok "a rerun that has nothing to write (the tensor exists)" arepo-interp views/snap_003/view_0.h5 killed.h5
is "$(parts . -maxdepth 1)" 0 "removes it too"

arepo-extract --config "$CONFIG" --set writer_hyper.points_per_snapshot=400 -o killed snap_003.hdf5 &
pid=$!
wait_for 20 has_parts killed
kill -KILL $pid
wait $pid 2>/dev/null
left=$(parts killed)
ok "extract killed by SIGKILL leaves temporaries ($left)" test "$left" -gt 0
ok "a rerun does the views" arepo-extract --config "$CONFIG" --set writer_hyper.points_per_snapshot=400 -o killed snap_003.hdf5
is "$(parts killed)" 0 "and removes them"
is "$(ls killed/snap_003 | wc -l)" 400 "all 400 views are there"

# Only temporaries of this host whose process is dead go.
host=$(hostname | tr -c 'A-Za-z0-9.\n-' _)
sh -c 'exit 0' &
dead=$!
wait $dead
mkdir planted
touch "planted/.o.h5.part-$host-$dead-0" "planted/.o.h5.part-$host-$$-0" "planted/.o.h5.part-elsewhere-$dead-0"
ok "observe runs beside planted temporaries" arepo-observe --mode simple --config "$CONFIG" t.h5 planted/o.h5
ok "the dead process's is removed" test ! -e "planted/.o.h5.part-$host-$dead-0"
ok "a live process's is kept" test -e "planted/.o.h5.part-$host-$$-0"
ok "another host's is kept" test -e "planted/.o.h5.part-elsewhere-$dead-0"
rm -r planted

# --- Signals: the ranks stop at once and take their temporaries with them.
many_parts() { [ "$(parts "$1")" -ge 2100 ] || [ -e "$1/snap_003/view_0.h5" ]; }
none_running() { # PID...: none alive (absent, or dead and not yet reaped)
	local p
	for p in "$@"; do
		case "$(ps -o stat= -p "$p")" in
		"" | Z*) ;;
		*) echo "rank $p is still running"; return 1 ;;
		esac
	done
}
for sig in TERM INT; do
	rm -rf sig
	mpirun -n 2 arepo-extract --config "$CONFIG" \
		--set writer_hyper.points_per_snapshot=100000 -o sig snap_003.hdf5 2>/dev/null &
	mp=$!
	# Deep into a pass: over a thousand views being written on each rank.
	wait_for 30 many_parts sig
	ranks=$(ps -o pid= --ppid $mp | tr '\n' ' ')
	start=$(date +%s%N)
	kill -$sig $mp
	wait $mp
	status=$?
	took=$((($(date +%s%N) - start) / 1000000))
	ok "SIG$sig to mpirun: it exits with an error ($status)" test $status -ne 0
	ok "SIG$sig to mpirun: within 5 s (${took} ms)" test $took -lt 5000
	ok "SIG$sig to mpirun: no rank left running" none_running $ranks
	is "$(parts sig)" 0 "SIG$sig to mpirun: no temporary left"
done

# --- Huge settings: bounded memory and files, views written from the start.
rm -rf huge
arepo-extract --max-memory 64M --config "$CONFIG" --set writer_hyper.points_per_snapshot=10000000 -o huge snap_003.hdf5 2>huge.err &
pid=$!
wait_for 20 test -e huge/snap_003/view_0.h5
sleep 0.5
most=$(parts huge)
kill -TERM $pid
wait $pid
status=$?
is "$status" 143 "points_per_snapshot=1e7: still running (killed by SIGTERM)"
ok "points_per_snapshot=1e7: views are written from the start ($(ls huge/snap_003 | wc -l))" test -e huge/snap_003/view_0.h5
ok "points_per_snapshot=1e7: at most a pass of temporaries at a time ($most)" test "$most" -le 80
is "$(parts huge)" 0 "points_per_snapshot=1e7: none left after SIGTERM"
like "$(cat huge.err)" "do not all fit at once in --max-memory 64 MiB" "and it says it works in passes"

rm -rf limited
(
	ulimit -v 800000
	exec arepo-extract --config "$CONFIG" --set writer_hyper.points_per_snapshot=100000 -o limited snap_003.hdf5 2>/dev/null
) &
pid=$!
wait_for 20 test -e limited/snap_003/view_0.h5
kill -TERM $pid
wait $pid
status=$?
is "$status" 143 "1e5 views under ulimit -v: running until killed (not a crash)"
is "$(parts limited)" 0 "1e5 views under ulimit -v: no temporary left"

run_status arepo-extract --max-memory 10M --config "$CONFIG" -o small snap_005.hdf5
is "$status" 2 "a --max-memory too small for one view: exit 2"
like "$err" "^arepo-extract: snap_005.hdf5: needs at least [0-9.]+ MiB of memory per rank .*--max-memory is 10.0 MiB\$" "saying what it needs"
ok "before anything is written" test ! -e small/snap_005/view_0.h5

# 30 open files: enough for MPI to start, not for a view as well.
run_status bash -c "ulimit -n 30 && exec arepo-extract --config '$CONFIG' -o nofiles snap_003.hdf5"
if printf '%s\n' "$err" | grep -q 'MPI_Init'; then
	skip 2 "MPI itself does not start with 30 open files here"
else
	is "$status" 1 "too few open files for one view: exit 1"
	like "$err" "^arepo-extract: snap_003.hdf5: no open file left for a view being written: ulimit -n is 30 and at least [0-9]+ are needed\$" "saying how many"
fi

# A grid no tensor can hold names the tensor and the size.
arepo-extract --config "$CONFIG" --set coordinate_hyper.r_steps=1000000 --set coordinate_hyper.lon_steps=1000000 \
	--set coordinate_hyper.lat_steps=1000000 --set coordinate_hyper.r_crop_max_index=10 -o huge_grid snap_003.hdf5
run_status arepo-interp huge_grid/snap_003/view_0.h5 huge.h5
is "$status" 3 "a grid of 1e18 points: refused (exit 3)"
like "$err" "^arepo-interp: huge.h5: a grid of 1000000 x 1000000 x 1000000 points .* makes a tensor of 2.4e\+19 bytes; refused\$" "naming the tensor and the size"
arepo-extract --config "$CONFIG" --set coordinate_hyper.r_steps=10 --set coordinate_hyper.lon_steps=1000000 \
	--set coordinate_hyper.lat_steps=1000000 --set coordinate_hyper.r_crop_max_index=10 -o wide_grid snap_003.hdf5
run_status arepo-interp wide_grid/snap_003/view_0.h5 wide.h5
is "$status" 1 "a slab that does not fit in memory: exit 1"
like "$err" "^arepo-interp: wide.h5: out of memory for a slab of 1 r step \([0-9.]+ MiB" "naming the tensor and the size"
is "$(parts .)" 0 "no temporary left by any refusal"

# --- Messages carry the reason.
run_status arepo-interp views/snap_003/view_0.h5 no/such/dir/t.h5
like "$err" "^arepo-interp: no/such/dir/t.h5: cannot create: No such file or directory\$" "interp: cannot create, and why"
run_status arepo-observe --mode simple --config "$CONFIG" t.h5 no/such/dir/o.h5
like "$err" "^arepo-observe: no/such/dir/o.h5: cannot create: No such file or directory\$" "observe: cannot create, and why"
run_status arepo-interp views t2.h5
like "$err" "^arepo-interp: views: cannot read: Is a directory\$" "interp: cannot read, and why"
head -c 100000 snap_005.hdf5 >truncated_007.hdf5
run_status arepo-extract --config "$CONFIG" -o x truncated_007.hdf5
like "$err" "^arepo-extract: truncated_007.hdf5: cannot open as HDF5 \(truncated or damaged\): truncated file: eof = 100000\$" "extract: a truncated snapshot, and why"

done_testing

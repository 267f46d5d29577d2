# The device and lock options of a CUDA backend, checked alike for every
# tool that has one (sourced by the tests in tests/gpu after tap.sh).

# gpu_option_checks TOOL INPUT SAME [BIG]: "TOOL --backend cuda INPUT OUT"
# runs the backend (TOOL: the command and any options, split at blanks),
# "SAME A B" compares two outputs; BIG (default INPUT) is the input of the
# two processes that share the lock directory.
# shellcheck disable=SC2086
gpu_option_checks() {
	local tool=$1 input=$2 same=$3 big=${4:-$2} count lockfile holder start end
	count=$(nvidia-smi -L 2>/dev/null | wc -l)
	[ "$count" -ge 1 ] || count=1
	run_status $tool --backend cuda --device "$count" "$input" nodev.out
	is "$status" 1 "--device $count (one past the last GPU): exit 1"
	like "$err" "--device $count: $count GPU" "saying how many there are"
	run_status $tool --backend cuda --device 0 "$input" dev0.out
	is "$status" 0 "--device 0 works"
	run_status env CUDA_VISIBLE_DEVICES= $tool --backend cuda "$input" hidden.out
	is "$status" 1 "CUDA_VISIBLE_DEVICES empty: --backend cuda exits 1"
	like "$err" "no usable GPU" "saying no GPU is usable"
	run_status env CUDA_VISIBLE_DEVICES= $tool --backend auto "$input" hidden-auto.out
	is "$status" 0 "and --backend auto falls back to the CPU"

	# A process holding device 0's lock file makes another wait for it (with
	# one GPU) or take another GPU.
	$tool --backend cuda --device 0 --gpu-lock locks "$input" lock1.out
	lockfile=$(ls locks/gpu-*.lock 2>/dev/null | head -n 1)
	ok "--gpu-lock makes a lock file per device (${lockfile:-none})" test -n "$lockfile"
	if [ -n "$lockfile" ] && command -v flock >/dev/null; then
		flock "$lockfile" sleep 3 &
		holder=$!
		sleep 0.5
		start=$(date +%s.%N)
		$tool --backend cuda --device 0 --gpu-lock locks "$input" lock2.out
		end=$(date +%s.%N)
		wait $holder
		ok "--device 0 --gpu-lock waits while another process holds the device" \
			awk -v a="$start" -v b="$end" 'BEGIN { exit !(b - a > 2) }'
		ok "and then runs" "$same" lock2.out lock1.out
	else
		skip 2 "no lock file or no flock(1)"
	fi
	$tool --backend cuda --gpu-lock locks "$big" par1.out &
	$tool --backend cuda --gpu-lock locks "$big" par2.out
	wait
	ok "two processes sharing the lock directory both finish, with the same output" \
		"$same" par1.out par2.out
}

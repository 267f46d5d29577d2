# The Slurm side of arepo-submit and arepo-status: a job script's header,
# submission with dependencies, cancel, states and logs. Another scheduler
# is another file sched-NAME.sh defining the same sched_* functions; the
# stages and the chain stay in lib/stages.sh and arepo-submit. Sourced.

SCHED_SUBMIT="sbatch"

# sched_header STAGE ARRAY CPUS NTASKS GPUS MEM TIME: the script's
# directives, its log under WORK/logs (<stage>_<job>_<task>.log for an
# array, <stage>_<job>.log otherwise).
sched_header() {
	# A literal % in a file name pattern is %%.
	_log="$(printf '%s' "$WORK" | sed 's/%/%%/g')/logs/$1_%j.log"
	[ "$2" = 0 ] || _log="${_log%_%j.log}_%A_%a.log"
	echo "#SBATCH --job-name=arepo-$1"
	echo "#SBATCH --output=\"$_log\""
	echo "#SBATCH --cpus-per-task=$3"
	[ "$4" -le 1 ] || echo "#SBATCH --ntasks=$4"
	[ "$5" = 0 ] || echo "#SBATCH --gres=gpu:$5"
	echo "#SBATCH --time=$7"
	echo "#SBATCH --mem=$6"
	[ -z "$SCHED_PARTITION" ] || echo "#SBATCH --partition=$SCHED_PARTITION"
	[ -z "$SCHED_ACCOUNT" ] || echo "#SBATCH --account=$SCHED_ACCOUNT"
}

# The lines that set a task's number and CPUs from the scheduler's
# environment, in the job script.
sched_task_env() {
	echo 'AREPO_TASK=${SLURM_ARRAY_TASK_ID:-}'
	echo 'AREPO_TASK_CPUS=${SLURM_CPUS_PER_TASK:-}'
}

# Names a scheduler refuses in WORK (its script directives cannot hold them).
sched_check_work() {
	case $WORK in *'"'* | *'\'*) return 1 ;; esac
}

# sched_submit SCRIPT TASKS THROTTLE DEPENDENCIES: submits, prints the job
# id. TASKS: comma-separated task numbers, empty for one job; THROTTLE: at
# most that many tasks at once (empty: no limit); DEPENDENCIES: words
# afterok:ID (after all of job ID succeeded) and aftercorr:ID (task n after
# task n of job ID). Slurm cancels a job when one it depends on fails, so
# the chain stops at the first failure.
sched_submit() {
	set -- "$1" "${2:+--array=$2${3:+%$3}}" "${4:+--dependency=$(printf '%s' "$4" | tr ' ' ',')}"
	# shellcheck disable=SC2086
	set -- --parsable --kill-on-invalid-dep=yes $SCHED_EXTRA ${2:+"$2"} ${3:+"$3"} "$1"
	if [ "${SCHED_DRY:-0}" = 1 ]; then
		echo "sbatch $*" >&2
		return 0
	fi
	sbatch "$@"
}

sched_cancel() { # ID...
	scancel "$@"
}

# sched_states ID: "N state, M state" over the job's tasks, or nothing when
# the scheduler no longer knows it.
sched_states() {
	scontrol -o show job "$1" 2>/dev/null | sed -n 's/.* JobState=\([A-Z_]*\) .*/\1/p' | sort | uniq -c |
		awk '{ printf "%s%s %s", sep, $1, tolower($2); sep = ", " }'
}

# sched_failures STAGE ID: one line per failed task: "TASK JOB STATE EXIT LOG"
# (TASK - for a job without array).
sched_failures() {
	scontrol -o show job "$2" 2>/dev/null | while read -r _line; do
		_state=$(printf '%s\n' "$_line" | sed -n 's/.* JobState=\([A-Z_]*\) .*/\1/p')
		case $_state in
		FAILED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) ;;
		*) continue ;;
		esac
		_job=$(printf '%s\n' "$_line" | sed -n 's/^JobId=\([0-9]*\) .*/\1/p')
		_array=$(printf '%s\n' "$_line" | sed -n 's/.* ArrayJobId=\([0-9]*\) .*/\1/p')
		_task=$(printf '%s\n' "$_line" | sed -n 's/.* ArrayTaskId=\([0-9]*\) .*/\1/p')
		_exit=$(printf '%s\n' "$_line" | sed -n 's/.* ExitCode=\([0-9]*\):.*/\1/p')
		if [ -n "$_task" ]; then _log="$WORK/logs/$1_${_array}_$_task.log"; else _log="$WORK/logs/$1_$_job.log"; fi
		printf '%s %s %s %s %s\n' "${_task:--}" "$_job" "$_state" "${_exit:-?}" "$_log"
	done
}

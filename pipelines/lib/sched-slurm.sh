# The Slurm side of arepo-submit and arepo-status: the cluster's limits, a
# job script's header, the submission script, cancel, states and logs.
# Another scheduler is another file sched-NAME.sh defining the same sched_*
# functions; the stages, the plan and the chain stay in lib/stages.sh,
# lib/plan.awk and arepo-submit. Sourced.

# sched_limits: sets sched_indices (the most tasks of one array, numbered
# from 0: MaxArraySize, or SchedulerParameters' max_array_tasks when lower),
# sched_max_jobs (the most jobs the controller accepts besides those it
# holds: MaxJobCount less one) and sched_held (the jobs it holds now, as
# squeue shows them, finished ones included). False when Slurm does not say.
sched_limits() {
	sched_indices= sched_max_jobs= sched_held=
	_config=$(scontrol show config 2>/dev/null) || return 1
	sched_indices=$(printf '%s\n' "$_config" | sed -n 's/^MaxArraySize *= *\([0-9][0-9]*\).*/\1/p')
	_tasks=$(printf '%s\n' "$_config" | sed -n 's/^SchedulerParameters *=.*max_array_tasks=\([0-9][0-9]*\).*/\1/p')
	[ -z "$_tasks" ] || [ -z "$sched_indices" ] || [ "$_tasks" -ge "$sched_indices" ] || sched_indices=$_tasks
	sched_max_jobs=$(printf '%s\n' "$_config" | sed -n 's/^MaxJobCount *= *\([0-9][0-9]*\).*/\1/p')
	[ -z "$sched_max_jobs" ] || sched_max_jobs=$((sched_max_jobs - 1))
	sched_held=$(squeue -h -r -t all -o %i 2>/dev/null | wc -l | tr -d ' ')
	[ -n "$sched_indices" ] && [ -n "$sched_max_jobs" ]
}
# Slurm's defaults, for a plan made where the controller cannot be asked.
SCHED_DEFAULT_INDICES=1001 SCHED_DEFAULT_MAX_JOBS=9999
SCHED_LIMITS_NAMES="MaxArraySize MaxJobCount"

# sbatch_word VALUE: sets $w to VALUE as one argument of an #SBATCH line.
sbatch_word() {
	case $1 in
	*[!A-Za-z0-9_./:=@%+,-]*) w=\"$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')\" ;;
	*) w=$1 ;;
	esac
}

# sched_header STAGE ARRAY: the script's directives from the stage's
# resources (r_cpus, r_ntasks, r_time, r_mem, r_gres, r_partition,
# r_account, r_qos, r_constraint, r_mail_type, r_mail_user, and r_extra: a
# sbatch option a line) and its log under WORK/logs
# (<stage>_<job>_<task>.log for an array, <stage>_<job>.log otherwise).
sched_header() {
	# A literal % in a file name pattern is %%.
	_log="$(printf '%s' "$WORK" | sed 's/%/%%/g')/logs/$1_%j.log"
	[ "$2" = 0 ] || _log="${_log%_%j.log}_%A_%a.log"
	echo "#SBATCH --job-name=arepo-$1"
	sbatch_word "--output=$_log"
	echo "#SBATCH $w"
	echo "#SBATCH --cpus-per-task=$r_cpus"
	[ "$r_ntasks" -le 1 ] || echo "#SBATCH --ntasks=$r_ntasks"
	for _o in time mem gres partition account qos constraint mail-type mail-user; do
		eval "_v=\$r_$(echo $_o | tr - _)"
		[ -z "$_v" ] || { sbatch_word "--$_o=$_v"; echo "#SBATCH $w"; }
	done
	printf '%s\n' "$r_extra" | while IFS= read -r _o; do
		[ -z "$_o" ] || { sbatch_word "$_o"; echo "#SBATCH $w"; }
	done
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

# The submission script (WORK/slurm/submit.sh), what arepo-submit runs: its
# beginning, then a line per job (array) from sched_submit_line.
sched_submit_prologue() { # DIR
	cat <<EOF
# Each line submits one job (array) with sbatch and records "STAGE ID OFFSET
# LAYER GROUP CHUNK" in jobs.part; when sbatch refuses one, the jobs
# submitted before it are cancelled.
set -u
cd $(shq "$1") || exit 1
: >jobs.part
submit() { # NAME SBATCH-OPTION... -- SCRIPT [OFFSET LAYER GROUP CHUNK]
	_name=\$1 _options=
	shift
	while [ "\$1" != -- ]; do _options="\$_options \$1"; shift; done
	shift
	if ! _id=\$(sbatch --parsable --kill-on-invalid-dep=yes \$_options "\$@"); then
		_ids=\$(awk '{ print \$2 }' jobs.part)
		[ -z "\$_ids" ] || scancel \$_ids
		echo "arepo-submit: sbatch refused the \${1%.sh} job; the \$(echo \$_ids | wc -w) submitted before it are cancelled" >&2
		exit 1
	fi
	_id=\${_id%%;*}
	eval "\$_name=\\\$_id"
	echo "\${1%.sh} \$_id \${2-} \${3-} \${4-} \${5-}" | sed 's/ *\$//' >>jobs.part
}
EOF
}

# sched_submit_line NAME ARRAY THROTTLE DEPENDENCIES SCRIPT [ARG...]: the
# line that submits SCRIPT with ARGs; ARRAY: its indices ("0-10,12"), - for
# one job; THROTTLE: at most that many tasks at once, - for no limit;
# DEPENDENCIES: words afterok:NAME (after every task of NAME succeeded),
# aftercorr:NAME (task n after task n of NAME) and afterany:NAME (after
# NAME ended). Slurm cancels a job when one it depends on fails, so the
# chain stops where it fails.
sched_submit_line() {
	_line="submit $1"
	[ "$2" = - ] || _line="$_line --array=$2"
	[ "$3" = - ] || _line="$_line%$3"
	if [ -n "$4" ]; then
		_line="$_line --dependency=$(printf '%s\n' $4 | sed 's/:/:$/' | paste -sd, -)"
	fi
	shift 4
	echo "$_line -- $*"
}

sched_cancel() { # ID...
	scancel "$@"
}

# sched_tasks ID...: one line per task of the jobs the scheduler still
# knows: "JOB TASK STATE" (TASK - for a job without array).
sched_tasks() {
	[ $# -gt 0 ] || return 0
	squeue -h -r -t all -j "$(echo "$@" | tr ' ' ,)" -o '%F %K %T' 2>/dev/null |
		awk '{ print $1, ($2 == "N/A" ? "-" : $2), tolower($3) }'
}

# sched_failures ID...: one line per task that failed or was killed
# running: "JOB TASK STATE EXIT LOG-STAGE" (TASK - for a job without array;
# EXIT the exit code, or the signal that killed it as sig15).
sched_failures() {
	for _id; do
		scontrol -o show job "$_id" 2>/dev/null
	done | awk '{
		state = exitcode = job = task = ""
		for (i = 1; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "JobState") state = kv[2]
			else if (kv[1] == "ExitCode") exitcode = kv[2]
			else if (kv[1] == "JobId" && job == "") job = kv[2]
			else if (kv[1] == "ArrayJobId") job = kv[2]
			else if (kv[1] == "ArrayTaskId") task = kv[2]
			else if (kv[1] == "JobName") name = kv[2]
		}
		split(exitcode, ec, ":")
		if (state == "CANCELLED" && ec[2] != 0) state = "KILLED"
		else if (state !~ /^(FAILED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)$/) next
		sub(/^arepo-/, "", name)
		print job, (task == "" ? "-" : task), tolower(state), (ec[2] != 0 ? "sig" ec[2] : ec[1]), name
	}'
}

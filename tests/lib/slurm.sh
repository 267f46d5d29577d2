# A real single-node Slurm for the tests (sourced after tap.sh): munged,
# slurmctld and slurmd with proctrack/linuxproc and task/none, state and
# logs under the scratch directory, free ports; all stopped at exit, even on
# failure. Exports SLURM_CONF. SLURM_MAX_ARRAY_SIZE and SLURM_MAX_JOB_COUNT,
# when set, are the controller's MaxArraySize and MaxJobCount;
# restart_slurm starts it again without the jobs it held.

SLURM_DIR="$SCRATCH/slurm"

start_slurm() {
	[ "$(id -u)" = 0 ] || return 1
	for d in munged slurmctld slurmd; do command -v /usr/sbin/$d >/dev/null 2>&1 || return 1; done
	rm -rf "$SLURM_DIR"
	mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/spool"
	dd if=/dev/urandom of="$SLURM_DIR/munge.key" bs=1024 count=1 2>/dev/null
	chmod 400 "$SLURM_DIR/munge.key"
	/usr/sbin/munged -f --key-file="$SLURM_DIR/munge.key" -S "$SLURM_DIR/munge.socket" \
		--log-file="$SLURM_DIR/munged.log" --pid-file="$SLURM_DIR/munged.pid" \
		--seed-file="$SLURM_DIR/munged.seed" || return 1
	local port=$((21000 + RANDOM % 2000)) host
	host=$(hostname)
	cat >"$SLURM_DIR/slurm.conf" <<CONF
ClusterName=arepotest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$SLURM_DIR/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/slurmctld.log
SlurmdLogFile=$SLURM_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
${SLURM_MAX_ARRAY_SIZE:+MaxArraySize=$SLURM_MAX_ARRAY_SIZE}
${SLURM_MAX_JOB_COUNT:+MaxJobCount=$SLURM_MAX_JOB_COUNT}
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
# Start a job as soon as its dependencies are met, not seconds later.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
	export SLURM_CONF="$SLURM_DIR/slurm.conf"
	trap 'stop_slurm; rm -rf "$SCRATCH"' EXIT
	/usr/sbin/slurmctld -f "$SLURM_CONF" || return 1
	/usr/sbin/slurmd -f "$SLURM_CONF" || return 1
	local i
	for i in $(seq 100); do
		sinfo -h -o %t 2>/dev/null | grep -q idle && return 0
		sleep 0.2
	done
	return 1
}

stop_slurm() {
	scancel --quiet --user "$(id -un)" 2>/dev/null
	local f i
	for f in slurmd slurmctld munged; do
		[ -f "$SLURM_DIR/$f.pid" ] && kill "$(cat "$SLURM_DIR/$f.pid")" 2>/dev/null
	done
	for i in $(seq 50); do
		slurm_alive || return 0
		sleep 0.1
	done
}

slurm_alive() {
	local f
	for f in slurmd slurmctld munged; do
		[ -f "$SLURM_DIR/$f.pid" ] && kill -0 "$(cat "$SLURM_DIR/$f.pid")" 2>/dev/null && return 0
	done
	return 1
}

restart_slurm() {
	stop_slurm
	start_slurm
}

# Waits until arepo-status succeeds or nothing of the chain is pending or
# running any more; at most $1 seconds.
wait_chain() {
	local work=$1 limit=$2 i
	for i in $(seq $((2 * limit))); do
		arepo-status "$work" >/dev/null 2>&1 && return 0
		squeue -h 2>/dev/null | grep -q . || { sleep 0.5; arepo-status "$work" >/dev/null 2>&1; return; }
		sleep 0.5
	done
	return 1
}

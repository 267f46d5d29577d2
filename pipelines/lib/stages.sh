# The pipeline's stages, described once: each stage's unit (the run, a
# snapshot or a view), the files it reads and writes under WORK, its command,
# and the settings a run records in WORK/pipeline.env. Sourced (POSIX sh) by
# lib/stage, which make's generated rules and the job scripts call, and by
# arepo-submit and arepo-status. See arepo-pipeline(7), "Changing the pipeline".
#
# Functions that name something set a variable ($out, $unit...) instead of
# printing it, so that loops over 100 000 views fork nothing.

# The settings of a run, in WORK/pipeline.env; every driver sets them all.
PIPELINE_SETTINGS="WORK CONFIG SOURCE OBSERVE KEEP_PHYSICAL VIEWS CACHE_SLOTS MPI_RANKS
 INTERP_BACKEND OBSERVE_BACKEND GPU_LOCKS THREADS SSH_OPTIONS EXTRACT_OPTIONS INTERP_OPTIONS OBSERVE_OPTIONS BIN"
# What the pipeline makes under WORK (FORCE=1 removes them, nothing else).
PIPELINE_FILES="snapshots.txt rules.mk pipeline.env config.json stamps cache views tensors
 obsgrids.h5 observed dataset gpu-locks logs slurm"

# The active stages after the list, in order, one "stage after" line each:
# after names the stages whose outputs it reads (comma separated, - for none).
pipeline_stages() {
	echo "fetch -"
	echo "extract fetch"
	echo "interp extract"
	case $OBSERVE in
	none) echo "merge interp" ;;
	simple) echo "observe interp"; echo "merge observe" ;;
	*) echo "grids -"; echo "observe interp,grids"; echo "merge observe" ;;
	esac
	echo "normalize merge"
}

# stage_unit STAGE: sets $unit to what the stage runs once for: the run, a
# snapshot or a view.
stage_unit() {
	case $1 in
	fetch | extract) unit=snapshot ;;
	interp | observe) unit=view ;;
	*) unit=run ;;
	esac
}

# One line per stage, for --list-stages and the manual.
stage_descriptions() {
	cat <<'EOF'
list       the snapshots to use, once, on the host that starts the run (arepo-list)
fetch      per snapshot: a local copy in WORK/cache, at most CACHE_SLOTS at once (arepo-fetch)
extract    per snapshot, after its fetch: one view file per observer (arepo-extract)
interp     per view, after its snapshot's extract: the tensor (arepo-interp)
grids      once, with OBSERVE other than none and simple: the observability grids (arepo-observe)
observe    per view, with OBSERVE, after its tensor and the grids: the observed file (arepo-observe)
merge      once, after every tensor (or observed file): the dataset (arepo-merge)
normalize  once, after merge: the dataset in IRIS units (arepo-normalize)
EOF
}

# stage_output STAGE [I [K]]: sets $out to the file STAGE makes for snapshot
# I (numbered by its line in snapshots.txt) or view K of it, under WORK.
stage_output() {
	case $1 in
	list) out=snapshots.txt ;;
	fetch) out=stamps/fetched_$2 ;;
	extract) out=stamps/extracted_$2 ;;
	interp) out=tensors/$2_view$3.h5 ;;
	grids) out=obsgrids.h5 ;;
	observe) out=observed/$2_view$3.h5 ;;
	merge) out=dataset/dataset.h5 ;;
	normalize) out=dataset/.normalized ;;
	*) out= ; return 1 ;;
	esac
}

# The stage that consumes (and may remove) STAGE's output of the same unit:
# an evicted snapshot's fetch, an observed view's tensor are done.
stage_consumer() {
	case $1 in
	fetch) consumer=extract ;;
	interp) [ "$OBSERVE" = none ] && consumer= || consumer=observe ;;
	*) consumer= ;;
	esac
}

# unit_done STAGE I K: STAGE's output for this unit is there, or the stage
# that consumes it is done with it.
unit_done() {
	stage_output "$1" "${2-}" "${3-}"
	[ -e "$WORK/$out" ] && return 0
	stage_consumer "$1"
	[ -n "$consumer" ] && unit_done "$consumer" "${2-}" "${3-}"
}

# each_unit UNIT FUNCTION: calls FUNCTION I K TASK for every snapshot
# (K empty) or every view, in task order.
each_unit() {
	_eu_n=$(snapshot_count)
	_eu_i=1
	while [ $_eu_i -le "$_eu_n" ]; do
		if [ "$1" = snapshot ]; then
			"$2" $_eu_i "" $_eu_i
		else
			_eu_k=0
			while [ $_eu_k -lt "$VIEWS" ]; do
				"$2" $_eu_i $_eu_k $(((_eu_i - 1) * VIEWS + _eu_k))
				_eu_k=$((_eu_k + 1))
			done
		fi
		_eu_i=$((_eu_i + 1))
	done
}

# missing_units: what is to be made, one line per unit, "STAGE I [K]", in
# task order, and "STAGE" for a stage that runs once and is to run (merge
# and normalize until the dataset is normalized): what arepo-submit plans.
missing_units() {
	for _mu_stage in $(pipeline_stages | awk '{ print $1 }'); do
		stage_unit "$_mu_stage"
		case $unit in
		run) unit_done "$_mu_stage" || echo "$_mu_stage" ;;
		*) each_unit "$unit" print_if_missing ;;
		esac
	done
}
print_if_missing() { unit_done "$_mu_stage" "$1" "$2" || echo "$_mu_stage $1${2:+ $2}"; }

# Bundles: what one array task of a scheduler chain makes. The snapshots
# are cut into groups of G, group E (from 0) holding snapshots E*G+1 to
# (E+1)*G; a bundle of a stage per snapshot is a group, a bundle of a stage
# per view is chunk L (from 0) of C views of a group, its views in task
# order. arepo-submit chooses G and C (lib/plan.awk); see arepo-submit(1).

# bundle_units STAGE E L G C FUNCTION: calls FUNCTION I K for each unit of
# the bundle (K empty for a snapshot).
bundle_units() {
	stage_unit "$1"
	_bu_n=$(snapshot_count)
	_bu_first=$(($2 * $4 + 1))
	_bu_last=$((($2 + 1) * $4))
	[ $_bu_last -le "$_bu_n" ] || _bu_last=$_bu_n
	if [ "$unit" = snapshot ]; then
		_bu_i=$_bu_first
		while [ $_bu_i -le $_bu_last ]; do
			"$6" $_bu_i ""
			_bu_i=$((_bu_i + 1))
		done
	else
		_bu_q=$(($3 * $5))
		_bu_end=$((($3 + 1) * $5))
		_bu_size=$(((_bu_last - _bu_first + 1) * VIEWS))
		[ $_bu_end -le $_bu_size ] || _bu_end=$_bu_size
		while [ $_bu_q -lt $_bu_end ]; do
			"$6" $((_bu_first + _bu_q / VIEWS)) $((_bu_q % VIEWS))
			_bu_q=$((_bu_q + 1))
		done
	fi
}

# stage_bundle STAGE E L G C: runs STAGE for each unit of the bundle not
# done yet, in order, and on past a failure (what is made stays made); one
# line per unit in the task's log, "# unit STAGE I K made in S s" (K - for a
# snapshot), from which arepo-submit measures a unit's cost. Returns the
# status of the first failure.
stage_bundle() {
	_sb_stage=$1 _sb_rc=0 _sb_made=0 _sb_before=0 _sb_failed=0
	bundle_units "$@" bundle_unit
	echo "# bundle $1 $2 $3 of $4 snapshots, $5 views: $_sb_made made, $_sb_before done before, $_sb_failed failed"
	return $_sb_rc
}
print_unit() { echo "$1${2:+ $2}"; }
bundle_unit() {
	if unit_done "$_sb_stage" "$1" "$2"; then
		_sb_before=$((_sb_before + 1))
		return 0
	fi
	_sb_t=$(date +%s%N)
	_rc=0
	# A subshell: a stage's traps (extract's winddown) end with its unit.
	(stage_run "$_sb_stage" "$1" "$2") || _rc=$?
	_sb_t=$((($(date +%s%N) - _sb_t) / 1000000))
	_sb_t=$((_sb_t / 1000)).$(printf '%03d' $((_sb_t % 1000)))
	if [ $_rc = 0 ]; then
		echo "# unit $_sb_stage $1 ${2:--} made in $_sb_t s"
		_sb_made=$((_sb_made + 1))
	else
		echo "# unit $_sb_stage $1 ${2:--} failed (exit $_rc) after $_sb_t s"
		_sb_failed=$((_sb_failed + 1))
		[ $_sb_rc != 0 ] || _sb_rc=$_rc
	fi
}

# stage_progress STAGE: sets $done and $expected, for arepo-status.
stage_progress() {
	done=0 expected=0 _sp_stage=$1
	stage_unit "$1"
	if [ "$unit" = run ]; then
		expected=1
		stage_output "$1"
		[ ! -e "$WORK/$out" ] || done=1
	else
		each_unit "$unit" count_done
	fi
}
count_done() {
	expected=$((expected + 1))
	! unit_done "$_sp_stage" "$1" "$2" || done=$((done + 1))
}

snapshot_count() {
	if [ -s "$WORK/snapshots.txt" ]; then wc -l <"$WORK/snapshots.txt" | tr -d ' '; else echo 0; fi
}

# SOURCE=user@host:dir is remote (a colon before any slash, as for scp);
# anything else, ./a:b included, is a local directory.
source_parts() {
	case $SOURCE in
	[!/]*:*) case ${SOURCE%%:*} in */*) remote= ;; *) remote=${SOURCE%%:*} ;; esac ;;
	*) remote= ;;
	esac
	if [ -n "$remote" ]; then source_dir=${SOURCE#*:}; else source_dir=$SOURCE; fi
}

# Runs a tool, or with STAGE_SHOW=1 only prints its command line; with
# STAGE_ECHO=1 prints it first (make's recipes and the job logs do).
x() {
	echo_command "$@" || return 0
	"$@"
}

# x, with stdout to OUTPUT, renamed into place only when the tool succeeded.
x_to() { # OUTPUT COMMAND...
	_target=$1
	shift
	echo_command "$@" || return 0
	rm -f "$_target.part"
	"$@" >"$_target.part" || { _rc=$?; rm -f "$_target.part"; return $_rc; }
	mv "$_target.part" "$_target"
}

echo_command() { # COMMAND...: false when it is only to be shown
	if [ "${STAGE_SHOW:-0}" = 1 ] || [ "${STAGE_ECHO:-0}" = 1 ]; then
		_line=
		for _a; do
			quote "$_a"
			_line="$_line $q"
		done
		printf '%s\n' "${_line# }"
	fi
	[ "${STAGE_SHOW:-0}" != 1 ]
}

quote() { # WORD: sets $q to it quoted for sh, when it needs it
	case $1 in
	'' | *[!A-Za-z0-9_./:=@%+,-]*) q="'$(printf '%s' "$1" | sed "s/'/'\\\\''/g")'" ;;
	*) q=$1 ;;
	esac
}

shq() { quote "$1"; printf '%s' "$q"; }

# stage_run STAGE [I [K]]: runs STAGE for its unit with the loaded settings.
# The same command whichever driver calls it; what a driver adds is only
# AREPO_TASK_CPUS, the CPUs a scheduler gave the task (else THREADS).
stage_run() {
	source_parts
	remote_options=
	[ -z "$remote" ] || remote_options="--remote $remote $SSH_OPTIONS"
	threads=${AREPO_TASK_CPUS:-$THREADS}
	show=${STAGE_SHOW:-0}
	stage_output "$1" "${2-}" "${3-}" || { echo "${PROG:-stage}: unknown stage $1" >&2; return 2; }
	target=$WORK/$out
	# The *_OPTIONS settings are split into words, never globbed.
	set -f
	case $1 in
	list)
		x_to "$target" "${BIN}arepo-list" $remote_options --config "$CONFIG" -- "$source_dir" ;;
	fetch)
		[ "$show" = 1 ] || mkdir -p "$WORK/stamps" "$WORK/cache"
		path=$(sed -n "$2p" "$WORK/snapshots.txt")
		x_to "$target" "${BIN}arepo-fetch" $remote_options --cache "$WORK/cache" -- "$path" ;;
	extract)
		if [ "$show" = 1 ]; then snapshot=SNAPSHOT; else snapshot=$(cat "$WORK/stamps/fetched_$2"); fi
		launcher=
		[ "$MPI_RANKS" -le 1 ] || launcher="mpirun -n $MPI_RANKS"
		# IRIS's winddown: a fetched snapshot leaves the cache however this
		# ends (its fetch is then to be done again, if needed).
		if [ -n "$remote" ] && [ "$show" != 1 ]; then
			evict_on_exit=$2
			trap 'winddown' EXIT
			trap 'exit 143' TERM
			trap 'exit 130' INT
		fi
		x_to "$target" $launcher "${BIN}arepo-extract" --config "$CONFIG" $EXTRACT_OPTIONS \
			--out "$WORK/views" --print-dirs "$snapshot" ;;
	interp)
		if [ "$show" = 1 ]; then views=VIEWDIR; else views=$(cat "$WORK/stamps/extracted_$2"); mkdir -p "$WORK/tensors"; fi
		lock=
		case $INTERP_BACKEND in auto | cuda) lock=$GPU_LOCKS ;; esac
		x "${BIN}arepo-interp" --backend "$INTERP_BACKEND" ${lock:+--gpu-lock "$lock"} \
			${threads:+--threads "$threads"} $INTERP_OPTIONS "$views/view_$3.h5" "$target" ;;
	grids)
		x "${BIN}arepo-observe" --config "$CONFIG" ${threads:+--threads "$threads"} --build-grids "$target" ;;
	observe)
		stage_output interp "$2" "$3"
		tensor=$WORK/$out
		grids=
		[ "$OBSERVE" = simple ] || grids=$WORK/obsgrids.h5
		# A pair that exists is never made again: arepo-observe keeps it
		# once it has checked that it is an observed file (even without its
		# tensor), and only then does the tensor go.
		[ "$show" = 1 ] || mkdir -p "$WORK/observed"
		lock=
		case $OBSERVE_BACKEND in auto | cuda) lock=$GPU_LOCKS ;; esac
		x "${BIN}arepo-observe" --backend "$OBSERVE_BACKEND" ${lock:+--gpu-lock "$lock"} \
			--config "$CONFIG" --mode "$OBSERVE" ${grids:+--grids "$grids"} \
			${threads:+--threads "$threads"} $OBSERVE_OPTIONS "$tensor" "$target" || return
		[ "$KEEP_PHYSICAL" = 1 ] || [ "$show" = 1 ] || rm -f "$tensor" ;;
	merge)
		from=$(pipeline_stages | awk '$1 == "merge" { print $2 }')
		[ "$(snapshot_count)" -gt 0 ] || { echo "${PROG:-stage}: $WORK/snapshots.txt: no snapshot listed" >&2; return 1; }
		sweep_tensors
		# What the stage before made, every view, in task order; in
		# batches that fit a command line (the catalog, the shuffle and
		# the units come out as from a single merge).
		_mi_from=$from
		_list=$(mktemp "${TMPDIR:-/tmp}/arepo-merge.XXXXXX")
		each_unit view print_merge_input >"$_list"
		set -- "${BIN}arepo-merge" --link --skip-existing -o "$WORK/dataset"
		if [ "${STAGE_SHOW:-0}" = 1 ] || [ "${STAGE_ECHO:-0}" = 1 ]; then
			echo_command "$@" "$(head -n 1 "$_list")" >"$_list.echo" || :
			printf '%s ... (%s inputs)\n' "$(cat "$_list.echo")" "$(wc -l <"$_list" | tr -d ' ')"
			rm -f "$_list.echo"
		fi
		if [ "$show" = 1 ]; then rm -f "$_list"; return 0; fi
		# xargs keeps neither a command's exit status nor quiet: the batch
		# writes its status, and only the tool's messages are shown.
		_rc=0
		xargs -d '\n' -s "${AREPO_MERGE_BATCH:-500000}" -a "$_list" sh -c '"$@" 2>&3 || { echo $? >"$0"; exit 255; }' \
			"$_list.rc" "$@" 3>&2 2>/dev/null || _rc=$(cat "$_list.rc" 2>/dev/null || echo 1)
		rm -f "$_list" "$_list.rc"
		[ "$_rc" = 0 ] || return "$_rc"
		touch "$target" ;;
	normalize)
		x "${BIN}arepo-normalize" "$WORK/dataset" || return
		[ "$show" = 1 ] || touch "$target" ;;
	esac
}

print_merge_input() {
	stage_output "$_mi_from" "$1" "$2"
	printf '%s\n' "$WORK/$out"
}

winddown() {
	"${BIN}arepo-fetch" --cache "$WORK/cache" --evict "$snapshot" || :
	rm -f "$WORK/stamps/fetched_$evict_on_exit"
}

# Tensors whose observed file is committed, left by an observe task killed
# between the commit and the removal; at the start of a run and at merge.
sweep_tensors() {
	[ "$OBSERVE" != none ] && [ "$KEEP_PHYSICAL" != 1 ] && [ "${STAGE_SHOW:-0}" != 1 ] && [ -d "$WORK/tensors" ] || return 0
	case $- in *f*) _noglob=1 ;; *) _noglob=0 ;; esac
	set +f
	for _t in "$WORK"/tensors/*_view*.h5; do
		_v=${_t##*/}
		[ -e "$WORK/observed/$_v" ] || continue
		_v=${_v%.h5}
		(STAGE_ECHO=0; stage_run observe "${_v%_view*}" "${_v##*_view}") >/dev/null 2>&1 || :
	done
	[ $_noglob = 0 ] || set -f
}

# Make's rules for every stage and unit, from the settings and snapshots.txt
# (arepo.mk includes them as WORK/rules.mk): paths relative to WORK, where
# that make runs, recipes "$(STAGE) run . STAGE [I [K]]", a goal per stage
# and its targets in the make variable STAGE_targets (built by make from
# stage_output's names: appending 100 000 words one by one is quadratic).
stage_rules() {
	echo "# Made by lib/stage from pipeline.env and snapshots.txt: the rules of arepo.mk."
	echo "SNAPSHOTS := $(seq -s ' ' 1 "$(snapshot_count)")"
	echo "VIEWS := $(seq -s ' ' 0 $((VIEWS - 1)))"
	pipeline_stages | while read -r _r_stage _r_after; do
		_r_after=$(echo "$_r_after" | tr ',-' '  ')
		stage_unit "$_r_stage"
		case $unit in
		run) stage_output "$_r_stage"; _list=$out ;;
		snapshot) stage_output "$_r_stage" % ""; _list="\$(SNAPSHOTS:%=$out)" ;;
		view) stage_output "$_r_stage" '$(i)' %; _list="\$(foreach i,\$(SNAPSHOTS),\$(VIEWS:%=$out))" ;;
		esac
		printf '%s_targets := %s\n' "$_r_stage" "$_list"
		if [ "$unit" = run ]; then stage_rule "" "" ""; else each_unit "$unit" stage_rule; fi
		printf '%s: $(%s_targets)\n' "$_r_stage" "$_r_stage"
		# Never removed by an interrupted make: each is renamed into place
		# complete by its tool, and a pair just committed must stay.
		printf '.PRECIOUS: $(%s_targets)\n' "$_r_stage"
	done
}

stage_rule() { # I K TASK: the rule of stage $_r_stage, after $_r_after
	stage_output "$_r_stage" "$1" "$2"
	_target=$out
	prereq= order=
	# A snapshot is fetched only once the one CACHE_SLOTS before it is
	# extracted: the cache holds at most CACHE_SLOTS of them.
	if [ "$_r_stage" = fetch ] && [ "$1" -gt "$CACHE_SLOTS" ]; then
		stage_output extract $(($1 - CACHE_SLOTS))
		order=" $out"
	fi
	for _a in $_r_after; do
		stage_unit "$_a"
		if [ -z "$1" ] && [ "$unit" != run ]; then
			# Once per run, after every unit of a stage.
			prereq="$prereq \$(${_a}_targets)"
		else
			stage_output "$_a" "$1" "$2"
			# The grids are needed before, but a newer grid file does
			# not make a committed pair old.
			if [ "$_a" = grids ]; then order="$order $out"; else prereq="$prereq $out"; fi
		fi
	done
	printf '%s:%s%s\n\t@$(STAGE) run . %s%s%s\n' "$_target" \
		"$prereq" "${order:+ |$order}" "$_r_stage" "${1:+ $1}" "${2:+ $2}"
}

# Before make runs in WORK: the list, once, and the rules, when the list or
# the settings are newer.
stage_prepare() {
	[ -s "$WORK/snapshots.txt" ] || { (stage_run list) || return; }
	[ "${STAGE_SHOW:-0}" != 1 ] || return 0
	sweep_tensors
	if [ ! -f "$WORK/rules.mk" ] || [ "$WORK/snapshots.txt" -nt "$WORK/rules.mk" ] ||
		[ "$WORK/pipeline.env" -nt "$WORK/rules.mk" ]; then
		stage_rules >"$WORK/rules.mk.part"
		mv "$WORK/rules.mk.part" "$WORK/rules.mk"
	fi
}

# Settings: written to and read from WORK/pipeline.env as sh assignments.
load_settings() { # WORK
	if [ ! -f "$1/pipeline.env" ]; then
		echo "${PROG:-stage}: $1/pipeline.env: cannot read the run's settings (No such file or directory)" >&2
		return 2
	fi
	# shellcheck disable=SC1090,SC1091
	. "$1/pipeline.env"
}

write_settings() { # FILE: rewritten only when they changed (make's rules depend on it)
	{
		echo "# The settings of this pipeline run, read by every stage (see arepo-pipeline(7))."
		for _v in $PIPELINE_SETTINGS; do
			eval "_val=\${$_v-}"
			printf '%s=%s\n' "$_v" "$(shq "$_val")"
		done
	} >"$1.part"
	if cmp -s "$1.part" "$1"; then rm -f "$1.part"; else mv "$1.part" "$1"; fi
}

# "section.key<TAB>value" lines of a configuration as arepo-config prints it
# (one key a line, arrays over several).
config_keys() {
	awk '
	function flush() { sub(/,$/, "", value); print name "\t" value; name = "" }
	{
		s = $0
		gsub(/"([^"\\]|\\.)*"/, "\"\"", s)
		line = $0
		sub(/^[ \t]+/, "", line)
		if (name == "" && match(line, /^"([^"\\]|\\.)*": /)) {
			key = substr(line, 2, RLENGTH - 4)
			rest = substr(line, RLENGTH + 1)
			if (depth == 1 && rest == "{") section = key "."
			else { name = (depth == 1 ? "" : section) key; value = rest; start = depth }
		} else if (name != "") value = value " " line
		depth += gsub(/[[{]/, "", s) - gsub(/[]}]/, "", s)
		if (name != "" && depth == start) flush()
	}' "$1"
}

# The keys whose values differ between two configurations, comma separated.
config_differences() { # OLD NEW
	{ config_keys "$1" | sed 's/^/o	/'; config_keys "$2" | sed 's/^/n	/'; } | awk -F '\t' '
	!($2 in seen) { seen[$2]; order[++n] = $2 }
	$1 == "o" { old[$2] = $3; inold[$2] }
	$1 == "n" { new[$2] = $3; innew[$2] }
	END {
		for (j = 1; j <= n; j++) {
			k = order[j]
			if (!(k in inold) || !(k in innew) || old[k] != new[k]) { printf "%s%s", sep, k; sep = ", " }
		}
	}'
}

# Whether the configuration asks for observed pairs: its file sets
# observer_hyper.mode (the only key of that name a valid configuration can
# hold). OBSERVE then defaults to that mode, else to none.
config_observe_default() { # CONFIG: sets $observe_default
	observe_default=none
	tr -d ' \t\r\n' <"$1" | grep -q '"mode":"' || return 0
	_mode=$("${BIN}arepo-config" --config "$1" observer_hyper.mode) || return 2
	case $_mode in
	'"optically thick"' | '"thick"') observe_default=thick ;;
	'"optically thin"' | '"thin"') observe_default=thin ;;
	'"selectively thin"' | '"selthin"') observe_default=selthin ;;
	'"simple"') observe_default=simple ;;
	esac
}

# How a setting is named to the user: make's variable or arepo-submit's option.
setting_name() {
	name=$1
	[ "$DRIVER" != make ] || return 0
	case $1 in
	WORK) name=--work ;; CONFIG) name=--config ;; SOURCE) name=--source ;;
	OBSERVE) name=--observe ;; CACHE_SLOTS) name=--cache-slots ;; MPI_RANKS) name=--ntasks ;;
	INTERP_BACKEND) name=--backend ;; OBSERVE_BACKEND) name=--observe-backend ;; THREADS) name=--cpus-per-task ;; BIN) name=PATH ;;
	esac
}

setup_die() { # STATUS MESSAGE
	echo "$PROG: $2" >&2
	exit "$1"
}

bad_setting() { # VAR WHY
	setting_name "$1"
	eval "_val=\${$1-}"
	if [ "$DRIVER" = make ]; then setup_die 2 "$name=$_val: $2"; else setup_die 2 "$name $_val: $2"; fi
}

# pipeline_setup: checks the settings (the shell variables PIPELINE_SETTINGS
# names, with DRIVER, PROG, FORCE and DRY), compares the run with the one
# WORK records, starts over with FORCE=1, and records the settings in
# WORK/pipeline.env and the effective configuration in WORK/config.json.
pipeline_setup() {
	for _v in CONFIG WORK SOURCE; do
		eval "_val=\${$_v-}"
		setting_name $_v
		if [ -z "$_val" ]; then
			if [ "$DRIVER" = make ]; then setup_die 2 "$_v=... is required (see arepo-pipeline(7))"; fi
			setup_die 2 "$name is required"
		fi
		case $_val in *'
'*) setup_die 2 "$name: a name with a newline is not supported" ;; esac
	done
	if [ ! -f "$CONFIG" ] || [ ! -r "$CONFIG" ]; then
		if [ ! -e "$CONFIG" ]; then _why="No such file or directory"
		elif [ -d "$CONFIG" ]; then _why="Is a directory"
		else _why="Permission denied"; fi
		bad_setting CONFIG "cannot read ($_why)"
	fi
	case $CONFIG in /*) ;; *) CONFIG=$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG") ;; esac
	if [ "${DRY:-0}" != 1 ] || [ -d "$WORK" ]; then
		_why=$(mkdir -p "$WORK" 2>&1) || bad_setting WORK "cannot create (${_why##*: })"
		WORK=$(cd "$WORK" && pwd)
	fi
	source_parts
	[ -n "$remote" ] || case $SOURCE in /*) ;; *) SOURCE=$(pwd)/$SOURCE ;; esac
	case ${BIN:=} in '' | */) ;; *) BIN=$BIN/ ;; esac
	case ${OBSERVE:=} in
	'') config_observe_default "$CONFIG" || exit 2; OBSERVE=$observe_default ;;
	none | thick | thin | selthin | simple) ;;
	*) bad_setting OBSERVE "expected thick, thin, selthin, simple or none" ;;
	esac
	case ${KEEP_PHYSICAL:=0} in 0 | 1) ;; *) bad_setting KEEP_PHYSICAL "expected 0 or 1" ;; esac
	case ${CACHE_SLOTS:=2} in *[!0-9]* | 0) bad_setting CACHE_SLOTS "expected a positive integer" ;; esac
	case ${MPI_RANKS:=1} in *[!0-9]* | 0) bad_setting MPI_RANKS "expected a positive integer" ;; esac
	case ${THREADS:=} in '') ;; *[!0-9]* | 0) bad_setting THREADS "expected a positive integer" ;; esac
	case ${INTERP_BACKEND:=auto} in cpu | auto | cuda) ;; *) bad_setting INTERP_BACKEND "expected cpu, auto or cuda" ;; esac
	case ${OBSERVE_BACKEND:=$INTERP_BACKEND} in cpu | auto | cuda) ;; *) bad_setting OBSERVE_BACKEND "expected cpu, auto or cuda" ;; esac
	: "${GPU_LOCKS=$WORK/gpu-locks}" "${SSH_OPTIONS:=}" "${EXTRACT_OPTIONS:=}" "${INTERP_OPTIONS:=}" "${OBSERVE_OPTIONS:=}"

	# The effective configuration, as every tool reads it.
	_cfg=$(mktemp "${TMPDIR:-/tmp}/arepo-config.XXXXXX")
	"${BIN}arepo-config" --config "$CONFIG" >"$_cfg" || { rm -f "$_cfg"; exit 2; }
	VIEWS=$("${BIN}arepo-config" --config "$CONFIG" writer_hyper.points_per_snapshot)

	# Another run than the one WORK holds: another configuration, SOURCE or OBSERVE.
	_differ=
	if [ -f "$WORK/config.json" ]; then
		_differ=$(config_differences "$WORK/config.json" "$_cfg")
		if [ -f "$WORK/pipeline.env" ]; then
			for _v in SOURCE OBSERVE; do
				eval "_now=\$$_v"
				_was=$(. "$WORK/pipeline.env" && eval "printf '%s' \"\$$_v\"")
				setting_name $_v
				[ "$_was" = "$_now" ] || _differ="${_differ:+$_differ, }$name"
			done
		fi
	fi
	if [ "${FORCE:-0}" = 1 ]; then
		[ "${DRY:-0}" = 1 ] || (cd "$WORK" && rm -rf $PIPELINE_FILES)
	elif [ -n "$_differ" ]; then
		rm -f "$_cfg"
		setting_name WORK
		if [ "$DRIVER" = make ]; then _force=FORCE=1 _work="WORK=$WORK"; else _force=--force _work="--work $WORK"; fi
		setup_die 2 "$_work: made by a run with other settings (differ: $_differ); $_force starts over"
	fi
	if [ "${DRY:-0}" = 1 ] || [ -f "$WORK/config.json" ]; then
		rm -f "$_cfg"
	else
		mv "$_cfg" "$WORK/config.json"
	fi
	[ "${DRY:-0}" = 1 ] || write_settings "$WORK/pipeline.env"
}

# Where the tools are, as BIN: where make install put them (set in the
# installed copy of this file), beside these files in the source tree
# (pipelines/lib -> bin) or in an installation's default layout
# (share/arepo/pipeline/lib -> bin); else empty, PATH.
AREPO_BINDIR_INSTALLED=
default_bin() { # LIBDIR
	for _d in "$AREPO_BINDIR_INSTALLED" "$1/../../bin" "$1/../../../../bin"; do
		if [ -n "$_d" ] && [ -x "$_d/arepo-extract" ]; then
			printf '%s/\n' "$(cd "$_d" && pwd)"
			return
		fi
	done
	echo
}

#!/usr/bin/env bash
# arepo-list and arepo-fetch against a real sshd on 127.0.0.1: listing and
# filters, single- and multi-file snapshots, odd names, host keys, refused
# connections and retries, transfers cut short, concurrent fetches, the
# cache's budget.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/sshd.sh"

if ! start_sshd; then
	skip 1 "cannot start sshd (openssh-server missing? scripts/install-deps installs it)"
	done_testing
	exit
fi
cd "$SCRATCH" || exit 1
A="$SCRATCH/archive"
mkdir -p "$A"
arepo-mksnap -n 5000 --seed 1 "$A/snap_001.hdf5" >/dev/null
arepo-mksnap -n 5000 --seed 2 "$A/snap_002.hdf5" >/dev/null
arepo-mksnap -n 6000 --seed 3 --files 3 "$A/snapdir_003" >/dev/null
arepo-mksnap -n 300000 --seed 4 "$A/snap_004.h5" >/dev/null
touch "$A/notes.txt"
mkdir "$A/other_dir"

run_status arepo-list $SSH_OPTS "$A"
is "$out" "$(arepo-list "$A")" "the remote listing equals the local one"
is "$(printf '%s\n' "$out" | wc -l)" 4 "files ending in .hdf5 or .h5 and snapdir_NNN, nothing else"
run_status arepo-list $SSH_OPTS --min-index 2 --max-index 3 "$A"
is "$out" "$A/snap_002.hdf5
$A/snapdir_003" "index filters"
run_status arepo-list $SSH_OPTS --min-index 7 "$A"
is "$status" 3 "no snapshot in range: exit 3"
like "$err" "no snapshot with an index in \[7, \+inf\]; 4 found outside it" "saying which range and how many are outside"
first=$(arepo-list $SSH_OPTS --total 2 --set seed=5 "$A" | tr '\n' ' ')
again=$(arepo-list $SSH_OPTS --total 2 --set seed=5 "$A" | tr '\n' ' ')
is "$again" "$first" "--total picks reproducibly from the seed"
is "$(printf '%s' "$first" | wc -w)" 2 "and picks 2"

# Fetching.
C="$SCRATCH/cache"
run_status arepo-fetch $SSH_OPTS --cache "$C" "$A/snap_001.hdf5"
is "$out" "$C/snap_001.hdf5" "a single-file snapshot is fetched; its local path printed"
ok "identical" cmp "$A/snap_001.hdf5" "$C/snap_001.hdf5"
run_status arepo-fetch $SSH_OPTS --progress --cache "$SCRATCH/cache-progress" "$A/snap_001.hdf5"
like "$err" "arepo-fetch: [^ ]*snap_001.hdf5: 100%" "--progress: the copy's bytes, to 100%"
run_status arepo-fetch $SSH_OPTS --verify sha256 --cache "$C" "$A/snapdir_003"
is "$out" "$C/snapdir_003" "a multi-file snapshot directory too, with --verify sha256"
ok "identical pieces" diff -r "$A/snapdir_003" "$C/snapdir_003"
ok "the reader reads it" arepo-info --config "$TOP/pipelines/presets/tiny.json" "$C/snapdir_003"
is "$(ls -A "$C" | grep -c part)" 0 "no temporary file left"

# Names that a shell would interpret.
odd_names=("snap with space_010.hdf5" "it's_011.hdf5" '$(touch PWNED)_012.hdf5' '`touch PWNED2`_013.hdf5' "-dash_014.hdf5" "$(printf 'new\nline_015.hdf5')" 'semi;colon&_016.hdf5')
for name in "${odd_names[@]}"; do
	cp "$A/snap_002.hdf5" "$A/$name"
	run_status arepo-fetch $SSH_OPTS --cache "$C" "$A/$name"
	ok "odd name $(printf '%q' "$name"): copied as a name" cmp "$A/snap_002.hdf5" "$C/$name"
done
is "$(ls "$HOME"/PWNED* "$A"/PWNED* PWNED* 2>/dev/null | wc -l)" 0 "nothing was run by a shell"

# Host keys are checked.
cp "$SSH_DIR/known_hosts" known_hosts.good
ssh-keygen -q -t ed25519 -N '' -f impostor
printf '[127.0.0.1]:%s %s\n' "$SSH_PORT" "$(cut -d' ' -f1,2 impostor.pub)" >"$SSH_DIR/known_hosts"
start=$(date +%s)
run_status arepo-fetch $SSH_OPTS --cache "$C" "$A/snap_002.hdf5"
is "$status" 1 "a host key mismatch: exit 1"
like "$err" "Host key verification failed|IDENTIFICATION HAS CHANGED" "with ssh's message"
ok "at once (no retries)" test $(( $(date +%s) - start )) -lt 5
: >"$SSH_DIR/known_hosts"
run_status arepo-fetch $SSH_OPTS --cache "$C" "$A/snap_002.hdf5"
is "$status" 1 "an unknown host key is refused by default"
ok "--accept-new-host-key accepts it" arepo-fetch $SSH_OPTS --accept-new-host-key --cache "$C" "$A/snap_002.hdf5"
ok "and remembers it" grep -q "$(cut -d' ' -f2 "$SSH_DIR/host_key.pub")" "$SSH_DIR/known_hosts"
cp known_hosts.good "$SSH_DIR/known_hosts"

# Permanent failures pass the remote's message on at once.
run_status arepo-fetch $SSH_OPTS --cache "$C" "$A/snap_999.hdf5"
is "$status" 1 "a missing remote file: exit 1"
like "$err" "snap_999.hdf5: No such file or directory" "with the remote's message"
chmod 000 "$A/snap_002.hdf5"
if [ "$(id -u)" != 0 ]; then
	run_status arepo-fetch $SSH_OPTS --cache "$C2" "$A/snap_002.hdf5"
	like "$err" "Permission denied" "an unreadable remote file: permission denied"
fi
chmod 644 "$A/snap_002.hdf5"
run_status arepo-fetch --remote "$SSH_USER@127.0.0.1" --port "$SSH_PORT" --ssh-key impostor \
	--ssh-option "UserKnownHostsFile=$SSH_DIR/known_hosts" --cache "$C" "$A/snap_004.h5"
is "$status" 1 "a refused key: exit 1"
like "$err" "Permission denied" "authentication refused"
run_status arepo-list --remote "$SSH_USER@127.0.0.1" --port "$SSH_PORT" --ssh-key impostor \
	--ssh-option "UserKnownHostsFile=$SSH_DIR/known_hosts" "$A"
like "$status $err" "^1 .*authentication refused.*Permission denied" "arepo-list says so too"

# A transfer cut short is caught by the size check.
run_status arepo-fetch --remote "$SSH_USER@127.0.0.1" --port "$SSH_PORT" --ssh-key "$SSH_DIR/cut_key" \
	--ssh-option "UserKnownHostsFile=$SSH_DIR/known_hosts" --retries 1 --cache cut "$A/snap_004.h5"
is "$status" 1 "a transfer cut short: exit 1"
like "$err" "copied 1000 bytes of [0-9]+ \(cut short\)" "found by the size check"
ok "nothing looks finished" test ! -e cut/snap_004.h5

# Connection refused: retried with backoff, then given up; recovers if sshd returns.
stop_sshd
start=$(date +%s)
run_status arepo-list $SSH_OPTS "$A"
like "$status $err" "^1 .*remote unreachable.*Connection refused" "arepo-list: an unreachable remote, exit 1"
run_status arepo-fetch $SSH_OPTS --retries 2 --cache "$C" "$A/snap_004.h5"
is "$status" 1 "connection refused: exit 1 after the retries"
like "$err" "Connection refused \(after retries\)" "saying so"
is "$(printf '%s\n' "$err" | grep -c 'retrying in')" 2 "after 2 retries with backoff"
(sleep 2; start_sshd) &
run_status arepo-fetch $SSH_OPTS --retries 4 --cache "$C" "$A/snap_004.h5"
wait
is "$status" 0 "when sshd comes back during the retries, the fetch succeeds"
ok "identical" cmp "$A/snap_004.h5" "$C/snap_004.h5"

# Two fetches of one snapshot: one copies, the other waits and reuses it.
arepo-fetch $SSH_OPTS --evict --cache "$C" "$A/snap_004.h5"
ok "--evict removes a cached snapshot" test ! -e "$C/snap_004.h5"
arepo-fetch $SSH_OPTS --log-level info --cache "$C" "$A/snap_004.h5" >one.out 2>one.err &
arepo-fetch $SSH_OPTS --log-level info --cache "$C" "$A/snap_004.h5" >two.out 2>two.err &
wait
is "$(cat one.out) $(cat two.out)" "$C/snap_004.h5 $C/snap_004.h5" "two concurrent fetches both give the path"
is "$(cat one.err two.err | grep -c 'already in the cache')" 1 "only one of them copied it"
ok "identical" cmp "$A/snap_004.h5" "$C/snap_004.h5"

# The cache's budget.
arepo-fetch --evict --cache "$C" "$A/snap_002.hdf5"
used=$(du -sb "$C" | cut -f1)
run_status arepo-fetch $SSH_OPTS --max-cache $((used + 1000)) --cache "$C" "$A/snap_002.hdf5"
is "$status" 1 "--max-cache refuses to overfill the cache"
like "$err" "would fill the cache beyond --max-cache" "saying so"
(sleep 2; arepo-fetch --evict --cache "$C" "$A/snap_004.h5") &
run_status arepo-fetch $SSH_OPTS --max-cache $((used + 1000)) --wait --cache "$C" "$A/snap_002.hdf5"
wait
is "$status" 0 "--wait waits until another snapshot is evicted"

# Local mode: checked and printed.
run_status arepo-fetch --cache "$C" "$A/snap_001.hdf5" "$A/snapdir_003"
is "$out" "$A/snap_001.hdf5
$A/snapdir_003" "without --remote, local paths are checked and printed"
run_status arepo-fetch --cache "$C" "$A/notes.txt"
is "$status" 3 "a local file that is not HDF5: exit 3"
run_status arepo-fetch --cache "$C" "$A/missing.hdf5"
is "$status" 1 "a missing local file: exit 1"

done_testing

# A real OpenSSH server on 127.0.0.1 for the tests (sourced after tap.sh):
# its own host key, user keys and free port; stopped at exit, even on
# failure. Sets SSH_DIR, SSH_PORT, SSH_USER and SSH_OPTS (arguments for the
# arepo tools).

SSH_DIR="$SCRATCH/sshd"

free_port() {
	local port
	for port in $(seq 20000 20500 | shuf 2>/dev/null || seq 20000 20500); do
		(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || { echo $port; return 0; }
	done
	return 1
}

start_sshd() {
	command -v /usr/sbin/sshd >/dev/null 2>&1 || return 1
	mkdir -p "$SSH_DIR"
	[ -f "$SSH_DIR/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/host_key"
	[ -f "$SSH_DIR/user_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/user_key"
	[ -f "$SSH_DIR/cut_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/cut_key"
	# The cut key's transfers stop after 1000 bytes, as a dropped link would.
	cat >"$SSH_DIR/cutter" <<'CUT'
#!/bin/sh
case "$SSH_ORIGINAL_COMMAND" in
"cat -- "*) sh -c "$SSH_ORIGINAL_COMMAND" | head -c 1000 ;;
*) exec sh -c "$SSH_ORIGINAL_COMMAND" ;;
esac
CUT
	chmod 755 "$SSH_DIR/cutter"
	{ cat "$SSH_DIR/user_key.pub"; printf 'command="%s" %s\n' "$SSH_DIR/cutter" "$(cat "$SSH_DIR/cut_key.pub")"; } \
		>"$SSH_DIR/authorized_keys"
	chmod 600 "$SSH_DIR/authorized_keys"
	SSH_PORT=${SSH_PORT:-$(free_port)}
	SSH_USER=$(id -un)
	cat >"$SSH_DIR/sshd_config" <<CONF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $SSH_DIR/host_key
PidFile $SSH_DIR/sshd.pid
AuthorizedKeysFile $SSH_DIR/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel VERBOSE
CONF
	mkdir -p /run/sshd 2>/dev/null
	/usr/sbin/sshd -f "$SSH_DIR/sshd_config" -E "$SSH_DIR/sshd.log" || return 1
	local i
	for i in $(seq 50); do
		(exec 3<>/dev/tcp/127.0.0.1/$SSH_PORT) 2>/dev/null && break
		sleep 0.1
	done
	[ -s "$SSH_DIR/known_hosts" ] ||
		printf '[127.0.0.1]:%s %s\n' "$SSH_PORT" "$(cut -d' ' -f1,2 "$SSH_DIR/host_key.pub")" >"$SSH_DIR/known_hosts"
	SSH_OPTS="--remote $SSH_USER@127.0.0.1 --port $SSH_PORT --ssh-key $SSH_DIR/user_key --ssh-option UserKnownHostsFile=$SSH_DIR/known_hosts"
	# Only the test's own shell cleans up (not a subshell that restarts sshd).
	[ "$BASHPID" != "$$" ] || trap 'stop_sshd; rm -rf "$SCRATCH"' EXIT
}

stop_sshd() {
	[ -f "$SSH_DIR/sshd.pid" ] || return 0
	kill "$(cat "$SSH_DIR/sshd.pid")" 2>/dev/null
	rm -f "$SSH_DIR/sshd.pid"
	local i
	for i in $(seq 50); do
		(exec 3<>/dev/tcp/127.0.0.1/$SSH_PORT) 2>/dev/null || return 0
		sleep 0.1
	done
}

# TAP helpers for the shell integration tests (sourced; run by prove).
# Each test gets a scratch directory removed at exit, even on failure.

set -u
# Tests in tests/ find the top one level up; deeper ones set TAP_TOP.
TOP=$(cd "${TAP_TOP:-$(dirname "$0")/..}" && pwd)
BIN="$TOP/bin"
HELPERS="$TOP/build/tests/helpers"
REAL_DATA="${AREPO_REAL_DATA:-$TOP/../shared/data/arepo-real}"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/arepo-test.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
export PATH="$BIN:$PATH"
# The tests run make themselves: a `make -j test` above them must not lend
# them its job server (make then adds warnings to the messages tested).
unset MAKEFLAGS MFLAGS MAKELEVEL

_tap_n=0
_tap_failed=0

_tap_result() { # pass name
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
}

# ok NAME COMMAND...: passes when COMMAND succeeds.
ok() {
	local name=$1
	shift
	if "$@" >"$SCRATCH/.out" 2>&1; then
		_tap_result 0 "$name"
	else
		_tap_result 1 "$name"
		sed 's/^/#   /' "$SCRATCH/.out" | tail -n 20
	fi
}

# is GOT WANT NAME
is() {
	if [ "$1" = "$2" ]; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		echo "#   got:      '$1'"
		echo "#   expected: '$2'"
	fi
}

# like TEXT PATTERN NAME: TEXT matches the extended regular expression.
like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		echo "#   '$1'"
		echo "#   does not match '$2'"
	fi
}

# run_status CMD...: runs CMD, leaves its exit status in $status, its stdout
# in $out and its stderr in $err.
run_status() {
	"$@" >"$SCRATCH/.stdout" 2>"$SCRATCH/.stderr"
	status=$?
	out=$(cat "$SCRATCH/.stdout")
	err=$(cat "$SCRATCH/.stderr")
}

skip() { # COUNT REASON
	local i
	for i in $(seq "$1"); do
		_tap_n=$((_tap_n + 1))
		echo "ok $_tap_n # skip $2"
	done
}

# A Python 3 with NumPy and h5py (scripts/install-deps installs them).
find_python() {
	local p
	for p in /usr/bin/python3 python3; do
		if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy, h5py' >/dev/null 2>&1; then
			PYTHON=$p
			return 0
		fi
	done
	PYTHON=
	return 1
}

done_testing() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

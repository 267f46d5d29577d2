#!/usr/bin/env bash
# Command lines: --help and --version, usage and configuration errors with
# exit status 2, and man pages that render and match --help.
. "$(dirname "$0")/lib/tap.sh"

cd "$SCRATCH" || exit 1
arepo-mksnap -n 1000 snap.hdf5 >/dev/null

for tool in arepo-mksnap arepo-info arepo-interp arepo-extract arepo-merge arepo-normalize arepo-list arepo-fetch arepo-config arepo-submit arepo-status arepo-preview arepo-observe; do
	run_status "$tool" --help
	is "$status" 0 "$tool --help exits 0"
	like "$out" "^Usage: $tool " "$tool --help starts with its usage"
	run_status "$tool" --version
	like "$out" "^$tool [0-9]+\.[0-9]+\.[0-9]+ " "$tool --version"
	run_status "$tool" --no-such-option
	is "$status" 2 "$tool: an unknown option is a usage error"
	like "$err" "Try '$tool --help'" "$tool: and points at --help"

	page="$TOP/man/man1/$tool.1"
	ok "$tool(1) renders without warnings" sh -c "groff -mandoc -Tutf8 -ww -z '$page' 2>&1 | { ! grep .; }"
	help_opts=$("$tool" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u | tr '\n' ' ')
	man_opts=$(groff -mandoc -Tutf8 "$page" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g; s/.\x08//g' |
		grep -oE -- '--[a-z][a-z-]*' | sort -u | tr '\n' ' ')
	is "$man_opts" "$help_opts" "$tool(1) and --help name the same options"
done
# The C tools: GNU --version, one-line usage errors, getopt's words by name.
for tool in arepo-mksnap arepo-info arepo-interp arepo-extract arepo-merge arepo-normalize arepo-list arepo-fetch arepo-config arepo-preview arepo-observe; do
	run_status "$tool" --version
	is "$(printf '%s\n' "$out" | sed -n 2p)" "arepo-tools $(printf '%s\n' "$out" | sed -n '1s/^[^ ]* \([^ ]*\).*/\1/p')" \
		"$tool --version: the package on the second line"
	run_status "$TOP/bin/$tool" --no-such-option
	is "$status|$err" "2|$tool: unknown or ambiguous option '--no-such-option'. Try '$tool --help' for more information." \
		"$tool: an unknown option in one line, by the tool's name, not its path"
done
for tool in arepo-extract arepo-fetch arepo-merge arepo-normalize arepo-interp arepo-observe; do
	like "$("$tool" --help | grep -c -e '--progress ' -e '--no-progress ' | tr -d ' ')" "^2$" \
		"$tool: --progress and --no-progress"
done
run_status arepo-merge --output
is "$err" "arepo-merge: option '--output' requires an argument. Try 'arepo-merge --help' for more information." \
	"a missing argument: one line naming the option"
run_status arepo-merge --copy=yes -o d x
is "$err" "arepo-merge: option '--copy' takes no argument. Try 'arepo-merge --help' for more information." \
	"an argument to an option without one: one line"
run_status arepo-interp --threads 0 a b
is "$status|$err" "2|arepo-interp: --threads 0: expected 1 to 4096. Try 'arepo-interp --help' for more information." \
	"a bad value: the same one line"
if command -v mandoc >/dev/null; then
	for page in "$TOP"/man/man[157]/*.[157]; do
		ok "mandoc -T lint: $(basename "$page") has no warnings" sh -c "mandoc -T lint -W warning '$page' 2>&1 | { ! grep .; }"
	done
else
	skip "$(ls "$TOP"/man/man[157]/*.[157] | wc -l)" "no mandoc (scripts/install-deps installs it)"
fi
for page in arepo-pipeline arepo-architecture; do
	ok "$page(7) renders without warnings" sh -c "groff -mandoc -Tutf8 -ww -z '$TOP/man/man7/$page.7' 2>&1 | { ! grep .; }"
done
for page in arepo-config arepo-view arepo-tensor arepo-dataset arepo-observed; do
	ok "$page(5) renders without warnings" sh -c "groff -mandoc -Tutf8 -ww -z '$TOP/man/man5/$page.5' 2>&1 | { ! grep .; }"
done

run_status arepo-info
is "$status" 2 "a missing operand is a usage error"
like "$err" "missing SNAPSHOT" "and says so"
run_status arepo-info --config nowhere.json snap.hdf5
is "$status" 2 "a missing configuration file: exit 2"
like "$err" "^arepo-info: nowhere.json: cannot read" "naming it"
printf '{"coordinate_hyper": {"r_steps": "many"}}\n' >bad.json
run_status arepo-info --config bad.json snap.hdf5
is "$status" 2 "a key of the wrong type: exit 2"
like "$err" "bad.json: coordinate_hyper.r_steps must be an integer" "naming the file and the key"
printf '{"coordinate_hyper": {"r_steps": 5,\n' >broken.json
run_status arepo-info --config broken.json snap.hdf5
is "$status" 2 "broken JSON: exit 2"
like "$err" "broken.json:[0-9]+:[0-9]+: not valid JSON" "with the line and column"
run_status arepo-info --set coordinate_hyper.spin_orientation=2 snap.hdf5
is "$status" 2 "an invalid value: exit 2"
like "$err" "coordinate_hyper.spin_orientation must be 1 or -1" "naming the key"
run_status arepo-info --set coordinate_hyper.no_such_key=1 snap.hdf5
is "$status" 2 "--set of an unknown key: exit 2"
like "$err" "unknown key coordinate_hyper.no_such_key" "naming it"
mkdir confdir
run_status arepo-info --config confdir snap.hdf5
like "$err" "^arepo-info: confdir: cannot read: is a directory" "--config DIR: says it is a directory"
printf '{"coordinate_hyper": {"r_step": 5}}\n' >typo.json
run_status arepo-info --config typo.json snap.hdf5
is "$status" 2 "a misspelt key in a file: exit 2"
like "$err" "typo.json: unknown key coordinate_hyper.r_step \(did you mean coordinate_hyper.r_steps\?\)" "naming the file, the key and the nearest known key"
iris_presets="$TOP/../shared/data/iris-hyper"
if [ -d "$iris_presets" ] && find_python; then
	for preset in "$iris_presets"/*.hyper.json; do
		name=$(basename "$preset" .hyper.json)
		ok "IRIS's $name loads and comes back from arepo-config with every key and value" sh -c "
			arepo-config --config '$preset' >'$name.out' &&
			'$PYTHON' - '$preset' '$name.out' <<'EOF'
import json, sys
iris, ours = (json.load(open(p)) for p in sys.argv[1:])
for section, keys in iris.items():
    for key, value in keys.items():
        assert ours[section][key] == value, (section, key, value, ours[section][key])
EOF"
	done
	ok "the project's SEDIGISM preset is IRIS's SEDIGISM_13C16O key for key" "$PYTHON" -c "
import json, sys
a = json.load(open('$TOP/pipelines/presets/sedigism-13co.json'))
b = json.load(open('$iris_presets/SEDIGISM_13C16O.hyper.json'))
assert a == b"
else
	skip 5 "no IRIS presets in $iris_presets, or no python3 with numpy and h5py"
fi
run_status arepo-info --log-level loud snap.hdf5
is "$status" 2 "an unknown log level: exit 2"
run_status arepo-info --config "$TOP/tests/fixtures/iris-hyper.json" snap.hdf5
is "$status" 0 "IRIS's own hyper.json is accepted"
run_status arepo-info --config "$TOP/pipelines/presets/sedigism-13co.json" --view 3 snap.hdf5
like "$out" "perturbation +view 3: scale 0\.[0-9]+" "--view applies the drawn scale"

done_testing

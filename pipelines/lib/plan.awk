# The plan of a scheduler chain (arepo-submit): how many snapshots a task
# takes (a group) and how many views (a chunk of a group), from a target task
# length and each stage's cost per unit, scaled up until the chain fits the
# scheduler's job limit; then the job arrays, cut to the array limit, and
# their dependencies. See arepo-submit(1), "BUNDLES".
#
# Input: one line per unit to make, "STAGE I [K]", in task order, and "STAGE"
# for a run stage to submit. Variables (-v): N snapshots, V views each;
# stages "NAME:UNIT:AFTER:COST:LIMIT ..." (AFTER comma separated or -, COST
# seconds a unit, LIMIT the stage's time limit in seconds, 0 for none);
# target (seconds a task), indices (the most tasks an array holds, its
# indices 0..indices-1), budget (the most jobs), slots and remote (the cache:
# a remote fetch task holds at most slots snapshots), group and chunk (sizes
# forced by options, 0 when not), limits_text and costs_text (how the limits
# and the costs were found, for the plan's text).
# Output: "text LINE" (the plan for people), "size GROUP CHUNK", "sub NAME
# STAGE OFFSET LAYER ARRAY THROTTLE DEP..." per submission, in order (DEP:
# afterok:NAME, aftercorr:NAME or afterany:NAME), or "error MESSAGE".

BEGIN {
	ns = split(stages, list, " ")
	for (j = 1; j <= ns; j++) {
		split(list[j], w, ":")
		st[j] = w[1]
		unit[w[1]] = w[2]
		after[w[1]] = w[3] == "-" ? "" : w[3]
		cost[w[1]] = w[4] + 0
		limit[w[1]] = w[5] + 0
	}
}

{
	s = $1
	if (!(s in unit)) next
	if (unit[s] == "run") { want[s] = 1; next }
	q = unit[s] == "snapshot" ? $2 - 1 : ($2 - 1) * V + $3
	n[s]++
	# Runs of consecutive units: what the counts below walk.
	if (nr[s] && q == hi[s, nr[s]] + 1) hi[s, nr[s]] = q
	else { nr[s]++; lo[s, nr[s]] = q; hi[s, nr[s]] = q }
}

# The bundle that holds unit Q (a snapshot or a view, from 0) of stage S:
# group e, or chunk L of group e numbered e * R + L.
function bundle(s, q,   e) {
	if (unit[s] == "snapshot") return int(q / g)
	e = int(q / (g * V))
	return e * R + int((q - e * g * V) / c)
}

# The bundles of stage S with a unit to make; with FILL, has[s, e, L].
function bundles(s, fill,   k, a, b, last, total, id) {
	last = -1
	total = 0
	for (k = 1; k <= nr[s]; k++) {
		a = bundle(s, lo[s, k])
		b = bundle(s, hi[s, k])
		if (a <= last) a = last + 1
		if (b < a) continue
		total += b - a + 1
		last = b
		if (fill)
			for (id = a; id <= b; id++)
				if (unit[s] == "snapshot") has[s, id, 0] = 1
				else has[s, int(id / R), id % R] = 1
	}
	return total
}

function jobs(   j, s, total) {
	total = runs
	for (j = 1; j <= ns; j++) {
		s = st[j]
		if (unit[s] != "run" && n[s]) total += bundles(s, 0)
	}
	return total
}

# Whether the sizes at scale F fit the budget (the sizes set, total the jobs).
function fits(F) {
	size(group ? gt : int(gt * F), chunk ? ct : int(ct * F))
	total = jobs()
	return total <= budget
}

function size(ga, ca) {
	g = ga < 1 ? 1 : ga > gmax ? gmax : ga
	c = ca < 1 ? 1 : ca > g * V ? g * V : ca
	R = int((g * V + c - 1) / c)
}

# Seconds as people read a task's length.
function span(t) {
	if (t < 100) return sprintf("%.3g s", t)
	if (t < 6000) return sprintf("%.3g min", t / 60)
	return sprintf("%.3g h", t / 3600)
}

function ranges(list,   m, v, k, out, a, b) {
	m = split(list, v, " ")
	out = ""
	for (k = 1; k <= m; k = b + 1) {
		a = k
		for (b = k; b < m && v[b + 1] == v[b] + 1; b++) ;
		out = out (out == "" ? "" : ",") (a == b ? v[a] : v[a] "-" v[b])
	}
	return out
}

END {
	# A stage's target, in units a task: the task length asked for, within
	# 3/4 of its time limit, over its cost (a fraction when one unit takes
	# longer). A group or a chunk takes the least of its stages'.
	for (j = 1; j <= ns; j++) {
		s = st[j]
		if (!n[s]) continue
		t = target
		if (limit[s] > 0 && 0.75 * limit[s] < t) t = 0.75 * limit[s]
		per = cost[s] > 0 ? t / cost[s] : 1e9
		if (unit[s] == "snapshot" && (!gt || per < gt)) gt = per
		if (unit[s] == "view" && (!ct || per < ct)) ct = per
	}
	if (!ct) ct = 1e9
	# Without snapshots to process, groups as large as a chunk needs.
	if (!gt) gt = int((ct + V - 1) / V)
	gmax = N
	if (remote && n["fetch"] && slots < gmax) gmax = slots
	if (group) {
		if (group > gmax) {
			printf "error --snapshots-per-task %d: more than the %d snapshots a remote fetch may hold (--cache-slots)\n", group, slots
			exit
		}
		gt = group
	}
	if (chunk) ct = chunk
	runs = 0
	if (want["grids"] && n["observe"]) runs++
	if (want["merge"]) runs++
	if (want["normalize"]) runs++

	# The smallest scale that fits the budget, every bundle f times its
	# target: by steps, then halving between the last two.
	for (f = 1; ; f *= 1.25) {
		if (fits(f)) break
		if ((group || g == gmax) && (chunk || c == g * V)) {
			printf "error the chain needs %d jobs, more than the %d it may have (%s)%s\n", total, budget, limits_text,
				remote && gmax == slots && !group ? "; more --cache-slots let a fetch task take more snapshots" : ""
			exit
		}
	}
	if (f > 1) {
		fl = f / 1.25
		fh = f
		for (k = 0; k < 12; k++) {
			fm = (fl + fh) / 2
			if (fits(fm)) fh = fm
			else fl = fm
		}
		f = fh
		fits(f)
		# Then each size back toward its target while the chain still fits
		# (the sizes are whole: a scale may grow one more than needed).
		gs = g
		cs = c
		for (gl = group ? g : int(gt) < 1 ? 1 : int(gt); gl < gs; ) {
			gm = int((gl + gs) / 2)
			size(gm, cs)
			if (c == cs && jobs() <= budget) gs = gm
			else gl = gm + 1
		}
		for (cl = chunk ? cs : int(ct) < 1 ? 1 : int(ct); cl < cs; ) {
			cm = int((cl + cs) / 2)
			size(gs, cm)
			if (jobs() <= budget) cs = cm
			else cl = cm + 1
		}
		size(gs, cs)
		total = jobs()
	}
	print "size", g, c

	# The submissions: per stage, per part of the groups (an array's indices
	# are the groups' numbers less the part's first), per layer (chunk L of
	# every group), per set of dependencies.
	for (j = 1; j <= ns; j++) {
		s = st[j]
		if (unit[s] == "run") {
			if (!want[s] || (s == "grids" && !n["observe"])) continue
			deps = ""
			na = split(after[s], a, ",")
			for (k = 1; k <= na; k++)
				for (m = 1; m <= nsub[a[k]]; m++) deps = deps " afterok:" subs[a[k], m]
			print "sub", s, s, 0, 0, "-", "-", deps
			submitted[s] = 1
			nsub[s] = 1
			subs[s, 1] = s
			tasks[s] = 1
			arrays[s] = 1
			continue
		}
		if (!n[s]) continue
		# The bundles with a unit to make, by part and layer, in order.
		nb = bundles(s, 1)
		delete bucket
		for (id = 0; nb > 0; id++) {
			e = unit[s] == "view" ? int(id / R) : id
			L = unit[s] == "view" ? id % R : 0
			if (!((s, e, L) in has)) continue
			nb--
			key = int(e / indices) SUBSEP L
			if (!(key in bucket)) keys[++nkeys] = key
			bucket[key] = bucket[key] " " e
		}
		na = split(after[s], a, ",")
		for (kq = 1; kq <= nkeys; kq++) {
			split(keys[kq], pl, SUBSEP)
			p = pl[1]
			L = pl[2]
			nk = 0
			delete kind
			m = split(substr(bucket[keys[kq]], 2), es, " ")
			for (i = 1; i <= m; i++) {
				e = es[i]
				deps = ""
				for (k = 1; k <= na; k++) {
					if (unit[a[k]] == "run") {
						if (submitted[a[k]]) deps = deps " afterok:" a[k]
					} else {
						la = unit[a[k]] == "view" ? L : 0
						if ((a[k], e, la) in subof) deps = deps " aftercorr:" subof[a[k], e, la]
					}
				}
				if (!(deps in kind)) { kind[deps] = ++nk; kdeps[nk] = deps; kidx[nk] = "" }
				kk = kind[deps]
				kidx[kk] = kidx[kk] " " (e - p * indices)
				subof[s, e, L] = s "_" p "_" L "_" kk
			}
			for (kk = 1; kk <= nk; kk++) {
				name = s "_" p "_" L "_" kk
				deps = kdeps[kk]
				throttle = "-"
				if (s == "fetch") {
					# The cache: at most slots snapshots fetched at once,
					# over every fetch array.
					throttle = int(slots / g) < 1 ? 1 : int(slots / g)
					if (nsub[s]) deps = deps " afterany:" subs[s, nsub[s]]
				}
				print "sub", name, s, p * indices, L, ranges(substr(kidx[kk], 2)), throttle, deps
				subs[s, ++nsub[s]] = name
				m = split(substr(kidx[kk], 2), v, " ")
				tasks[s] += m
				if (m > largest) largest = m
				if (v[m] > highest) highest = v[m]
				arrays[s]++
			}
		}
		nkeys = 0
		submitted[s] = 1
	}

	# The plan, for people.
	print "text plan: " N " snapshots x " V " views (" N * V " views)"
	print "text limits: " limits_text
	print "text target: " span(target) " a task; a unit takes " costs_text
	scaled = f > 1 ? sprintf("; grown from the target to fit %d jobs", budget) : ""
	groups = int((N + g - 1) / g)
	text = "text bundles: " g " snapshot" (g > 1 ? "s" : "") " a task (" groups " group" (groups > 1 ? "s" : "") "), "
	if (g * V == c) print text "their " c " view" (c > 1 ? "s" : "") " a task" scaled
	else print text c " view" (c > 1 ? "s" : "") " a task (" R " tasks a group)" scaled
	print "text " sprintf("%-10s %8s %7s %7s %10s  %s", "stage", "to make", "tasks", "arrays", "units/task", "task length")
	for (j = 1; j <= ns; j++) {
		s = st[j]
		if (!tasks[s]) continue
		if (unit[s] == "run") { print "text " sprintf("%-10s %8s %7d %7d", s, "1", 1, 1); continue }
		per = unit[s] == "snapshot" ? g : c
		print "text " sprintf("%-10s %8d %7d %7d %10d  %s", s, n[s], tasks[s], arrays[s], per, span(per * cost[s]))
		total_arrays += arrays[s]
	}
	for (j = 1; j <= ns; j++) if (unit[st[j]] == "run" && tasks[st[j]]) total_arrays++
	print "text total: " total " jobs in " total_arrays " submissions, within " budget "; largest array " largest + 0 " tasks, highest index " highest + 0 ", within " indices - 1
}

/* Unit tests of the k-d tree: nearest and k nearest cells against brute
 * force, with exact ties, hints, degenerate point sets; and of the SIMD
 * search among a tile's candidates against the scalar scan. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nearest.h"
#include "rng.h"
#include "simd.h"
#include "tap.h"

enum { UNIFORM, DUPLICATES, PLANE, LINE, CLUSTERED, NPATTERNS };
static const char *const names[] = { "uniform", "duplicates", "plane", "line", "clustered" };

static void make_points(int pattern, uint32_t n, struct rng_stream *s, float *p)
{
	for (uint32_t i = 0; i < n; i++) {
		for (int d = 0; d < 3; d++)
			p[3 * i + d] = (float)rng_uniform_range(s, -10, 10);
		if (pattern == DUPLICATES && i > 4)
			memcpy(p + 3 * i, p + 3 * rng_below(s, i / 4 + 1), 3 * sizeof(float));
		else if (pattern == PLANE)
			p[3 * i + 2] = 1.5f;
		else if (pattern == LINE)
			p[3 * i + 1] = p[3 * i + 2] = 0;
		else if (pattern == CLUSTERED)
			for (int d = 0; d < 3; d++)
				p[3 * i + d] = (float)(3 * (i % 5) + 0.01 * rng_normal(s));
	}
}

/* The k best of brute force, by (distance, index). */
static int brute_k(const float *p, uint32_t n, const double q[3], int k, uint32_t *idx, double *d2)
{
	int found = 0;
	for (uint32_t i = 0; i < n; i++) {
		double d = distance2(q[0], q[1], q[2], p[3 * i], p[3 * i + 1], p[3 * i + 2]);
		if (found == k && !(d < d2[k - 1]))
			continue; /* equal distance: the later index loses */
		int m = found < k ? found++ : k - 1;
		while (m > 0 && d2[m - 1] > d) {
			d2[m] = d2[m - 1];
			idx[m] = idx[m - 1];
			m--;
		}
		d2[m] = d;
		idx[m] = i;
	}
	return found;
}

/* Field by field: the structs have padding. */
static int same_nodes(const struct kd_tree *a, const struct kd_tree *b)
{
	for (uint32_t i = 0; i < a->nnodes; i++) {
		const struct kd_node *x = &a->nodes[i], *y = &b->nodes[i];
		if (memcmp(x->lo, y->lo, sizeof x->lo) || memcmp(x->hi, y->hi, sizeof x->hi) ||
		    x->begin != y->begin || x->end != y->end || x->left != y->left)
			return 0;
	}
	return 1;
}

static double corner_bound2(const double lo[3], const double hi[3], const double c[3])
{
	double bound2 = 0;
	for (int corner = 0; corner < 8; corner++) {
		double d2 = distance2(corner & 1 ? hi[0] : lo[0], corner & 2 ? hi[1] : lo[1],
				      corner & 4 ? hi[2] : lo[2], c[0], c[1], c[2]);
		bound2 = d2 > bound2 ? d2 : bound2;
	}
	return bound2;
}

/* Whether the slots name every cell as near as c (distance2) to some point
 * of the box [lo, hi], or with c = NULL, every cell nearest to some point
 * (all of them on a tie): tried at the corners, the centre, random points
 * and the cells inside the box; and name the cells' positions. */
static int complete(const struct kd_tree *t, const float *p, uint32_t n, const double lo[3],
		    const double hi[3], const double *c, const uint32_t *slot, int ns,
		    struct rng_stream *s)
{
	char *in = calloc(n, 1);
	int good = 1;
	for (int m = 0; m < ns; m++) {
		uint32_t id = t->index[slot[m]];
		good &= t->x[slot[m]] == p[3 * id] && t->y[slot[m]] == p[3 * id + 1] &&
			t->z[slot[m]] == p[3 * id + 2];
		in[id] = 1;
	}
	for (int qi = 0; qi < 40 + (int)n; qi++) {
		double q[3];
		for (int d = 0; d < 3; d++) {
			if (qi < 8)
				q[d] = qi >> d & 1 ? hi[d] : lo[d];
			else if (qi == 8)
				q[d] = 0.5 * (lo[d] + hi[d]);
			else if (qi < 40)
				q[d] = rng_uniform_range(s, lo[d], hi[d]);
			else
				q[d] = p[3 * (qi - 40) + d];
		}
		if (qi >= 40 && (q[0] < lo[0] || q[0] > hi[0] || q[1] < lo[1] || q[1] > hi[1] ||
				 q[2] < lo[2] || q[2] > hi[2]))
			continue;
		double dc;
		if (c)
			dc = distance2(q[0], q[1], q[2], c[0], c[1], c[2]);
		else
			brute_nearest(p, n, q[0], q[1], q[2], &dc);
		for (uint32_t i = 0; i < n; i++)
			if (distance2(q[0], q[1], q[2], p[3 * i], p[3 * i + 1], p[3 * i + 2]) <= dc)
				good &= in[i];
	}
	free(in);
	return good;
}

/* kd_contenders of the box [lo, hi] against the cell nearest to its centre
 * are complete; a cap one short fails; the portable build finds the same.
 * Then a half of the box against its own nearest cell, from those
 * contenders (kd_contenders_among): every cell that wins at a point of the
 * half is kept, in both builds alike; the whole box from its own contenders
 * gives them back. */
static int contenders_complete(const struct kd_tree *t, const float *p, uint32_t n,
			       const double lo[3], const double hi[3], struct rng_stream *s)
{
	double c2;
	uint32_t c = brute_nearest(p, n, 0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]),
				   0.5 * (lo[2] + hi[2]), &c2);
	const double pc[3] = { p[3 * c], p[3 * c + 1], p[3 * c + 2] };
	const double bound2 = corner_bound2(lo, hi, pc);
	uint32_t *slot = malloc((n + 1) * sizeof *slot), *other = malloc((n + 1) * sizeof *other);
	int ng = kd_contenders(t, lo, hi, pc, bound2, slot, (int)n);
	int good = ng >= 1 && complete(t, p, n, lo, hi, pc, slot, ng, s);
	simd_portable(1); /* the build other CPUs run: the same slots */
	good &= kd_contenders(t, lo, hi, pc, bound2, other, (int)n) == ng &&
		(ng < 1 || memcmp(slot, other, (size_t)ng * sizeof *slot) == 0);
	simd_portable(0);
	if (ng >= 1)
		good &= kd_contenders(t, lo, hi, pc, bound2, other, ng - 1) == -1 &&
			kd_contenders(t, lo, hi, pc, bound2, other, ng) == ng;
	if (ng >= 1) {
		good &= kd_contenders_among(t, slot, ng, lo, hi, pc, bound2, other) == ng &&
			memcmp(slot, other, (size_t)ng * sizeof *slot) == 0;
		double hlo[3] = { lo[0], lo[1], lo[2] }, hhi[3] = { hi[0], hi[1], hi[2] };
		int axis = (int)rng_below(s, 3);
		if (rng_below(s, 2))
			hlo[axis] = 0.5 * (lo[axis] + hi[axis]);
		else
			hhi[axis] = 0.5 * (lo[axis] + hi[axis]);
		double hc[3] = { 0.5 * (hlo[0] + hhi[0]), 0.5 * (hlo[1] + hhi[1]), 0.5 * (hlo[2] + hhi[2]) };
		uint32_t b = slot[0];
		for (int m = 1; m < ng; m++)
			if (distance2(hc[0], hc[1], hc[2], t->x[slot[m]], t->y[slot[m]], t->z[slot[m]]) <
			    distance2(hc[0], hc[1], hc[2], t->x[b], t->y[b], t->z[b]))
				b = slot[m];
		const double bc[3] = { t->x[b], t->y[b], t->z[b] };
		uint32_t *half = malloc((n + 1) * sizeof *half);
		int nh = kd_contenders_among(t, slot, ng, hlo, hhi, bc, corner_bound2(hlo, hhi, bc), half);
		good &= nh >= 1 && complete(t, p, n, hlo, hhi, NULL, half, nh, s);
		simd_portable(1);
		good &= kd_contenders_among(t, slot, ng, hlo, hhi, bc, corner_bound2(hlo, hhi, bc),
					    other) == nh &&
			(nh < 1 || memcmp(half, other, (size_t)nh * sizeof *half) == 0);
		simd_portable(0);
		free(half);
	}
	free(slot);
	free(other);
	return good;
}

/* The scalar scan nearest_among must equal: distance2 in order, a strictly
 * smaller distance replaces the best. */
static void scan(int n, const double *qx, const double *qy, const double *qz, int nc,
		 const double *cx, const double *cy, const double *cz, int *best, double *best_d2)
{
	for (int p = 0; p < n; p++) {
		int bm = 0;
		double bd = distance2(qx[p], qy[p], qz[p], cx[0], cy[0], cz[0]);
		for (int m = 1; m < nc; m++) {
			double d = distance2(qx[p], qy[p], qz[p], cx[m], cy[m], cz[m]);
			if (d < bd) {
				bd = d;
				bm = m;
			}
		}
		best[p] = bm;
		best_d2[p] = bd;
	}
}

/* Candidates and points where exact ties are common: duplicated candidates,
 * points on candidates, candidates at integer offsets of equal length from
 * integer points (1,2,2), (2,1,2), (3,0,0)... all at distance 3; and, at
 * scale 2.6e15 (the processing units' positions), float32 candidates about
 * a double point, where the roundings of distance2 decide. */
static void test_among(void)
{
	enum { MAXN = 70, MAXC = 70 };
	static const int off[][3] = { { 1, 2, 2 }, { 2, 1, 2 }, { 2, 2, 1 }, { -1, 2, -2 },
				      { -2, -2, 1 }, { 3, 0, 0 }, { 0, -3, 0 }, { 0, 0, 3 } };
	const int noff = (int)(sizeof off / sizeof off[0]);
	struct rng_stream s;
	rng_init(&s, 7, "among", 0, "cases");
	int same_simd = 1, same_portable = 1, ties = 0;
	for (int round = 0; round < 3000; round++) {
		double qx[MAXN], qy[MAXN], qz[MAXN], cx[MAXC], cy[MAXC], cz[MAXC];
		int n = 1 + (int)rng_below(&s, MAXN), nc = 1 + (int)rng_below(&s, MAXC);
		int kind = round % 3;
		double scale = kind == 2 ? 2.6e15 : 1;
		for (int m = 0; m < nc; m++) {
			double c[3];
			for (int d = 0; d < 3; d++)
				c[d] = kind == 0 ? (double)(int)rng_below(&s, 7)
						 : (double)(float)(scale * (1 + 1e-6 * rng_uniform_range(&s, -1, 1)));
			if (m > 0 && rng_below(&s, 4) == 0) { /* a duplicate of an earlier one */
				int e = (int)rng_below(&s, (uint64_t)m);
				c[0] = cx[e];
				c[1] = cy[e];
				c[2] = cz[e];
			}
			cx[m] = c[0];
			cy[m] = c[1];
			cz[m] = c[2];
		}
		for (int p = 0; p < n; p++) {
			int how = (int)rng_below(&s, 3);
			if (how == 0) { /* on a candidate */
				int m = (int)rng_below(&s, (uint64_t)nc);
				qx[p] = cx[m];
				qy[p] = cy[m];
				qz[p] = cz[m];
			} else if (how == 1 && kind == 0) { /* equidistant from lattice candidates */
				int m = (int)rng_below(&s, (uint64_t)nc);
				const int *o = off[rng_below(&s, (uint64_t)noff)];
				qx[p] = cx[m] - o[0];
				qy[p] = cy[m] - o[1];
				qz[p] = cz[m] - o[2];
			} else if (kind == 0) { /* on a half-integer lattice */
				qx[p] = 0.5 * (double)rng_below(&s, 14);
				qy[p] = 0.5 * (double)rng_below(&s, 14);
				qz[p] = 0.5 * (double)rng_below(&s, 14);
			} else {
				qx[p] = scale * (1 + 1e-6 * rng_uniform_range(&s, -1.2, 1.2));
				qy[p] = scale * (1 + 1e-6 * rng_uniform_range(&s, -1.2, 1.2));
				qz[p] = scale * (1 + 1e-6 * rng_uniform_range(&s, -1.2, 1.2));
			}
		}
		int want[MAXN], got[MAXN];
		double wd[MAXN], gd[MAXN];
		scan(n, qx, qy, qz, nc, cx, cy, cz, want, wd);
		for (int p = 0; p < n; p++)
			for (int m = want[p] + 1; m < nc; m++)
				ties += distance2(qx[p], qy[p], qz[p], cx[m], cy[m], cz[m]) == wd[p];
		nearest_among(n, qx, qy, qz, nc, cx, cy, cz, got, gd);
		same_simd &= memcmp(want, got, (size_t)n * sizeof *got) == 0 &&
			     memcmp(wd, gd, (size_t)n * sizeof *gd) == 0;
		simd_portable(1);
		nearest_among(n, qx, qy, qz, nc, cx, cy, cz, got, gd);
		simd_portable(0);
		same_portable &= memcmp(want, got, (size_t)n * sizeof *got) == 0 &&
				 memcmp(wd, gd, (size_t)n * sizeof *gd) == 0;
	}
	ok(ties > 1000, "the cases hold exact ties that the first candidate wins (%d)", ties);
	ok(same_simd, "among candidates (%s): the scalar scan's choice and distance, ties included",
	   simd_avx2() ? "AVX2" : "portable");
	ok(same_portable, "among candidates, the portable build: the same");
}

int main(void)
{
	test_among();
	const uint32_t sizes[] = { 1, 2, 7, 33, 500, 3000 };
	for (int pattern = 0; pattern < NPATTERNS; pattern++) {
		for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
			uint32_t n = sizes[si];
			struct rng_stream s;
			rng_init(&s, 99, names[pattern], (int64_t)n, "points");
			float *p = malloc(3 * (size_t)n * sizeof(float));
			make_points(pattern, n, &s, p);
			struct kd_tree t;
			if (kd_build(&t, p, n)) {
				printf("Bail out! out of memory\n");
				return 1;
			}
			int nearest_ok = 1, hinted_ok = 1, knn_ok = 1, hinted_knn_ok = 1, contenders_ok = 1;
			for (int qi = 0; qi < 400; qi++) {
				double q[3];
				if (qi % 4 == 0) { /* exactly on a cell: distance 0 ties among duplicates */
					uint32_t c = (uint32_t)rng_below(&s, n);
					for (int d = 0; d < 3; d++)
						q[d] = p[3 * c + d];
				} else {
					for (int d = 0; d < 3; d++)
						q[d] = rng_uniform_range(&s, -14, 14);
				}
				double bd;
				uint32_t want = brute_nearest(p, n, q[0], q[1], q[2], &bd);
				uint32_t got = UINT32_MAX;
				double gd = INFINITY;
				kd_nearest(&t, q[0], q[1], q[2], &got, &gd);
				nearest_ok &= got == want && gd == bd;
				/* A hint (any cell) must not change the answer. */
				got = (uint32_t)rng_below(&s, n);
				gd = distance2(q[0], q[1], q[2], p[3 * got], p[3 * got + 1], p[3 * got + 2]);
				kd_nearest(&t, q[0], q[1], q[2], &got, &gd);
				hinted_ok &= got == want && gd == bd;

				int k = 1 + (int)rng_below(&s, 16);
				uint32_t wi[KD_MAX_K], gi[KD_MAX_K];
				double wd[KD_MAX_K], gdk[KD_MAX_K];
				int wn = brute_k(p, n, q, k, wi, wd);
				int gn = kd_knearest(&t, q[0], q[1], q[2], k, 0, gi, gdk);
				knn_ok &= wn == gn && memcmp(wi, gi, (size_t)wn * sizeof *wi) == 0 &&
					  memcmp(wd, gdk, (size_t)wn * sizeof *wd) == 0;
				/* Distinct hints, as the previous answer would be. */
				int h = (int)rng_below(&s, (uint64_t)k + 1);
				if ((uint32_t)h > n)
					h = (int)n;
				for (int m = 0; m < h; m++)
					gi[m] = (uint32_t)(((uint64_t)m * 7919u + (uint64_t)qi) % n);
				int distinct = 1;
				for (int a = 0; a < h; a++)
					for (int b = 0; b < a; b++)
						distinct &= gi[a] != gi[b];
				if (!distinct)
					h = 0;
				gn = kd_knearest(&t, q[0], q[1], q[2], k, h, gi, gdk);
				hinted_knn_ok &= wn == gn && memcmp(wi, gi, (size_t)wn * sizeof *wi) == 0;

				if (qi % 8 == 0 || qi % 8 == 5) { /* a point, a flat box, boxes */
					double lo[3], hi[3];
					for (int d = 0; d < 3; d++) {
						double half = qi % 16 == 0 ? 0 : qi % 16 == 8 && d == 2 ? 0
							      : rng_uniform_range(&s, 0, 2);
						lo[d] = q[d] - half;
						hi[d] = q[d] + half;
					}
					contenders_ok &= contenders_complete(&t, p, n, lo, hi, &s);
				}
			}
			int same_tree = 1;
			for (int threads = 2; threads <= 9; threads += 7) {
				struct kd_tree u;
				if (kd_build_threads(&u, p, n, threads)) {
					printf("Bail out! out of memory\n");
					return 1;
				}
				same_tree &= u.nnodes == t.nnodes && same_nodes(&u, &t) &&
					     memcmp(u.index, t.index, n * sizeof *t.index) == 0 &&
					     memcmp(u.x, t.x, n * sizeof *t.x) == 0;
				kd_free(&u);
			}
			ok(same_tree, "%s, %u cells: built by 2 or 9 threads, the tree is the same", names[pattern], n);
			ok(nearest_ok, "%s, %u cells: nearest equals brute force (ties to the lower index)", names[pattern], n);
			ok(hinted_ok, "%s, %u cells: and with a hint", names[pattern], n);
			ok(knn_ok, "%s, %u cells: k nearest equal brute force", names[pattern], n);
			ok(hinted_knn_ok, "%s, %u cells: and with hints", names[pattern], n);
			ok(contenders_ok, "%s, %u cells: a box's contenders hold every cell that can win in it",
			   names[pattern], n);
			kd_free(&t);
			free(p);
		}
	}
	struct kd_tree empty;
	ok(kd_build(&empty, NULL, 0) == 0 && empty.n == 0, "an empty tree builds");
	uint32_t b = UINT32_MAX;
	double d = INFINITY;
	kd_nearest(&empty, 0, 0, 0, &b, &d);
	ok(b == UINT32_MAX && isinf(d), "and finds nothing");
	return tap_done();
}

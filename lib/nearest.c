/* Exact nearest-cell search: a k-d tree with small buckets, median splits
 * on the widest side, bounding boxes for pruning. Pruning only drops a node
 * whose box is strictly farther than the best distance: rounding is monotone,
 * so no cell in it can tie or win, and ties still go to the lower index.
 * For tiles of points: their contenders, and the search among them. */
#include "nearest.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"

#define LEAF_CELLS 32

/* Four doubles, and four masks (all ones or zeros) from comparing them:
 * GCC's generic vectors, AVX2 registers where that is enabled, SSE2 pairs
 * otherwise, scalars on other machines. */
typedef double vdouble4 __attribute__((vector_size(32)));
typedef int64_t vmask4 __attribute__((vector_size(32)));

struct build {
	struct kd_tree *t;
	uint32_t *order; /* original indices, permuted */
	float *xyz;      /* their positions, permuted alike: sequential reads */
};

static double coord(const struct build *b, uint32_t slot, int dim)
{
	return (double)b->xyz[3 * (size_t)slot + (size_t)dim];
}

static void swap_slots(struct build *b, uint32_t i, uint32_t j)
{
	uint32_t tmp = b->order[i];
	b->order[i] = b->order[j];
	b->order[j] = tmp;
	float *p = b->xyz + 3 * (size_t)i, *q = b->xyz + 3 * (size_t)j;
	for (int d = 0; d < 3; d++) {
		float v = p[d];
		p[d] = q[d];
		q[d] = v;
	}
}

/* Partial sort of slots [lo, hi) so that the element of rank k is in place,
 * ordered by (coordinate, original index) to be deterministic. */
static void select_kth(struct build *b, uint32_t lo, uint32_t hi, uint32_t k, int dim)
{
	const uint32_t *a = b->order;
	while (hi - lo > 1) {
		uint32_t j = hi - 1;
		swap_slots(b, lo + (hi - lo) / 2, j);
		uint32_t pivot = a[j];
		double pv = coord(b, j, dim);
		uint32_t store = lo;
		for (uint32_t i = lo; i < j; i++) {
			double v = coord(b, i, dim);
			if (v < pv || (v == pv && a[i] < pivot)) {
				swap_slots(b, i, store);
				store++;
			}
		}
		swap_slots(b, j, store);
		if (k == store)
			return;
		if (k < store)
			hi = store;
		else
			lo = store + 1;
	}
}

static uint32_t count_nodes(uint32_t n)
{
	if (n <= LEAF_CELLS)
		return 1;
	return 1 + count_nodes(n / 2) + count_nodes(n - n / 2);
}

/* A subtree to build: node, its cells [begin, end), and next, the first of
 * the node numbers its descendants own (its children are next and next + 1;
 * the left child's descendants follow them, then the right's). The numbers
 * depend only on the cell counts, so that subtrees can be built at once by
 * different threads and the tree is the same for any number of threads. */
struct subtree {
	struct build *b;
	uint32_t node, begin, end, next;
	int spawn; /* levels below this one that still start a thread */
};

static void *build_subtree(void *arg);

static void build_node(struct subtree st)
{
	struct build *b = st.b;
	struct kd_node *nd = &b->t->nodes[st.node];
	nd->begin = st.begin;
	nd->end = st.end;
	nd->left = 0;
	for (int d = 0; d < 3; d++) {
		nd->lo[d] = INFINITY;
		nd->hi[d] = -INFINITY;
	}
	for (uint32_t i = st.begin; i < st.end; i++)
		for (int d = 0; d < 3; d++) {
			double v = coord(b, i, d);
			if (v < nd->lo[d])
				nd->lo[d] = v;
			if (v > nd->hi[d])
				nd->hi[d] = v;
		}
	if (st.end - st.begin <= LEAF_CELLS)
		return;
	int dim = 0;
	for (int d = 1; d < 3; d++)
		if (nd->hi[d] - nd->lo[d] > nd->hi[dim] - nd->lo[dim])
			dim = d;
	uint32_t mid = st.begin + (st.end - st.begin) / 2;
	select_kth(b, st.begin, st.end, mid, dim);
	nd->left = st.next;
	struct subtree left = { b, st.next, st.begin, mid, st.next + 2, st.spawn - 1 };
	struct subtree right = { b, st.next + 1, mid, st.end,
				 st.next + 2 + count_nodes(mid - st.begin) - 1, st.spawn - 1 };
	pthread_t thread;
	if (st.spawn > 0 && pthread_create(&thread, NULL, build_subtree, &right) == 0) {
		build_node(left);
		pthread_join(thread, NULL);
	} else {
		build_node(left);
		build_node(right);
	}
}

static void *build_subtree(void *arg)
{
	build_node(*(struct subtree *)arg);
	return NULL;
}

int kd_build(struct kd_tree *t, const float *position, uint32_t n)
{
	return kd_build_threads(t, position, n, 1);
}

int kd_build_threads(struct kd_tree *t, const float *position, uint32_t n, int threads)
{
	memset(t, 0, sizeof *t);
	t->n = n;
	if (n == 0)
		return 0;
	t->nnodes = count_nodes(n);
	t->nodes = malloc((size_t)t->nnodes * sizeof *t->nodes);
	t->x = malloc((size_t)n * sizeof(double));
	t->y = malloc((size_t)n * sizeof(double));
	t->z = malloc((size_t)n * sizeof(double));
	t->index = malloc((size_t)n * sizeof(uint32_t));
	t->px = malloc((size_t)n * sizeof(double));
	t->py = malloc((size_t)n * sizeof(double));
	t->pz = malloc((size_t)n * sizeof(double));
	if (!t->nodes || !t->x || !t->y || !t->z || !t->index || !t->px || !t->py || !t->pz) {
		kd_free(t);
		return -1;
	}
	struct build b = { .t = t, .order = t->index, .xyz = malloc(3 * (size_t)n * sizeof(float)) };
	if (!b.xyz) {
		kd_free(t);
		return -1;
	}
	memcpy(b.xyz, position, 3 * (size_t)n * sizeof(float));
	for (uint32_t i = 0; i < n; i++)
		t->index[i] = i;
	/* Threads start down to the level with at least one subtree per thread. */
	int spawn = 0;
	while (spawn < 16 && (1 << spawn) < threads)
		spawn++;
	build_node((struct subtree){ &b, 0, 0, n, 1, spawn });
	for (uint32_t i = 0; i < n; i++) {
		const float *p = b.xyz + 3 * (size_t)i;
		t->x[i] = p[0];
		t->y[i] = p[1];
		t->z[i] = p[2];
		t->px[t->index[i]] = p[0];
		t->py[t->index[i]] = p[1];
		t->pz[t->index[i]] = p[2];
	}
	free(b.xyz);
	return 0;
}

void kd_free(struct kd_tree *t)
{
	free(t->nodes);
	free(t->x);
	free(t->y);
	free(t->z);
	free(t->index);
	free(t->px);
	free(t->py);
	free(t->pz);
	memset(t, 0, sizeof *t);
}

void kd_nearest(const struct kd_tree *t, double qx, double qy, double qz, uint32_t *best,
		double *best_d2)
{
	if (t->n > 0)
		kd_search(t->nodes, t->x, t->y, t->z, t->index, qx, qy, qz, best, best_d2);
}

/* Inserts (d, id) into the k best, kept in (distance, index) order. */
static inline void insert_best(int k, int *found, uint32_t *index, double *d2, double d, uint32_t id)
{
	int m = *found < k ? (*found)++ : k - 1;
	while (m > 0 && (d2[m - 1] > d || (d2[m - 1] == d && index[m - 1] > id))) {
		d2[m] = d2[m - 1];
		index[m] = index[m - 1];
		m--;
	}
	d2[m] = d;
	index[m] = id;
}

int kd_knearest(const struct kd_tree *t, double qx, double qy, double qz, int k, int hints,
		uint32_t *index, double *d2)
{
	if (t->n == 0)
		return 0;
	/* Hints: candidate cells already in index[0..hints), whose distances to
	 * q bound the search from the start. They are reinserted in order, and
	 * recognised (not added twice) when the leaves meet them again. */
	uint32_t hint[KD_MAX_K];
	int nhint = hints < k ? hints : k;
	memcpy(hint, index, (size_t)nhint * sizeof *hint);
	int found = 0;
	for (int h = 0; h < nhint; h++) {
		uint32_t id = hint[h];
		double d = distance2(qx, qy, qz, t->px[id], t->py[id], t->pz[id]);
		insert_best(k, &found, index, d2, d, id);
	}
	double worst = found == k ? d2[k - 1] : INFINITY;
	struct { uint32_t node; double d2; } stack[128];
	int top = 0;
	stack[top].node = 0;
	stack[top++].d2 = box_distance2(&t->nodes[0], qx, qy, qz);
	while (top > 0) {
		top--;
		if (stack[top].d2 > worst)
			continue;
		const struct kd_node *nd = &t->nodes[stack[top].node];
		if (nd->left == 0) {
			for (uint32_t i = nd->begin; i < nd->end; i++) {
				double d = distance2(qx, qy, qz, t->x[i], t->y[i], t->z[i]);
				uint32_t id = t->index[i];
				if (found == k && (d > worst || (d == worst && id > index[k - 1])))
					continue;
				int known = 0;
				for (int h = 0; h < nhint; h++)
					known |= hint[h] == id;
				if (known)
					continue;
				insert_best(k, &found, index, d2, d, id);
				if (found == k)
					worst = d2[k - 1];
			}
			continue;
		}
		uint32_t l = nd->left, r = nd->left + 1;
		double dl = box_distance2(&t->nodes[l], qx, qy, qz);
		double dr = box_distance2(&t->nodes[r], qx, qy, qz);
		/* The nearer child goes on top, to be searched first. */
		if (dl > dr) {
			uint32_t tn = l;
			l = r;
			r = tn;
			double td = dl;
			dl = dr;
			dr = td;
		}
		if (dr <= worst) {
			stack[top].node = r;
			stack[top++].d2 = dr;
		}
		if (dl <= worst) {
			stack[top].node = l;
			stack[top++].d2 = dl;
		}
	}
	return found;
}

/* The gap between [alo, ahi] and [blo, bhi] on one axis (0 if they
 * overlap): one of the differences is positive only when the intervals are
 * apart, so the larger of them and 0 is the gap, without a branch. */
static inline double axis_gap(double alo, double ahi, double blo, double bhi)
{
	double a = alo - bhi, b = blo - ahi;
	double g = a > b ? a : b;
	return g > 0 ? g : 0;
}

/* The contenders of a box for a cell c at distance at most sqrt(bound2)
 * from all its points. If p wins at a point q of the box, distance2(q, p)
 * <= distance2(q, c), and as each distance2 is within 5 ulp of the exact
 * square, h(q) = |q - p|^2 - |q - c|^2 is at most 11 ulp of bound2. For all
 * the cells of a node's box N, |q - p| >= dist(q, N), and
 *     dist(q, N)^2 - |q - c|^2 = sum over axes of gap(q_d)^2 - (q_d - c_d)^2,
 * gap being the distance from q_d to N's interval: each term is linear
 * outside that interval and -(q_d - c_d)^2 inside, with matching slopes, so
 * concave, and its least over the box's interval is at one of its ends. A
 * node (or a cell: a box of one point) is dropped only when the sum of those
 * least values exceeds 1e-12 of the magnitudes involved: many times the
 * allowance above and the roundings of the sum, so that no cell that can win
 * is ever dropped. */
static inline double axis_contend(double nlo, double nhi, double lo, double hi, double c,
				  double *size)
{
	double glo = axis_gap(nlo, nhi, lo, lo), ghi = axis_gap(nlo, nhi, hi, hi);
	double clo = (lo - c) * (lo - c), chi = (hi - c) * (hi - c);
	double a = glo * glo - clo, b = ghi * ghi - chi;
	double sa = glo * glo + clo, sb = ghi * ghi + chi;
	*size += sa > sb ? sa : sb;
	return a < b ? a : b;
}

static inline int node_contends(const double nlo[3], const double nhi[3], const double lo[3],
				const double hi[3], const double c[3], double bound2)
{
	double size = bound2;
	double h = axis_contend(nlo[0], nhi[0], lo[0], hi[0], c[0], &size);
	h += axis_contend(nlo[1], nhi[1], lo[1], hi[1], c[1], &size);
	h += axis_contend(nlo[2], nhi[2], lo[2], hi[2], c[2], &size);
	return h <= 1e-12 * size + 1e-300;
}

/* axis_contend for four cells at v (their gaps to lo and hi are |v - lo| and
 * |v - hi|); a macro, as vectors passed by value would change the ABI
 * between the AVX2 and the generic builds. */
#define VCONTEND(h, size, v, lo, hi, clo, chi)                                       \
	do {                                                                         \
		vdouble4 dl_ = (v) - (lo), dh_ = (v) - (hi);                          \
		vdouble4 a_ = dl_ * dl_ - (clo), b_ = dh_ * dh_ - (chi);              \
		vdouble4 sa_ = dl_ * dl_ + (clo), sb_ = dh_ * dh_ + (chi);            \
		vmask4 ab_ = a_ < b_, s_ = sa_ > sb_;                                 \
		(h) += (vdouble4)(((vmask4)a_ & ab_) | ((vmask4)b_ & ~ab_));          \
		(size) += (vdouble4)(((vmask4)sa_ & s_) | ((vmask4)sb_ & ~s_));       \
	} while (0)

long long W_calls, W_nodes, W_cells, W_found, W_fail;
static inline __attribute__((always_inline)) int
contenders_body(const struct kd_tree *t, const double lo[3], const double hi[3], const double c[3],
		double bound2, uint32_t *out, int cap)
{
	double clo[3], chi[3]; __atomic_fetch_add(&W_calls,1,0);
	for (int d = 0; d < 3; d++) {
		clo[d] = (lo[d] - c[d]) * (lo[d] - c[d]);
		chi[d] = (hi[d] - c[d]) * (hi[d] - c[d]);
	}
	int found = 0;
	uint32_t stack[128];
	int top = 0;
	stack[top++] = 0;
	while (top > 0) {
		const struct kd_node *nd = &t->nodes[stack[--top]]; __atomic_fetch_add(&W_nodes,1,0);
		if (!node_contends(nd->lo, nd->hi, lo, hi, c, bound2))
			continue;
		if (nd->left) {
			stack[top++] = nd->left + 1;
			stack[top++] = nd->left;
			continue;
		}
		/* The leaf's cells four at a time, then those that contend kept
		 * without a branch while they surely fit. */
		const uint32_t b = nd->begin, m = nd->end - nd->begin;
		int keep[LEAF_CELLS]; __atomic_fetch_add(&W_cells,m,0);
		uint32_t i = 0;
		for (; i + 4 <= m; i += 4) {
			vdouble4 x, y, z, h = { 0, 0, 0, 0 }, size = { bound2, bound2, bound2, bound2 };
			memcpy(&x, t->x + b + i, sizeof x);
			memcpy(&y, t->y + b + i, sizeof y);
			memcpy(&z, t->z + b + i, sizeof z);
			VCONTEND(h, size, x, lo[0], hi[0], clo[0], chi[0]);
			VCONTEND(h, size, y, lo[1], hi[1], clo[1], chi[1]);
			VCONTEND(h, size, z, lo[2], hi[2], clo[2], chi[2]);
			vmask4 k = h <= 1e-12 * size + 1e-300;
			for (int l = 0; l < 4; l++)
				keep[i + (uint32_t)l] = k[l] != 0;
		}
		for (; i < m; i++) {
			double p[3] = { t->x[b + i], t->y[b + i], t->z[b + i] };
			keep[i] = node_contends(p, p, lo, hi, c, bound2);
		}
		/* The caller reads the cells' indices next. */
		__builtin_prefetch(t->index + b);
		__builtin_prefetch(t->index + b + m - 1);
		if ((uint32_t)(cap - found) >= m) {
			for (i = 0; i < m; i++) {
				out[found] = b + i;
				found += keep[i];
			}
			continue;
		}
		for (i = 0; i < m; i++) {
			if (!keep[i])
				continue;
			if (found == cap)
				{ __atomic_fetch_add(&W_fail,1,0); return -1; }
			out[found++] = b + i;
		}
	}
	__atomic_fetch_add(&W_found,found,0); return found;
}

uint32_t brute_nearest(const float *position, uint32_t n, double qx, double qy, double qz,
		       double *best_d2)
{
	uint32_t bi = UINT32_MAX;
	double bd = INFINITY;
	for (uint32_t i = 0; i < n; i++) {
		const float *p = position + 3 * (size_t)i;
		double d2 = distance2(qx, qy, qz, p[0], p[1], p[2]);
		if (d2 < bd) {
			bd = d2;
			bi = i;
		}
	}
	*best_d2 = bd;
	return bi;
}

/* The contenders among the cells at the given slots (kd_contenders' test
 * for each, four at a time); the kept slots go to out, in order. */
static inline __attribute__((always_inline)) int
contenders_among_body(const struct kd_tree *t, const uint32_t *slot, int n, const double lo[3],
		      const double hi[3], const double c[3], double bound2, uint32_t *out)
{
	double clo[3], chi[3]; __atomic_fetch_add(&W_calls,1,0);
	for (int d = 0; d < 3; d++) {
		clo[d] = (lo[d] - c[d]) * (lo[d] - c[d]);
		chi[d] = (hi[d] - c[d]) * (hi[d] - c[d]);
	}
	int found = 0, i = 0;
	for (; i + 4 <= n; i += 4) {
		const uint32_t *s4 = slot + i;
		vdouble4 x = { t->x[s4[0]], t->x[s4[1]], t->x[s4[2]], t->x[s4[3]] };
		vdouble4 y = { t->y[s4[0]], t->y[s4[1]], t->y[s4[2]], t->y[s4[3]] };
		vdouble4 z = { t->z[s4[0]], t->z[s4[1]], t->z[s4[2]], t->z[s4[3]] };
		vdouble4 h = { 0, 0, 0, 0 }, size = { bound2, bound2, bound2, bound2 };
		VCONTEND(h, size, x, lo[0], hi[0], clo[0], chi[0]);
		VCONTEND(h, size, y, lo[1], hi[1], clo[1], chi[1]);
		VCONTEND(h, size, z, lo[2], hi[2], clo[2], chi[2]);
		vmask4 k = h <= 1e-12 * size + 1e-300;
		for (int l = 0; l < 4; l++) {
			out[found] = s4[l];
			found += k[l] != 0;
		}
	}
	for (; i < n; i++) {
		double p[3] = { t->x[slot[i]], t->y[slot[i]], t->z[slot[i]] };
		out[found] = slot[i];
		found += node_contends(p, p, lo, hi, c, bound2);
	}
	return found;
}

/* nearest_among: eight points at a time, as two vectors of four lanes (GCC's
 * generic vectors: AVX2 registers in the AVX2 build, SSE2 pairs or scalars
 * elsewhere). Per lane the candidates come in order and a strictly smaller
 * distance replaces the best: the scalar scan's rule, so among equal
 * distances the first candidate stays. Sub, mul and add are IEEE operations
 * lane by lane and nothing may fuse them (no FMA is enabled, and
 * -ffp-contract=off), so each distance has the bits of distance2. */

/* distance2 over lanes; a macro, as vectors passed by value would change
 * the ABI between the AVX2 and the generic build. */
#define AMONG_D2(d, qx, qy, qz, px, py, pz)                                  \
	do {                                                                 \
		vdouble4 dx_ = (px) - (qx), dy_ = (py) - (qy), dz_ = (pz) - (qz); \
		(d) = (dx_ * dx_ + dy_ * dy_) + dz_ * dz_;                   \
	} while (0)

static inline __attribute__((always_inline)) void among_body(int n, const double *qx,
							     const double *qy, const double *qz,
							     int nc, const double *cx,
							     const double *cy, const double *cz,
							     int *best, double *best_d2)
{
	for (int p0 = 0; p0 < n; p0 += 8) {
		/* The last block is padded with copies of its last point. */
		double x[8], y[8], z[8];
		int np = n - p0 < 8 ? n - p0 : 8;
		for (int l = 0; l < 8; l++) {
			int p = p0 + (l < np ? l : np - 1);
			x[l] = qx[p];
			y[l] = qy[p];
			z[l] = qz[p];
		}
		vdouble4 x0, x1, y0, y1, z0, z1;
		memcpy(&x0, x, sizeof x0);
		memcpy(&x1, x + 4, sizeof x1);
		memcpy(&y0, y, sizeof y0);
		memcpy(&y1, y + 4, sizeof y1);
		memcpy(&z0, z, sizeof z0);
		memcpy(&z1, z + 4, sizeof z1);
		vdouble4 d0, d1;
		AMONG_D2(d0, x0, y0, z0, cx[0], cy[0], cz[0]);
		AMONG_D2(d1, x1, y1, z1, cx[0], cy[0], cz[0]);
		vmask4 m0 = { 0, 0, 0, 0 }, m1 = { 0, 0, 0, 0 };
		for (int m = 1; m < nc; m++) {
			vdouble4 e0, e1;
			AMONG_D2(e0, x0, y0, z0, cx[m], cy[m], cz[m]);
			AMONG_D2(e1, x1, y1, z1, cx[m], cy[m], cz[m]);
			vmask4 lt0 = e0 < d0, lt1 = e1 < d1; /* all ones where smaller */
			vmask4 mm = { m, m, m, m };
			d0 = (vdouble4)(((vmask4)e0 & lt0) | ((vmask4)d0 & ~lt0));
			d1 = (vdouble4)(((vmask4)e1 & lt1) | ((vmask4)d1 & ~lt1));
			m0 = (mm & lt0) | (m0 & ~lt0);
			m1 = (mm & lt1) | (m1 & ~lt1);
		}
		double d[8];
		int64_t mi[8];
		memcpy(d, &d0, sizeof d0);
		memcpy(d + 4, &d1, sizeof d1);
		memcpy(mi, &m0, sizeof m0);
		memcpy(mi + 4, &m1, sizeof m1);
		for (int l = 0; l < np; l++) {
			best[p0 + l] = (int)mi[l];
			best_d2[p0 + l] = d[l];
		}
	}
}

/* The SIMD functions twice: for the machine the build targets (SSE2 on
 * x86-64), and where the CPU has it, for AVX2, chosen when called. */
#if defined(__x86_64__) && defined(__GNUC__)
#define AVX2_BUILD 1

__attribute__((target("avx2"))) static void among_avx2(int n, const double *qx, const double *qy,
							const double *qz, int nc, const double *cx,
							const double *cy, const double *cz, int *best,
							double *best_d2)
{
	among_body(n, qx, qy, qz, nc, cx, cy, cz, best, best_d2);
}

__attribute__((target("avx2"))) static int
contenders_among_avx2(const struct kd_tree *t, const uint32_t *slot, int n, const double lo[3],
		      const double hi[3], const double c[3], double bound2, uint32_t *out)
{
	return contenders_among_body(t, slot, n, lo, hi, c, bound2, out);
}

__attribute__((target("avx2"))) static int contenders_avx2(const struct kd_tree *t,
							   const double lo[3], const double hi[3],
							   const double c[3], double bound2,
							   uint32_t *out, int cap)
{
	return contenders_body(t, lo, hi, c, bound2, out, cap);
}
#else
#define AVX2_BUILD 0
#endif

void nearest_among(int n, const double *qx, const double *qy, const double *qz, int nc,
		   const double *cx, const double *cy, const double *cz, int *best, double *best_d2)
{
#if AVX2_BUILD
	if (simd_avx2()) {
		among_avx2(n, qx, qy, qz, nc, cx, cy, cz, best, best_d2);
		return;
	}
#endif
	among_body(n, qx, qy, qz, nc, cx, cy, cz, best, best_d2);
}

int kd_contenders(const struct kd_tree *t, const double lo[3], const double hi[3],
		  const double c[3], double bound2, uint32_t *out, int cap)
{
	if (t->n == 0)
		return 0;
#if AVX2_BUILD
	if (simd_avx2())
		return contenders_avx2(t, lo, hi, c, bound2, out, cap);
#endif
	return contenders_body(t, lo, hi, c, bound2, out, cap);
}

int kd_contenders_among(const struct kd_tree *t, const uint32_t *slot, int n, const double lo[3],
			const double hi[3], const double c[3], double bound2, uint32_t *out)
{
#if AVX2_BUILD
	if (simd_avx2())
		return contenders_among_avx2(t, slot, n, lo, hi, c, bound2, out);
#endif
	return contenders_among_body(t, slot, n, lo, hi, c, bound2, out);
}

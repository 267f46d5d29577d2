/* Exact nearest-cell search: a k-d tree with small buckets, median splits
 * on the widest side, bounding boxes for pruning. Pruning only drops a node
 * whose box is strictly farther than the best distance: rounding is monotone,
 * so no cell in it can tie or win, and ties still go to the lower index. */
#include "nearest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEAF_CELLS 32

struct build {
	struct kd_tree *t;
	uint32_t *order;     /* original indices, permuted */
	const float *position;
};

static double coord(const struct build *b, uint32_t cell, int dim)
{
	return (double)b->position[3 * (size_t)cell + (size_t)dim];
}

/* Partial sort of order[lo, hi) so that the element of rank k is in place,
 * ordered by (coordinate, original index) to be deterministic. */
static void select_kth(struct build *b, uint32_t lo, uint32_t hi, uint32_t k, int dim)
{
	uint32_t *a = b->order;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t pivot = a[mid];
		double pv = coord(b, pivot, dim);
		uint32_t i = lo, j = hi - 1;
		a[mid] = a[j];
		a[j] = pivot;
		uint32_t store = lo;
		for (i = lo; i < j; i++) {
			double v = coord(b, a[i], dim);
			if (v < pv || (v == pv && a[i] < pivot)) {
				uint32_t tmp = a[i];
				a[i] = a[store];
				a[store] = tmp;
				store++;
			}
		}
		a[j] = a[store];
		a[store] = pivot;
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

static void build_node(struct build *b, uint32_t node, uint32_t begin, uint32_t end, uint32_t *next)
{
	struct kd_node *nd = &b->t->nodes[node];
	nd->begin = begin;
	nd->end = end;
	nd->left = 0;
	for (int d = 0; d < 3; d++) {
		nd->lo[d] = INFINITY;
		nd->hi[d] = -INFINITY;
	}
	for (uint32_t i = begin; i < end; i++)
		for (int d = 0; d < 3; d++) {
			double v = coord(b, b->order[i], d);
			if (v < nd->lo[d])
				nd->lo[d] = v;
			if (v > nd->hi[d])
				nd->hi[d] = v;
		}
	if (end - begin <= LEAF_CELLS)
		return;
	int dim = 0;
	for (int d = 1; d < 3; d++)
		if (nd->hi[d] - nd->lo[d] > nd->hi[dim] - nd->lo[dim])
			dim = d;
	uint32_t mid = begin + (end - begin) / 2;
	select_kth(b, begin, end, mid, dim);
	uint32_t left = *next;
	*next += 2;
	b->t->nodes[node].left = left;
	build_node(b, left, begin, mid, next);
	build_node(b, left + 1, mid, end, next);
}

int kd_build(struct kd_tree *t, const float *position, uint32_t n)
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
	struct build b = { .t = t, .order = t->index, .position = position };
	for (uint32_t i = 0; i < n; i++)
		t->index[i] = i;
	uint32_t next = 1;
	build_node(&b, 0, 0, n, &next);
	for (uint32_t i = 0; i < n; i++) {
		const float *p = position + 3 * (size_t)t->index[i];
		t->x[i] = p[0];
		t->y[i] = p[1];
		t->z[i] = p[2];
		t->px[t->index[i]] = p[0];
		t->py[t->index[i]] = p[1];
		t->pz[t->index[i]] = p[2];
	}
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

static inline double box_distance2(const struct kd_node *nd, double qx, double qy, double qz)
{
	double dx = qx < nd->lo[0] ? nd->lo[0] - qx : qx > nd->hi[0] ? qx - nd->hi[0] : 0;
	double dy = qy < nd->lo[1] ? nd->lo[1] - qy : qy > nd->hi[1] ? qy - nd->hi[1] : 0;
	double dz = qz < nd->lo[2] ? nd->lo[2] - qz : qz > nd->hi[2] ? qz - nd->hi[2] : 0;
	return (dx * dx + dy * dy) + dz * dz;
}

void kd_nearest(const struct kd_tree *t, double qx, double qy, double qz, uint32_t *best,
		double *best_d2)
{
	if (t->n == 0)
		return;
	uint32_t bi = *best;
	double bd = *best_d2;
	uint32_t stack[128];
	int top = 0;
	stack[top++] = 0;
	while (top > 0) {
		const struct kd_node *nd = &t->nodes[stack[--top]];
		if (box_distance2(nd, qx, qy, qz) > bd)
			continue;
		if (nd->left == 0) {
			for (uint32_t i = nd->begin; i < nd->end; i++) {
				double d2 = distance2(qx, qy, qz, t->x[i], t->y[i], t->z[i]);
				if (d2 < bd || (d2 == bd && t->index[i] < bi)) {
					bd = d2;
					bi = t->index[i];
				}
			}
			continue;
		}
		/* Push the farther child first, so that the nearer is searched first. */
		const struct kd_node *l = &t->nodes[nd->left], *r = &t->nodes[nd->left + 1];
		double dl = box_distance2(l, qx, qy, qz), dr = box_distance2(r, qx, qy, qz);
		if (dl <= dr) {
			if (dr <= bd)
				stack[top++] = nd->left + 1;
			if (dl <= bd)
				stack[top++] = nd->left;
		} else {
			if (dl <= bd)
				stack[top++] = nd->left;
			if (dr <= bd)
				stack[top++] = nd->left + 1;
		}
	}
	*best = bi;
	*best_d2 = bd;
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

/* Squared distance between two boxes (0 if they overlap). */
static inline double box_box_distance2(const double alo[3], const double ahi[3], const double blo[3],
				       const double bhi[3])
{
	double s = 0;
	for (int d = 0; d < 3; d++) {
		double gap = alo[d] > bhi[d] ? alo[d] - bhi[d] : blo[d] > ahi[d] ? blo[d] - ahi[d] : 0;
		s += gap * gap;
	}
	return s;
}

int kd_within_box(const struct kd_tree *t, const double lo[3], const double hi[3], double radius,
		  uint32_t *out, int cap)
{
	if (t->n == 0)
		return 0;
	double r2 = radius * radius;
	int found = 0;
	uint32_t stack[128];
	int top = 0;
	stack[top++] = 0;
	while (top > 0) {
		const struct kd_node *nd = &t->nodes[stack[--top]];
		if (box_box_distance2(nd->lo, nd->hi, lo, hi) > r2)
			continue;
		if (nd->left) {
			stack[top++] = nd->left + 1;
			stack[top++] = nd->left;
			continue;
		}
		for (uint32_t i = nd->begin; i < nd->end; i++) {
			double p[3] = { t->x[i], t->y[i], t->z[i] };
			if (box_box_distance2(p, p, lo, hi) > r2)
				continue;
			if (found == cap)
				return -1;
			out[found++] = t->index[i];
		}
	}
	return found;
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

/* Exact nearest-cell search: a k-d tree with small buckets, median splits
 * on the widest side, bounding boxes for pruning. Pruning only drops a node
 * whose box is strictly farther than the best distance: rounding is monotone,
 * so no cell in it can tie or win, and ties still go to the lower index. */
#include "nearest.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define LEAF_CELLS 32

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

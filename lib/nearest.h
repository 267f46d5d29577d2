/* Exact nearest-cell search on the CPU: a k-d tree over a view's cells,
 * queried with squared Euclidean distances in double precision from the
 * float32 coordinates, ties broken by the lower cell index, which is what a
 * brute-force search over the cells in order picks. */
#ifndef AREPO_NEAREST_H
#define AREPO_NEAREST_H

#include <stdint.h>

#include "hostdevice.h"

/* The distance every backend uses, in this order of operations, so that the
 * same pair of points always gives the same double. */
HOST_DEVICE static inline double distance2(double qx, double qy, double qz, double px, double py, double pz)
{
	double dx = px - qx, dy = py - qy, dz = pz - qz;
	return (dx * dx + dy * dy) + dz * dz;
}

struct kd_node {
	double lo[3], hi[3]; /* bounding box of the node's cells */
	uint32_t begin, end;  /* its cells, in tree order */
	uint32_t left;        /* children left and left + 1; 0 for a leaf */
};

struct kd_tree {
	uint32_t n;          /* cells */
	double *x, *y, *z;   /* coordinates in tree order */
	uint32_t *index;     /* original index of each cell in tree order */
	double *px, *py, *pz; /* coordinates by original index */
	struct kd_node *nodes;
	uint32_t nnodes;
};

/* Squared distance from a point to a node's box (0 inside). Rounding is
 * monotone, so it is never more than the distance2 of a cell in the box. */
HOST_DEVICE static inline double box_distance2(const struct kd_node *nd, double qx, double qy,
					       double qz)
{
	double dx = qx < nd->lo[0] ? nd->lo[0] - qx : qx > nd->hi[0] ? qx - nd->hi[0] : 0;
	double dy = qy < nd->lo[1] ? nd->lo[1] - qy : qy > nd->hi[1] ? qy - nd->hi[1] : 0;
	double dz = qz < nd->lo[2] ? nd->lo[2] - qz : qz > nd->hi[2] ? qz - nd->hi[2] : 0;
	return (dx * dx + dy * dy) + dz * dz;
}

/* The nearest-cell search over a tree's arrays (nodes; coordinates and
 * original indices in tree order), for kd_nearest and the CUDA kernel alike.
 * A node is dropped only when its box is strictly farther than the best
 * distance: no cell in it can tie or win, so ties go to the lower index.
 * *best and *best_d2 as for kd_nearest. The stack holds at most one entry
 * per level of the tree plus one, far below 128 for 2^32 cells. */
HOST_DEVICE static inline void kd_search(const struct kd_node *nodes, const double *x,
					 const double *y, const double *z, const uint32_t *index,
					 double qx, double qy, double qz, uint32_t *best,
					 double *best_d2)
{
	uint32_t bi = *best;
	double bd = *best_d2;
	uint32_t stack[128];
	int top = 0;
	stack[top++] = 0;
	while (top > 0) {
		const struct kd_node *nd = &nodes[stack[--top]];
		if (box_distance2(nd, qx, qy, qz) > bd)
			continue;
		if (nd->left == 0) {
			for (uint32_t i = nd->begin; i < nd->end; i++) {
				double d2 = distance2(qx, qy, qz, x[i], y[i], z[i]);
				if (d2 < bd || (d2 == bd && index[i] < bi)) {
					bd = d2;
					bi = index[i];
				}
			}
			continue;
		}
		/* Push the farther child first, so that the nearer is searched first. */
		const struct kd_node *l = &nodes[nd->left], *r = &nodes[nd->left + 1];
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

/* Builds the tree over n positions (3n floats). Returns 0 or -1 (memory). */
int kd_build(struct kd_tree *t, const float *position, uint32_t n);
/* The same tree, built by up to threads threads. */
int kd_build_threads(struct kd_tree *t, const float *position, uint32_t n, int threads);
void kd_free(struct kd_tree *t);

/* Nearest cell to (qx, qy, qz). On entry *best and *best_d2 may hold a
 * candidate (an upper bound that speeds up the search; *best = UINT32_MAX
 * and *best_d2 = +inf for none); on return they hold the exact answer. */
void kd_nearest(const struct kd_tree *t, double qx, double qy, double qz, uint32_t *best,
		double *best_d2);

/* The k nearest cells to (qx, qy, qz), nearest first, ordered by (distance,
 * index); k <= KD_MAX_K. Fewer when the tree holds fewer cells. Returns how
 * many were found. On entry index[0..hints) may name distinct cells likely
 * to be near (the previous query's answer): they only speed the search up. */
#define KD_MAX_K 32
int kd_knearest(const struct kd_tree *t, double qx, double qy, double qz, int k, int hints,
		uint32_t *index, double *d2);

/* The contenders of the box [lo, hi] against the cell at c: the cells that
 * may be as near as c to some point of the box (bound2 is the largest
 * distance2 from a corner of the box to c). Every cell that is the nearest
 * (distance2, ties to the lower index) to a point of the box is one of them,
 * c and its duplicates included; most of the others are not. Their slots in
 * tree order go to out (t->index[slot] is the cell, t->x[slot]... its
 * position, read where the search just read it), at most cap of them.
 * Returns how many, or -1 if there are more than cap. */
int kd_contenders(const struct kd_tree *t, const double lo[3], const double hi[3],
		  const double c[3], double bound2, uint32_t *out, int cap);
/* The same test for the n cells at slot[] (a larger box's contenders: a
 * smaller box's are among them): those that pass go to out, in order.
 * Returns how many. */
int kd_contenders_among(const struct kd_tree *t, const uint32_t *slot, int n, const double lo[3],
			const double hi[3], const double c[3], double bound2, uint32_t *out);

/* For each of n points (qx, qy, qz), the first of nc >= 1 candidates (cx, cy,
 * cz) at the least distance2, as a scan of the candidates in order picks it:
 * its number (0 to nc - 1) to best[p], the distance to best_d2[p]. Several
 * points at once in SIMD lanes (AVX2 where the CPU has it), each lane doing
 * the scalar roundings in the scalar order, so the choice is the same.
 * This, kd_contenders and kd_contenders_among have AVX2 builds (simd.h). */
void nearest_among(int n, const double *qx, const double *qy, const double *qz, int nc,
		   const double *cx, const double *cy, const double *cz, int *best, double *best_d2);

/* Reference: the brute-force search over positions in order. */
uint32_t brute_nearest(const float *position, uint32_t n, double qx, double qy, double qz,
		       double *best_d2);

#endif

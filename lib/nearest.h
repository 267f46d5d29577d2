/* Exact nearest-cell search on the CPU: a k-d tree over a view's cells,
 * queried with squared Euclidean distances in double precision from the
 * float32 coordinates, ties broken by the lower cell index, which is what a
 * brute-force search over the cells in order picks. */
#ifndef AREPO_NEAREST_H
#define AREPO_NEAREST_H

#include <stdint.h>

/* The distance every backend uses, in this order of operations, so that the
 * same pair of points always gives the same double. */
static inline double distance2(double qx, double qy, double qz, double px, double py, double pz)
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

/* Builds the tree over n positions (3n floats). Returns 0 or -1 (memory). */
int kd_build(struct kd_tree *t, const float *position, uint32_t n);
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

/* Cells whose distance to the box [lo, hi] is at most radius (true
 * distance; the test is made with radius^2 in double, so pass a radius with
 * a margin). Their original indices go to out, at most cap of them.
 * Returns how many, or -1 if there are more than cap. */
int kd_within_box(const struct kd_tree *t, const double lo[3], const double hi[3], double radius,
		  uint32_t *out, int cap);

/* Reference: the brute-force search over positions in order. */
uint32_t brute_nearest(const float *position, uint32_t n, double qx, double qy, double qz,
		       double *best_d2);

#endif

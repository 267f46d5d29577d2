/* Unit tests of SHA-256 and of the observability grids: the LAMDA reader's
 * errors, independence from the number of threads, the key, the grid file.
 * The bit-for-bit comparison with IRIS's own grids is tests/obsgrid.t. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "obsgrid.h"
#include "obsgrid_iris_inputs.h"
#include "sha256.h"
#include "tap.h"

static char dir[] = "/tmp/arepo-test-obsgrid-XXXXXX";

/* A 4-level toy molecule with H2 (not split into para and ortho) and H. */
static const char toy[] =
	"!MOLECULE\n"
	"TOY\n"
	"!MOLECULAR WEIGHT\n"
	"28.0\n"
	"!NUMBER OF ENERGY LEVELS\n"
	"4\n"
	"!LEVEL + ENERGIES(cm^-1) + WEIGHT + J\n"
	"    1     0.0000000000   1.0     0\n"
	"    2     3.8450        3.0     1\n"
	"    3    11.535         5.0     2\n"
	"    4    23.069         7.0     3\n"
	"!NUMBER OF RADIATIVE TRANSITIONS\n"
	"3\n"
	"!TRANS + UP + LOW + EINSTEINA(s^-1) + FREQ(GHz) + E_u(K)\n"
	"    1     2     1  7.203E-08   115.2712018    5.53\n"
	"    2     3     2  6.910E-07   230.5380000   16.60\n"
	"    3     4     3  2.497E-06   345.7959899   33.19\n"
	"!NUMBER OF COLL PARTNERS\n"
	"2\n"
	"!COLLISIONS BETWEEN\n"
	"1 CO-H2\n"
	"!NUMBER OF COLL TRANS\n"
	"6\n"
	"!NUMBER OF COLL TEMPS\n"
	"3\n"
	"!COLL TEMPS\n"
	"   10.0 100.0 1000.0\n"
	"!TRANS+ UP+ LOW+ COLLRATES(cm^3 s^-1)\n"
	" 1 2 1  3.0E-11 3.3E-11 3.6E-11\n"
	" 2 3 1  2.9E-11 3.1E-11 4.5E-11\n"
	" 3 3 2  7.0E-11 6.3E-11 7.0E-11\n"
	" 4 4 1  5.0E-12 1.0E-11 1.8E-11\n"
	" 5 4 2  4.0E-11 4.5E-11 6.0E-11\n"
	" 6 4 3  8.0E-11 7.5E-11 8.0E-11\n"
	"!COLLISIONS BETWEEN\n"
	"5 CO-H\n"
	"!NUMBER OF COLL TRANS\n"
	"3\n"
	"!NUMBER OF COLL TEMPS\n"
	"2\n"
	"!COLL TEMPS\n"
	"   5.0 500.0\n"
	"!TRANS+ UP+ LOW+ COLLRATES(cm^3 s^-1)\n"
	" 1 2 1  1.0E-11 2.0E-11\n"
	" 2 3 2  1.5E-11 3.0E-11\n"
	" 3 4 3  2.0E-11 4.0E-11\n"
	"!\n"
	"! NOTES\n";

static void write_text(const char *path, const char *text, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(text, 1, n, f);
		fclose(f);
	}
}

/* The toy file with line `line` (1-based) replaced by `with` (NULL: the
 * file ends before that line). */
static void write_variant(const char *path, int line, const char *with)
{
	char out[sizeof toy + 256];
	size_t n = 0;
	const char *p = toy;
	for (int no = 1; *p; no++) {
		const char *nl = strchr(p, '\n');
		size_t len = (size_t)(nl - p) + 1;
		if (no == line) {
			if (!with)
				break;
			n += (size_t)sprintf(out + n, "%s\n", with);
		} else {
			memcpy(out + n, p, len);
			n += len;
		}
		p += len;
	}
	write_text(path, out, n);
}

static float *const *arrays(const struct obsgrids *g, float *out[11])
{
	float *a[11] = { g->rho, g->x, g->T, g->j, g->dj_drho, g->dj_dx, g->dj_dT,
			 g->alpha, g->dalpha_drho, g->dalpha_dx, g->dalpha_dT };
	memcpy(out, a, sizeof a);
	return out;
}

static size_t array_len(const struct obsgrids *g, int k)
{
	return k == 0 ? (size_t)g->n_rho : k == 1 ? (size_t)g->n_x : k == 2 ? (size_t)g->n_T :
	       (size_t)(g->n_rho * g->n_x * g->n_T);
}

static int same_grids(const struct obsgrids *a, const struct obsgrids *b)
{
	if (a->n_rho != b->n_rho || a->n_x != b->n_x || a->n_T != b->n_T)
		return 0;
	float *pa[11], *pb[11];
	arrays(a, pa);
	arrays(b, pb);
	for (int k = 0; k < 11; k++)
		if (memcmp(pa[k], pb[k], array_len(a, k) * sizeof(float)) != 0)
			return 0;
	return a->d_bolic == b->d_bolic && a->d_ab == b->d_ab && a->dT == b->dT &&
	       a->nu_ul_ghz == b->nu_ul_ghz && a->molecular_weight == b->molecular_weight &&
	       strcmp(a->key, b->key) == 0;
}

static void test_sha256(void)
{
	char hex[65];
	sha256_hex("", 0, hex);
	is_int(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), 0,
	       "sha256 of the empty message");
	sha256_hex("abc", 3, hex);
	is_int(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), 0,
	       "sha256 of 'abc' (FIPS 180-2 B.1)");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256_hex(two, strlen(two), hex);
	is_int(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), 0,
	       "sha256 of the two-block message (B.2)");
	struct sha256 s;
	char chunk[997];
	memset(chunk, 'a', sizeof chunk);
	sha256_init(&s);
	for (size_t left = 1000000; left;) {
		size_t n = left < sizeof chunk ? left : sizeof chunk;
		sha256_update(&s, chunk, n);
		left -= n;
	}
	sha256_final_hex(&s, hex);
	is_int(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), 0,
	       "sha256 of a million 'a', streamed in 997-byte pieces (B.3)");
	/* Streaming in pieces of every size equals one update, across every
	 * padding case (lengths 0..200). */
	unsigned char msg[200];
	for (int i = 0; i < 200; i++)
		msg[i] = (unsigned char)(i * 37 + 11);
	int same = 1;
	for (size_t len = 0; len <= sizeof msg; len++) {
		char whole[65], parts[65];
		sha256_hex(msg, len, whole);
		for (size_t piece = 1; piece <= 70; piece += 23) {
			sha256_init(&s);
			for (size_t at = 0; at < len; at += piece)
				sha256_update(&s, msg + at, len - at < piece ? len - at : piece);
			sha256_final_hex(&s, parts);
			same &= strcmp(whole, parts) == 0;
		}
	}
	ok(same, "streamed and one-shot digests agree for lengths 0 to 200");
}

static void test_bad_files(void)
{
	char path[512];
	struct obsgrids g;
	struct arepo_err err = { 0 };
	struct obsgrid_inputs in;

	snprintf(path, sizeof path, "%s/absent.dat", dir);
	in = iris_inputs(path, 4, 3, 5);
	is_int(obsgrid_build(&in, 1, &g, &err), 1, "a missing molecular data file is an I/O error (1)");
	contains(err.msg, "absent.dat", "naming the file");

	struct { int line; const char *with; const char *want; const char *what; } cases[] = {
		{ 10, NULL, "ends", "a file that ends inside the levels" },
		{ 10, "    3    11.535   x5.0     2", "bad.dat:10:", "a bad number in a level" },
		{ 9, "    7     3.8450   3.0     1", "bad.dat:9: level number out of range",
		  "a level number out of range" },
		{ 13, "three", "bad.dat:13:", "a bad count" },
		{ 15, "    1     5     1  7.203E-08   115.2712018    5.53",
		  "bad.dat:15: level number out of range", "a transition to a level that does not exist" },
		{ 27, "   10.0 1000.0 100.0", "bad.dat:27: the collision temperatures must increase",
		  "collision temperatures out of order" },
		{ 30, " 2 3 1  2.9E-11 3.1E-11", "bad.dat:30: expected 6 numbers",
		  "a collision row with a rate missing" },
		{ 19, "!COLLISIONS BETWEEN", "bad.dat:19:", "a header where a count belongs" },
		{ 21, "5 CO-H", "no H2 collision rates", "no H2 partner" },
	};
	snprintf(path, sizeof path, "%s/bad.dat", dir);
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		write_variant(path, cases[k].line, cases[k].with);
		in = iris_inputs(path, 4, 3, 5);
		memset(&err, 0, sizeof err);
		is_int(obsgrid_build(&in, 1, &g, &err), 3, "%s: bad data (3)", cases[k].what);
		contains(err.msg, cases[k].want, "%s: the message says where", cases[k].what);
	}

	snprintf(path, sizeof path, "%s/toy.dat", dir);
	in = iris_inputs(path, 4, 3, 5);
	in.upper = 4;
	is_int(obsgrid_build(&in, 1, &g, &err), 2, "a transition beyond the file's levels is a usage error");
	in = iris_inputs(path, 1, 3, 5);
	is_int(obsgrid_build(&in, 1, &g, &err), 2, "so is a grid of one density");
}

static void test_toy(void)
{
	char path[512], out[512], other[512];
	struct arepo_err err = { 0 };
	struct obsgrids g1, g3, back;
	snprintf(path, sizeof path, "%s/toy.dat", dir);
	struct obsgrid_inputs in = iris_inputs(path, 9, 5, 7);
	in.upper = 1;
	in.lower = 0;
	is_int(obsgrid_build(&in, 1, &g1, &err), 0, "the toy molecule's grids build (1 thread) %s", err.msg);
	is_int(obsgrid_build(&in, 3, &g3, &err), 0, "and with 3 threads");
	ok(same_grids(&g1, &g3), "with the same bits");

	size_t cells = (size_t)(g1.n_rho * g1.n_x * g1.n_T);
	int zero_row = 1, positive = 1, finite = 1;
	for (size_t e = 0; e < cells; e++) {
		if (e < (size_t)(g1.n_x * g1.n_T))
			zero_row &= g1.j[e] == 0 && g1.alpha[e] == 0;
		else
			positive &= g1.j[e] > 0;
		finite &= isfinite(g1.j[e]) && isfinite(g1.alpha[e]) && isfinite(g1.dj_drho[e]) &&
			  isfinite(g1.dalpha_dT[e]) && isfinite(g1.dalpha_dx[e]);
	}
	ok(zero_row, "no emission or absorption at zero density");
	ok(positive, "emission everywhere else");
	ok(finite, "the grids are finite");
	ok(g1.rho[0] == 0 && g1.rho[8] > 2338 && g1.rho[8] < 2339,
	   "density axis from 0 to 1e12 m^-3 in g/(1e7 cm)^3 (%g)", (double)g1.rho[8]);
	ok(g1.x[4] == 0.5f && g1.T[6] == 3000.0f && g1.dT == 500.0f && g1.d_ab == 0.125f,
	   "x_H2 and T axes and their steps");
	is_double(g1.nu_ul_ghz, (double)115.2712018f, "the line's frequency as the file gives it");
	is_double(g1.molecular_weight, 28.0, "the molecular weight");

	/* The key. */
	char key[65];
	is_int(obsgrid_key(&in, key, &err), 0, "obsgrid_key");
	is_int(strcmp(key, g1.key), 0, "is the key the build records");
	struct obsgrid_inputs changed = in;
	changed.T_continuum = 2.7300000000000004;
	obsgrid_key(&changed, key, &err);
	ok(strcmp(key, g1.key) != 0, "the last bit of T_continuum changes the key");
	changed = in;
	changed.has_T_continuum = 0;
	obsgrid_key(&changed, key, &err);
	ok(strcmp(key, g1.key) != 0, "so does dropping the radiation field");
	changed = in;
	snprintf(changed.chem_path, sizeof changed.chem_path, "%s/toy-copy.dat", dir);
	write_text(changed.chem_path, toy, sizeof toy - 1);
	obsgrid_key(&changed, key, &err);
	is_int(strcmp(key, g1.key), 0, "the file's path does not matter, only its bytes");
	char edited[sizeof toy + 8];
	snprintf(edited, sizeof edited, "%s!\n", toy);
	write_text(changed.chem_path, edited, strlen(edited));
	obsgrid_key(&changed, key, &err);
	ok(strcmp(key, g1.key) != 0, "one more byte in the file changes the key");
	changed = in;
	changed.has_T_continuum = 0;
	struct obsgrids dark;
	is_int(obsgrid_build(&changed, 0, &dark, &err), 0, "grids without a radiation field build");
	ok(memcmp(dark.j, g1.j, cells * sizeof *g1.j) != 0, "and differ");
	obsgrid_free(&dark);

	/* The grid file. */
	snprintf(out, sizeof out, "%s/grids.h5", dir);
	is_int(obsgrid_save(&g1, out, &err), 0, "obsgrid_save");
	is_int(obsgrid_load(out, g1.key, &back, &err), 0, "obsgrid_load with the same key");
	ok(same_grids(&g1, &back), "gives the same grids, steps and key");
	ok(back.inputs && g1.inputs && strcmp(back.inputs, g1.inputs) == 0 &&
	   strstr(back.inputs, "T_continuum=2.73\n") && strstr(back.inputs, "toy.dat"),
	   "and the description of the inputs");
	obsgrid_free(&back);
	is_int(obsgrid_load(out, NULL, &back, &err), 0, "any key is accepted when none is asked for");
	obsgrid_free(&back);
	memset(&err, 0, sizeof err);
	is_int(obsgrid_load(out, "0000000000000000000000000000000000000000000000000000000000000000",
			    &back, &err),
	       1, "another key: stale (1)");
	ok(back.j == NULL && back.rho == NULL && err.code == 0, "with nothing loaded and no error");

	snprintf(other, sizeof other, "%s/no/such/dir/grids.h5", dir);
	is_int(obsgrid_save(&g1, other, &err), 1, "saving into a missing directory is an I/O error");
	snprintf(other, sizeof other, "%s/absent.h5", dir);
	memset(&err, 0, sizeof err);
	is_int(obsgrid_load(other, g1.key, &back, &err), -1, "loading a missing file fails (-1)");
	ok(err.code != 0, "with an error (%d: %s)", err.code, err.msg);
	memset(&err, 0, sizeof err);
	is_int(obsgrid_load(path, g1.key, &back, &err), -1, "loading a file that is not HDF5 fails");
	is_int(err.code, 3, "as bad data");

	/* A grid of the wrong shape in an otherwise complete file. */
	hid_t f = H5Fopen(out, H5F_ACC_RDWR, H5P_DEFAULT);
	H5Ldelete(f, "dalpha_dT", H5P_DEFAULT);
	hsize_t dims[3] = { 9, 5, 8 };
	hid_t space = H5Screate_simple(3, dims, NULL);
	hid_t d = H5Dcreate2(f, "dalpha_dT", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT,
			     H5P_DEFAULT);
	H5Dclose(d);
	H5Sclose(space);
	H5Fclose(f);
	memset(&err, 0, sizeof err);
	is_int(obsgrid_load(out, g1.key, &back, &err), -1, "a grid of the wrong shape is refused");
	is_int(err.code, 3, "as bad data");
	contains(err.msg, "dalpha_dT", "naming the dataset");
	ok(back.j == NULL, "and nothing is loaded");

	obsgrid_free(&g1);
	obsgrid_free(&g3);
}

/* With IRIS's molecular data (when the references are at hand): a coarse
 * grid is the same with any number of threads (the full grids are compared
 * with IRIS's in tests/obsgrid.t). */
static void test_iris_file(void)
{
	const char *base = getenv("IRIS_OBSERVE_DATA");
	char path[4096];
	snprintf(path, sizeof path, "%s/13C16O.dat", base ? base : "../shared/data/iris-observe");
	if (access(path, R_OK) != 0) {
		printf("ok %d # skip no %s (IRIS_OBSERVE_DATA)\n", ++tap_count, path);
		printf("ok %d # skip no %s (IRIS_OBSERVE_DATA)\n", ++tap_count, path);
		return;
	}
	struct arepo_err err = { 0 };
	struct obsgrids a, b;
	struct obsgrid_inputs in = iris_inputs(path, 16, 8, 8);
	int rc = obsgrid_build(&in, 1, &a, &err);
	rc |= obsgrid_build(&in, 2, &b, &err);
	is_int(rc, 0, "13C16O grids build (16 x 8 x 8) %s", err.msg);
	ok(!rc && same_grids(&a, &b), "identical with 1 and 2 threads");
	if (!rc) {
		obsgrid_free(&a);
		obsgrid_free(&b);
	}
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("Bail out! cannot make a scratch directory\n");
		return 1;
	}
	char path[512];
	snprintf(path, sizeof path, "%s/toy.dat", dir);
	write_text(path, toy, sizeof toy - 1);
	test_sha256();
	test_bad_files();
	test_toy();
	test_iris_file();
	remove_tree(dir);
	return tap_done();
}

/* arepo-mksnap: writes synthetic AREPO-format snapshots (a barred disk
 * galaxy with a dense central ring) for demos, tests and benchmarks. */
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "cli.h"
#include "config.h"
#include "h5util.h"
#include "log.h"
#include "rng.h"

static const char usage[] =
	"Usage: arepo-mksnap [OPTION]... OUTPUT\n"
	"Write a synthetic AREPO snapshot of a barred disk galaxy with a dense\n"
	"central ring: OUTPUT is a file (snap_042.hdf5), or with --files K > 1 a\n"
	"snapshot directory (snapdir_042) of K pieces snap_042.0.hdf5 ...\n"
	"\n"
	"  -n, --cells N          gas cells (default 100000; 1e6 notation accepted)\n"
	"  -k, --files K          pieces of a multi-file snapshot (default 1)\n"
	"  -s, --seed S           seed of the galaxy's random cells (default 0)\n"
	"      --double           write float64 fields (OUTPUT_IN_DOUBLEPRECISION)\n"
	"      --no-chemistry     leave out ChemicalAbundances and DustTemperature,\n"
	"                         as a plain AREPO run without SGChem\n"
	"      --force            replace OUTPUT if it exists\n"
	CLI_COMMON_HELP
	"\n"
	"Units are 1 pc, 1 Msun and 1 km/s; the box is 30000 pc wide with the\n"
	"galactic centre in its middle. The same seed gives the same cells whatever\n"
	"the number of files. See arepo-mksnap(1).\n";

enum { OPT_DOUBLE = CLI_OPT_FIRST_TOOL, OPT_NO_CHEMISTRY, OPT_FORCE };

#define BOX_PC 30000.0
#define PARSEC_CM 3.0856775814913673e18
#define MSUN_G 1.989e33
#define KM_S_CM 1e5
#define BLOCK_CELLS ((uint64_t)1 << 18)
#define DRAWS_PER_CELL 32

struct options {
	uint64_t cells;
	int files;
	uint64_t seed;
	int double_precision;
	int chemistry;
	int force;
	const char *output;
};

/* One block of generated cells, in AREPO units (pc, Msun, km/s). */
struct block {
	double *pos, *vel, *rho, *u, *chem, *dust, *mass;
	uint64_t *ids;
};

/* Circular speed (km/s) of a flat rotation curve with a solid-body core. */
static double circular_speed(double R)
{
	return 220.0 * R / sqrt(R * R + 200.0 * 200.0);
}

static void make_cell(const struct options *o, const struct arepo_config *cfg,
		      const struct rng_stream *galaxy, uint64_t i, struct block *b, uint64_t j)
{
	struct rng_stream s = *galaxy;
	s.counter = i * DRAWS_PER_CELL;
	const double centre = BOX_PC / 2;
	double x, y, z, rho;
	double which = rng_uniform(&s);
	if (which < 0.31) { /* the dense central ring */
		double R = fabs(120.0 + 25.0 * rng_normal(&s));
		double phi = rng_uniform_range(&s, 0, 2 * M_PI);
		x = R * cos(phi);
		y = R * sin(phi);
		z = 12.0 * rng_normal(&s);
		rho = 50.0 * exp(1.0 * rng_normal(&s));
	} else if (which < 0.45) { /* the bar, 25 degrees from the x axis */
		double along = rng_uniform_range(&s, -1500, 1500);
		double across = 250.0 * rng_normal(&s);
		double a = 25.0 * M_PI / 180;
		x = along * cos(a) - across * sin(a);
		y = along * sin(a) + across * cos(a);
		z = 40.0 * rng_normal(&s);
		rho = 5.0 * exp(0.8 * rng_normal(&s));
	} else { /* the exponential disk, 3 kpc scale length, cut at 13 kpc */
		double R = fmin(-3000.0 * log(1.0 - rng_uniform(&s)), 13000.0);
		double phi = rng_uniform_range(&s, 0, 2 * M_PI);
		x = R * cos(phi);
		y = R * sin(phi);
		z = 100.0 * rng_normal(&s);
		rho = 0.5 * exp(-R / 3000.0) * exp(0.8 * rng_normal(&s));
	}
	double R = sqrt(x * x + y * y);
	double vc = circular_speed(R);
	/* Clockwise, as many AREPO runs: spin_orientation -1 views it upright. */
	double tangent_x = R > 0 ? y / R : 0, tangent_y = R > 0 ? -x / R : 0;
	double *p = b->pos + 3 * j, *v = b->vel + 3 * j;
	p[0] = centre + x;
	p[1] = centre + y;
	p[2] = centre + z;
	v[0] = vc * tangent_x + 8.0 * rng_normal(&s);
	v[1] = vc * tangent_y + 8.0 * rng_normal(&s);
	v[2] = 8.0 * rng_normal(&s);
	b->rho[j] = rho;

	/* Temperature log-uniform over 10 K .. 1e5 K; chemistry follows it. */
	double log_t = rng_uniform_range(&s, 1.0, 5.0);
	double t = pow(10.0, log_t);
	double cold = fmin(fmax((4.0 - log_t) / 2.0, 0.0), 1.0); /* 1 below 100 K, 0 above 1e4 K */
	double x_h2 = o->chemistry ? 0.5 * cold * rng_uniform_range(&s, 0.8, 1.0) : 0.5;
	double x_hp = o->chemistry ? (log_t > 4.0 ? rng_uniform_range(&s, 0.5, 1.0) : 1e-4) : 0.0;
	double x_co = o->chemistry ? 1.4e-4 * cold * cold : 0.0;
	if (b->chem) {
		double *c = b->chem + 3 * j;
		c[cfg->dataset_hyper.AREPO_H2_abundance_id] = x_h2;
		c[cfg->dataset_hyper.AREPO_H_plus_abundance_id] = x_hp;
		c[cfg->dataset_hyper.AREPO_CO_abundance_id] = x_co;
		b->dust[j] = rng_uniform_range(&s, 8.0, 40.0);
	}
	/* Invert IRIS's temperature: u = 3/2 k T (1 + x_H+ - x_H2 + x_He) / m_ism. */
	const struct observer_hyper *ob = &cfg->observer_hyper;
	double m_ism = ob->m_H + ob->abundance_He * ob->m_He;
	double u_si = 1.5 * ob->k * t * (1.0 + x_hp - x_h2 + ob->abundance_He) / m_ism;
	b->u[j] = u_si / (KM_S_CM / 100 * KM_S_CM / 100);
	b->mass[j] = 100.0 * exp(0.3 * rng_normal(&s));
	b->ids[j] = i + 1;
}

static hid_t create_dataset(hid_t group, const char *name, hid_t type, uint64_t n, int cols)
{
	hsize_t dims[2] = { n, (hsize_t)cols };
	hid_t space = H5Screate_simple(cols > 1 ? 2 : 1, dims, NULL);
	hid_t dcpl = h5_untimed_plist(H5P_DATASET_CREATE);
	hid_t dset = H5Dcreate2(group, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	H5Pclose(dcpl);
	H5Sclose(space);
	return dset;
}

static hid_t create_group(hid_t file, const char *name)
{
	hid_t gcpl = h5_untimed_plist(H5P_GROUP_CREATE);
	hid_t group = H5Gcreate2(file, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
	H5Pclose(gcpl);
	return group;
}

static int write_rows(hid_t dset, hid_t memtype, uint64_t offset, uint64_t count, int cols,
		      const void *data)
{
	hid_t fspace = H5Dget_space(dset);
	hsize_t start[2] = { offset, 0 }, n[2] = { count, (hsize_t)cols };
	H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, n, NULL);
	hsize_t total = count * (hsize_t)cols;
	hid_t mspace = H5Screate_simple(1, &total, NULL);
	herr_t rc = H5Dwrite(dset, memtype, mspace, fspace, H5P_DEFAULT, data);
	H5Sclose(mspace);
	H5Sclose(fspace);
	return rc < 0 ? -1 : 0;
}

static int write_header(hid_t file, const struct options *o, uint64_t this_file)
{
	hid_t h = create_group(file, "Header");
	if (h < 0)
		return -1;
	int32_t this_part[6] = { (int32_t)this_file, 0, 0, 0, 0, 0 };
	uint32_t total[6] = { (uint32_t)(o->cells & 0xffffffffu), 0, 0, 0, 0, 0 };
	uint32_t high[6] = { (uint32_t)(o->cells >> 32), 0, 0, 0, 0, 0 };
	double mass_table[6] = { 0 };
	int32_t files = o->files, dp = o->double_precision, zero = 0, one = 1;
	double box = BOX_PC, nought = 0.0, unity = 1.0;
	double ul = PARSEC_CM, um = MSUN_G, uv = KM_S_CM;
	int rc = 0;
	rc |= h5_write_attr_doubles(h, "BoxSize", &box, 1);
	rc |= h5_write_attr_int32s(h, "Composition_vector_length", &zero, 1);
	rc |= h5_write_attr_int32s(h, "Flag_Cooling", &one, 1);
	rc |= h5_write_attr_int32s(h, "Flag_DoublePrecision", &dp, 1);
	rc |= h5_write_attr_int32s(h, "Flag_Feedback", &zero, 1);
	rc |= h5_write_attr_int32s(h, "Flag_Metals", &zero, 1);
	rc |= h5_write_attr_int32s(h, "Flag_Sfr", &zero, 1);
	rc |= h5_write_attr_int32s(h, "Flag_StellarAge", &zero, 1);
	rc |= h5_write_attr_doubles(h, "HubbleParam", &unity, 1);
	rc |= h5_write_attr_doubles(h, "MassTable", mass_table, 6);
	rc |= h5_write_attr_int32s(h, "NumFilesPerSnapshot", &files, 1);
	rc |= h5_write_attr_int32s(h, "NumPart_ThisFile", this_part, 6);
	rc |= h5_write_attr_uint32s(h, "NumPart_Total", total, 6);
	rc |= h5_write_attr_uint32s(h, "NumPart_Total_HighWord", high, 6);
	rc |= h5_write_attr_doubles(h, "Omega0", &nought, 1);
	rc |= h5_write_attr_doubles(h, "OmegaBaryon", &nought, 1);
	rc |= h5_write_attr_doubles(h, "OmegaLambda", &nought, 1);
	rc |= h5_write_attr_doubles(h, "Redshift", &nought, 1);
	rc |= h5_write_attr_doubles(h, "Time", &nought, 1);
	rc |= h5_write_attr_doubles(h, "UnitLength_in_cm", &ul, 1);
	rc |= h5_write_attr_doubles(h, "UnitMass_in_g", &um, 1);
	rc |= h5_write_attr_doubles(h, "UnitVelocity_in_cm_per_s", &uv, 1);
	H5Gclose(h);
	return rc;
}

static int write_provenance(hid_t file, const struct options *o)
{
	int64_t seed = (int64_t)o->seed, cells = (int64_t)o->cells;
	int rc = h5_write_attr_string(file, "format", "arepo-snapshot/synthetic");
	rc |= h5_write_attr_string(file, "tool", "arepo-mksnap " AREPO_VERSION);
	rc |= h5_write_attr_int64s(file, "seed", &seed, 1);
	rc |= h5_write_attr_int64s(file, "cells", &cells, 1);
	return rc;
}

/* Writes cells [first, first + n) into one file. */
static int write_piece(const char *path, const struct options *o, const struct arepo_config *cfg,
		       const struct rng_stream *galaxy, uint64_t first, uint64_t n,
		       struct block *b, struct arepo_err *err)
{
	hid_t file = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
	if (file < 0)
		return err_set(err, EXIT_RUNTIME, "%s: cannot create", path);
	int bad = write_header(file, o, n) | write_provenance(file, o);
	hid_t gas = create_group(file, "PartType0");
	hid_t ftype = o->double_precision ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
	hid_t idtype = o->cells >= ((uint64_t)1 << 32) ? H5T_STD_U64LE : H5T_STD_U32LE;
	struct {
		const char *name;
		int cols;
		double *src;
	} fields[] = {
		{ "Coordinates", 3, b->pos }, { "Velocities", 3, b->vel },
		{ "Density", 1, b->rho },     { "InternalEnergy", 1, b->u },
		{ "Masses", 1, b->mass },     { "ChemicalAbundances", 3, b->chem },
		{ "DustTemperature", 1, b->dust },
	};
	enum { NFIELDS = sizeof fields / sizeof fields[0] };
	hid_t dsets[NFIELDS];
	int nfields = o->chemistry ? NFIELDS : NFIELDS - 2;
	for (int f = 0; f < nfields; f++) {
		dsets[f] = create_dataset(gas, fields[f].name, ftype, n, fields[f].cols);
		bad |= dsets[f] < 0;
	}
	hid_t ids = create_dataset(gas, "ParticleIDs", idtype, n, 1);
	bad |= ids < 0;
	for (uint64_t off = 0; off < n && !bad; off += BLOCK_CELLS) {
		uint64_t count = n - off < BLOCK_CELLS ? n - off : BLOCK_CELLS;
		for (uint64_t j = 0; j < count; j++)
			make_cell(o, cfg, galaxy, first + off + j, b, j);
		for (int f = 0; f < nfields && !bad; f++)
			bad |= write_rows(dsets[f], H5T_NATIVE_DOUBLE, off, count, fields[f].cols,
					  fields[f].src);
		bad |= write_rows(ids, H5T_NATIVE_UINT64, off, count, 1, b->ids);
	}
	for (int f = 0; f < nfields; f++)
		if (dsets[f] >= 0)
			H5Dclose(dsets[f]);
	if (ids >= 0)
		H5Dclose(ids);
	H5Gclose(gas);
	bad |= H5Fclose(file) < 0;
	if (bad)
		return err_set(err, EXIT_RUNTIME, "%s: write failed (disk full?)", path);
	return 0;
}

/* "snapdir_042" holds pieces "snap_042.K.hdf5"; other names keep theirs. */
static void piece_stem(const char *dir, char *stem, size_t size)
{
	const char *slash = strrchr(dir, '/');
	const char *name = slash ? slash + 1 : dir;
	if (strncmp(name, "snapdir", 7) == 0)
		snprintf(stem, size, "snap%s", name + 7);
	else
		snprintf(stem, size, "%s", name);
}

static uint64_t parse_cells(const char *text)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || end == text || *end || !(v >= 1) || v > 1e12 || v != floor(v))
		cli_usage_error("--cells %s: expected a whole number of cells, at least 1", text);
	return (uint64_t)v;
}

int main(int argc, char **argv)
{
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	struct options o = { .cells = 100000, .files = 1, .chemistry = 1 };
	static const struct option longopts[] = {
		{ "cells", required_argument, NULL, 'n' },
		{ "files", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 's' },
		{ "double", no_argument, NULL, OPT_DOUBLE },
		{ "no-chemistry", no_argument, NULL, OPT_NO_CHEMISTRY },
		{ "force", no_argument, NULL, OPT_FORCE },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "n:k:s:h", longopts, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case 'n': o.cells = parse_cells(optarg); break;
		case 'k': {
			long long k = cli_parse_count("--files", optarg);
			if (k < 1 || k > 100000)
				cli_usage_error("--files %s: expected 1 to 100000", optarg);
			o.files = (int)k;
			break;
		}
		case 's': o.seed = (uint64_t)cli_parse_count("--seed", optarg); break;
		case OPT_DOUBLE: o.double_precision = 1; break;
		case OPT_NO_CHEMISTRY: o.chemistry = 0; break;
		case OPT_FORCE: o.force = 1; break;
		default: cli_usage_error(NULL);
		}
	}
	if (optind != argc - 1)
		cli_usage_error(optind == argc ? "missing OUTPUT" : "too many operands");
	o.output = argv[optind];
	if ((uint64_t)o.files > o.cells)
		cli_usage_error("--files %d: more files than cells", o.files);

	struct arepo_err err = { 0 };
	struct arepo_config cfg;
	if (cli_load_config(&cli, &cfg, &err))
		die_err(&err);
	h5_quiet();

	struct stat st;
	if (stat(o.output, &st) == 0) {
		if (!o.force) {
			log_warn("%s exists; not rewritten (use --force to replace it)", o.output);
			return EXIT_OK;
		}
	}

	uint64_t block = o.cells < BLOCK_CELLS ? o.cells : BLOCK_CELLS;
	struct block b = {
		.pos = malloc(block * 3 * sizeof(double)),
		.vel = malloc(block * 3 * sizeof(double)),
		.rho = malloc(block * sizeof(double)),
		.u = malloc(block * sizeof(double)),
		.chem = o.chemistry ? malloc(block * 3 * sizeof(double)) : NULL,
		.dust = o.chemistry ? malloc(block * sizeof(double)) : NULL,
		.mass = malloc(block * sizeof(double)),
		.ids = malloc(block * sizeof(uint64_t)),
	};
	if (!b.pos || !b.vel || !b.rho || !b.u || !b.mass || !b.ids || (o.chemistry && (!b.chem || !b.dust)))
		die(EXIT_RUNTIME, "out of memory");

	struct rng_stream galaxy;
	rng_init(&galaxy, o.seed, "arepo-mksnap", -1, "cells");

	struct atomic_output out;
	if (atomic_begin(&out, o.output, &err))
		die_err(&err);
	int rc = 0;
	if (o.files == 1) {
		rc = write_piece(out.temp, &o, &cfg, &galaxy, 0, o.cells, &b, &err);
	} else {
		char stem[256];
		piece_stem(o.output, stem, sizeof stem);
		if (mkdir(out.temp, 0777) != 0)
			rc = err_set(&err, EXIT_RUNTIME, "%s: cannot create directory: %s", out.temp,
				     strerror(errno));
		for (int k = 0; k < o.files && !rc; k++) {
			uint64_t first = o.cells * (uint64_t)k / (uint64_t)o.files;
			uint64_t next = o.cells * (uint64_t)(k + 1) / (uint64_t)o.files;
			char path[PATH_MAX];
			if (snprintf(path, sizeof path, "%s/%s.%d.hdf5", out.temp, stem, k) >= (int)sizeof path)
				rc = err_set(&err, EXIT_USAGE, "%s: path too long", o.output);
			else
				rc = write_piece(path, &o, &cfg, &galaxy, first, next - first, &b, &err);
		}
	}
	/* rename() replaces a file in one step; a directory must go first. */
	if (!rc && o.force && stat(o.output, &st) == 0 && (S_ISDIR(st.st_mode) || o.files > 1) &&
	    remove_tree(o.output) != 0)
		rc = err_set(&err, EXIT_RUNTIME, "%s: cannot replace: %s", o.output, strerror(errno));
	if (!rc)
		rc = atomic_commit(&out, &err);
	else
		atomic_abort(&out);
	if (rc)
		die_err(&err);
	printf("%s\n", o.output);
	return EXIT_OK;
}

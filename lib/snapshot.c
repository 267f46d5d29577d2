/* The AREPO snapshot reader: finds the pieces of a snapshot, checks them
 * before any long work starts, and reads gas cells chunk by chunk. */
#include "snapshot.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5util.h"

#define GAS "PartType0"

/* Splits "snap_042.3.hdf5" into "snap_042", 3 and ".hdf5"; returns 0 if the
 * name has that shape. */
static int split_piece_name(const char *name, char *base, size_t basesize, long *number,
			    char *ext, size_t extsize)
{
	const char *dot_ext = strrchr(name, '.');
	if (!dot_ext || dot_ext == name)
		return -1;
	const char *p = dot_ext;
	while (p > name && isdigit((unsigned char)p[-1]))
		p--;
	if (p == dot_ext || p == name || p[-1] != '.')
		return -1;
	snprintf(base, basesize, "%.*s", (int)(p - 1 - name), name);
	*number = strtol(p, NULL, 10);
	snprintf(ext, extsize, "%s", dot_ext);
	return 0;
}

static int has_snapshot_extension(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && strcmp(name + n - 5, ".hdf5") == 0) || (n > 3 && strcmp(name + n - 3, ".h5") == 0);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Finds the single "<base>.0.<ext>" in a snapdir. */
static int find_piece_zero(const char *dir, char *base, size_t basesize, char *ext, size_t extsize,
			   struct arepo_err *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return err_set(err, EXIT_RUNTIME, "%s: cannot read directory: %s", dir, strerror(errno));
	int found = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char b[256], x[32];
		long number;
		if (!has_snapshot_extension(e->d_name) ||
		    split_piece_name(e->d_name, b, sizeof b, &number, x, sizeof x) || number != 0)
			continue;
		if (found++ == 0) {
			snprintf(base, basesize, "%s", b);
			snprintf(ext, extsize, "%s", x);
		}
	}
	closedir(d);
	if (found == 0)
		return err_set(err, EXIT_BADDATA, "%s: no snapshot piece 0 (NAME.0.hdf5) in this "
			       "directory", dir);
	if (found > 1)
		return err_set(err, EXIT_BADDATA, "%s: more than one snapshot in this directory", dir);
	return 0;
}

static int open_hdf5(const char *path, hid_t *file, struct arepo_err *err)
{
	return h5_open_checked(path, file, err);
}

static int read_header(hid_t file, const char *path, struct snap_header *h, int64_t this_file[6],
		       struct arepo_err *err)
{
	if (H5Lexists(file, "Header", H5P_DEFAULT) <= 0)
		return err_set(err, EXIT_BADDATA, "%s: no Header group: not an AREPO snapshot", path);
	hid_t g = H5Gopen2(file, "Header", H5P_DEFAULT);
	if (g < 0) {
		char why[256];
		return err_set(err, EXIT_BADDATA, "%s: cannot open Header: %s", path,
			       h5_reason(why, sizeof why));
	}
	int64_t num_files = 0, total[6], high[6] = { 0 };
	struct {
		const char *name;
		double *dst;
		size_t n;
	} doubles[] = {
		{ "BoxSize", &h->box_size, 1 },
		{ "UnitLength_in_cm", &h->unit_length_cm, 1 },
		{ "UnitMass_in_g", &h->unit_mass_g, 1 },
		{ "UnitVelocity_in_cm_per_s", &h->unit_velocity_cm_per_s, 1 },
		{ "MassTable", h->mass_table, 6 },
	};
	int rc = 0;
	for (size_t i = 0; i < sizeof doubles / sizeof doubles[0] && !rc; i++) {
		int r = h5_attr_doubles(g, doubles[i].name, doubles[i].dst, doubles[i].n);
		if (r == -1)
			rc = err_set(err, EXIT_BADDATA, "%s: Header attribute %s is missing", path,
				     doubles[i].name);
		else if (r)
			rc = err_set(err, EXIT_BADDATA, "%s: Header attribute %s is not %zu number%s",
				     path, doubles[i].name, doubles[i].n, doubles[i].n > 1 ? "s" : "");
	}
	struct {
		const char *name;
		int64_t *dst;
		size_t n;
	} ints[] = {
		{ "NumFilesPerSnapshot", &num_files, 1 },
		{ "NumPart_ThisFile", this_file, 6 },
		{ "NumPart_Total", total, 6 },
	};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0] && !rc; i++) {
		int r = h5_attr_int64s(g, ints[i].name, ints[i].dst, ints[i].n);
		if (r == -1)
			rc = err_set(err, EXIT_BADDATA, "%s: Header attribute %s is missing", path,
				     ints[i].name);
		else if (r)
			rc = err_set(err, EXIT_BADDATA, "%s: Header attribute %s is not %zu integer%s",
				     path, ints[i].name, ints[i].n, ints[i].n > 1 ? "s" : "");
	}
	if (!rc) {
		/* Optional in AREPO's output: absent means zero. */
		h5_attr_int64s(g, "NumPart_Total_HighWord", high, 6);
		h->time = h->redshift = 0;
		h5_attr_doubles(g, "Time", &h->time, 1);
		h5_attr_doubles(g, "Redshift", &h->redshift, 1);
		h->num_files = (int)num_files;
		h->num_gas = (uint64_t)(total[0] & 0xffffffffLL) | ((uint64_t)high[0] << 32);
		if (num_files < 1 || num_files > 1000000)
			rc = err_set(err, EXIT_BADDATA, "%s: Header NumFilesPerSnapshot is %lld", path,
				     (long long)num_files);
		else if (!(isfinite(h->box_size) && h->box_size > 0))
			rc = err_set(err, EXIT_BADDATA, "%s: Header BoxSize is %g", path, h->box_size);
		else if (!(h->unit_length_cm > 0 && h->unit_mass_g > 0 && h->unit_velocity_cm_per_s > 0))
			rc = err_set(err, EXIT_BADDATA, "%s: Header units must be positive", path);
		else if (this_file[0] < 0)
			rc = err_set(err, EXIT_BADDATA, "%s: Header NumPart_ThisFile[0] is negative", path);
	}
	H5Gclose(g);
	return rc;
}

/* Checks one float dataset of a piece: present, floating point, shape
 * (n) or (n, cols) with cols >= min_cols. Returns its columns in *cols. */
static int check_dataset(hid_t file, const char *path, const char *name, uint64_t n, int matrix,
			 int min_cols, int *cols, int *is_double, struct arepo_err *err)
{
	char full[128];
	snprintf(full, sizeof full, GAS "/%s", name);
	int rank;
	hsize_t dims[4];
	if (h5_dataset_dims(file, full, &rank, dims) < 0)
		return err_set(err, EXIT_BADDATA, "%s: dataset %s is missing", path, full);
	hid_t dset = H5Dopen2(file, full, H5P_DEFAULT);
	hid_t type = H5Dget_type(dset);
	int is_float = H5Tget_class(type) == H5T_FLOAT;
	size_t size = H5Tget_size(type);
	H5Tclose(type);
	H5Dclose(dset);
	if (!is_float)
		return err_set(err, EXIT_BADDATA, "%s: %s is not a floating-point dataset", path, full);
	if (is_double)
		*is_double = size == 8;
	if (matrix) {
		if (rank != 2 || dims[1] < (hsize_t)min_cols)
			return err_set(err, EXIT_BADDATA, "%s: %s has shape %s; expected (%llu, %s%d)",
				       path, full, rank == 2 ? "(N, too few columns)" : "of another rank",
				       (unsigned long long)n, min_cols > 3 ? ">=" : "", min_cols);
		if (cols)
			*cols = (int)dims[1];
	} else if (rank != 1) {
		return err_set(err, EXIT_BADDATA, "%s: %s has rank %d; expected a list of %llu values",
			       path, full, rank, (unsigned long long)n);
	}
	if (dims[0] != n)
		return err_set(err, EXIT_BADDATA, "%s: %s holds %llu cells but NumPart_ThisFile[0] is "
			       "%llu", path, full, (unsigned long long)dims[0], (unsigned long long)n);
	return 0;
}

static int check_piece(struct snapshot *snap, int k, hid_t file, uint64_t n, struct arepo_err *err)
{
	const char *path = snap->pieces[k].path;
	int rc, is_double = 0, cols = 0;
	if (n == 0)
		return 0; /* AREPO writes no PartType0 group into a piece without gas */
	if ((rc = check_dataset(file, path, "Coordinates", n, 1, 3, NULL, &is_double, err)))
		return rc;
	if (k == 0)
		snap->double_precision = is_double;
	if ((rc = check_dataset(file, path, "Velocities", n, 1, 3, NULL, NULL, err)) ||
	    (rc = check_dataset(file, path, "Density", n, 0, 0, NULL, NULL, err)) ||
	    (rc = check_dataset(file, path, "InternalEnergy", n, 0, 0, NULL, NULL, err)))
		return rc;

	int has_dust = H5Lexists(file, GAS "/DustTemperature", H5P_DEFAULT) > 0;
	int has_chem = H5Lexists(file, GAS "/ChemicalAbundances", H5P_DEFAULT) > 0;
	int has_mass = H5Lexists(file, GAS "/Masses", H5P_DEFAULT) > 0;
	if (has_dust || !snap->default_dust.set) {
		if ((rc = check_dataset(file, path, "DustTemperature", n, 0, 0, NULL, NULL, err))) {
			if (!has_dust)
				err_set(err, EXIT_BADDATA, "%s: dataset " GAS "/DustTemperature is missing "
					"(an AREPO run without SGChem?); set "
					"dataset_hyper.default_dust_temperature to use a constant", path);
			return rc;
		}
	}
	if (snap->use_abundances) {
		long long need = snap->h2_column;
		if (snap->h_plus_column > need)
			need = snap->h_plus_column;
		if (snap->co_column > need)
			need = snap->co_column;
		rc = check_dataset(file, path, "ChemicalAbundances", n, 1, (int)need + 1, &cols, NULL, err);
		if (rc) {
			if (!has_chem)
				err_set(err, EXIT_BADDATA, "%s: dataset " GAS "/ChemicalAbundances is "
					"missing (an AREPO run without SGChem?); set "
					"dataset_hyper.use_AREPO_abundances to false to use IRIS's "
					"fallback abundances", path);
			return rc;
		}
		snap->abundance_columns = cols;
	}
	if (has_mass && (rc = check_dataset(file, path, "Masses", n, 0, 0, NULL, NULL, err)))
		return rc;
	snap->has_dust &= has_dust;
	snap->has_abundances &= has_chem;
	snap->has_masses &= has_mass;
	return 0;
}

/* Where a snapshot's pieces are and how they are named: its directory, stem,
 * extension, piece number (-1 for a single file, 0 for piece 0 or a
 * snapdir) and the first file to read. */
static int locate(const char *path, char dir[PATH_MAX], char base[256], char ext[32], long *number,
		  char first[PATH_MAX], struct arepo_err *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return err_set(err, EXIT_RUNTIME, "%s: %s", path, strerror(errno));
	*number = -1;
	if (S_ISDIR(st.st_mode)) {
		int rc = find_piece_zero(path, base, 256, ext, 32, err);
		if (rc)
			return rc;
		snprintf(dir, PATH_MAX, "%s", path);
		*number = 0;
		if (snprintf(first, PATH_MAX, "%s/%s.0%s", dir, base, ext) >= PATH_MAX)
			return err_set(err, EXIT_USAGE, "%s: path too long", path);
		return 0;
	}
	const char *name = base_name(path);
	snprintf(dir, PATH_MAX, "%.*s", name == path ? 1 : (int)(name - path - 1),
		 name == path ? "." : path);
	if (split_piece_name(name, base, 256, number, ext, 32) != 0) {
		const char *dot = strrchr(name, '.');
		snprintf(base, 256, "%.*s", dot ? (int)(dot - name) : (int)strlen(name), name);
		*number = -1;
	}
	snprintf(first, PATH_MAX, "%s", path);
	return 0;
}

int snap_name(const char *path, char *name, size_t size, struct arepo_err *err)
{
	char dir[PATH_MAX], base[256], ext[32], first[PATH_MAX];
	long number;
	if (strlen(path) >= PATH_MAX - 32)
		return err_set(err, EXIT_USAGE, "%s: path too long", path);
	int rc = locate(path, dir, base, ext, &number, first, err);
	if (!rc)
		snprintf(name, size, "%s", base);
	return rc;
}

/* Piece k of the snapshot: its path, its header checked against piece 0's,
 * its datasets (check_piece); its cells follow those of the pieces before. */
static int open_piece(struct snapshot *snap, int k, const char *dir, const char *base,
		      const char *ext, const char *first, uint64_t *total, struct arepo_err *err)
{
	struct snap_piece *piece = &snap->pieces[k];
	const int nfiles = snap->npieces;
	if (nfiles == 1)
		snprintf(piece->path, sizeof piece->path, "%s", first);
	else if (snprintf(piece->path, sizeof piece->path, "%s/%s.%d%s", dir, base, k, ext) >=
		 (int)sizeof piece->path)
		return err_set(err, EXIT_USAGE, "%s: path too long", dir);
	if (access(piece->path, F_OK) != 0)
		return err_set(err, EXIT_BADDATA, "%s: piece %d of the %d-file snapshot is missing",
			       piece->path, k, nfiles);
	struct snap_header h;
	int64_t this_file[6];
	hid_t file;
	int rc = open_hdf5(piece->path, &file, err);
	if (rc)
		return rc;
	rc = read_header(file, piece->path, &h, this_file, err);
	if (!rc && h.num_files != nfiles)
		rc = err_set(err, EXIT_BADDATA, "%s: NumFilesPerSnapshot is %d, piece 0 says %d",
			     piece->path, h.num_files, nfiles);
	if (!rc && h.box_size != snap->header.box_size)
		rc = err_set(err, EXIT_BADDATA, "%s: BoxSize differs from piece 0's", piece->path);
	piece->ncells = (uint64_t)this_file[0];
	piece->first_cell = *total;
	if (!rc)
		rc = check_piece(snap, k, file, piece->ncells, err);
	H5Fclose(file);
	*total += piece->ncells;
	return rc;
}

int snap_open(struct snapshot *snap, const char *path, const struct arepo_config *cfg,
	      struct arepo_err *err)
{
	memset(snap, 0, sizeof *snap);
	snap->open_piece = -1;
	snap->file = -1;
	h5_quiet();
	if (strlen(path) >= sizeof snap->path - 32)
		return err_set(err, EXIT_USAGE, "%s: path too long", path);
	snprintf(snap->path, sizeof snap->path, "%s", path);
	snap->use_abundances = cfg->dataset_hyper.use_AREPO_abundances;
	snap->h2_column = cfg->dataset_hyper.AREPO_H2_abundance_id;
	snap->h_plus_column = cfg->dataset_hyper.AREPO_H_plus_abundance_id;
	snap->co_column = cfg->dataset_hyper.AREPO_CO_abundance_id;
	snap->default_dust = cfg->dataset_hyper.default_dust_temperature;

	/* Piece 0 (or the only file) says how many there are. */
	char dir[PATH_MAX], base[256], ext[32], first[PATH_MAX];
	long number;
	int rc = locate(path, dir, base, ext, &number, first, err);
	if (rc)
		return rc;
	snprintf(snap->name, sizeof snap->name, "%s", base);
	hid_t file = -1;
	int64_t this_file[6];
	if ((rc = open_hdf5(first, &file, err)))
		return rc;
	rc = read_header(file, first, &snap->header, this_file, err);
	H5Fclose(file);
	if (rc)
		return rc;
	const int nfiles = snap->header.num_files;
	if (nfiles > 1 && number != 0)
		return err_set(err, EXIT_BADDATA, "%s: Header says the snapshot has %d files; give "
			       "its directory or its piece 0", first, nfiles);
	snap->npieces = nfiles;
	snap->pieces = calloc((size_t)nfiles, sizeof *snap->pieces);
	if (!snap->pieces)
		return err_set(err, EXIT_RUNTIME, "out of memory");
	snap->has_dust = snap->has_abundances = snap->has_masses = 1;
	snap->abundance_columns = 0;

	uint64_t total = 0;
	for (int k = 0; k < nfiles && !rc; k++)
		rc = open_piece(snap, k, dir, base, ext, first, &total, err);
	if (!rc && total != snap->header.num_gas)
		rc = err_set(err, EXIT_BADDATA, "%s: the pieces hold %llu gas cells but NumPart_Total "
			     "says %llu", snap->path, (unsigned long long)total,
			     (unsigned long long)snap->header.num_gas);
	if (rc) {
		snap_close(snap);
		return rc;
	}
	snap->ncells = total;
	if (total == 0)
		snap->has_dust = snap->has_abundances = snap->has_masses = 0;
	return 0;
}

void snap_close(struct snapshot *snap)
{
	if (snap->file >= 0)
		H5Fclose(snap->file);
	snap->file = -1;
	snap->open_piece = -1;
	free(snap->pieces);
	snap->pieces = NULL;
	snap->npieces = 0;
}

static int field_columns(const struct snapshot *snap, unsigned field)
{
	switch (field) {
	case SNAP_POSITION:
	case SNAP_VELOCITY:
		return 3;
	case SNAP_ABUNDANCES:
		return snap->use_abundances ? snap->abundance_columns : 0;
	default:
		return 1;
	}
}

size_t snap_bytes_per_cell(const struct snapshot *snap, unsigned fields)
{
	size_t floats = 0;
	int widest = 3;
	for (unsigned f = 1; f <= SNAP_MASS; f <<= 1) {
		if (!(fields & f))
			continue;
		floats += f == SNAP_ABUNDANCES ? 3 : (size_t)field_columns(snap, f);
		if (field_columns(snap, f) > widest)
			widest = field_columns(snap, f);
	}
	return floats * sizeof(float) + (size_t)widest * sizeof(double);
}

size_t snap_bytes_on_disk(const struct snapshot *snap, unsigned fields)
{
	size_t values = 0;
	for (unsigned f = 1; f <= SNAP_MASS; f <<= 1) {
		if (!(fields & f))
			continue;
		if (f == SNAP_DUST && !snap->has_dust)
			continue;
		if (f == SNAP_MASS && !snap->has_masses)
			continue;
		values += (size_t)field_columns(snap, f);
	}
	return values * (snap->double_precision ? 8 : 4);
}

uint64_t snap_chunk_cells(const struct snapshot *snap, unsigned fields, size_t max_bytes)
{
	if (max_bytes == 0)
		max_bytes = (size_t)64 << 20;
	uint64_t cells = max_bytes / snap_bytes_per_cell(snap, fields);
	return cells ? cells : 1;
}

int snap_plan_chunks(const struct snapshot *snap, uint64_t max_cells, struct snap_chunk **chunks,
		     size_t *nchunks, struct arepo_err *err)
{
	if (max_cells == 0)
		max_cells = 1;
	size_t n = 0;
	for (int k = 0; k < snap->npieces; k++)
		n += (size_t)((snap->pieces[k].ncells + max_cells - 1) / max_cells);
	*chunks = calloc(n ? n : 1, sizeof **chunks);
	if (!*chunks)
		return err_set(err, EXIT_RUNTIME, "out of memory");
	size_t i = 0;
	for (int k = 0; k < snap->npieces; k++) {
		for (uint64_t off = 0; off < snap->pieces[k].ncells; off += max_cells) {
			uint64_t left = snap->pieces[k].ncells - off;
			(*chunks)[i++] = (struct snap_chunk){
				.piece = k,
				.offset = off,
				.count = left < max_cells ? left : max_cells,
				.first_cell = snap->pieces[k].first_cell + off,
			};
		}
	}
	*nchunks = n;
	return 0;
}

static int grow(struct snap_raw *raw, uint64_t n, int scratch_cols)
{
	if (n <= raw->capacity && raw->scratch)
		return 0;
	float **arrays[] = { &raw->density, &raw->internal_energy, &raw->x_h2, &raw->x_h_plus,
			     &raw->x_co, &raw->dust, &raw->mass };
	snap_raw_free(raw);
	raw->position = malloc(n * 3 * sizeof(float));
	raw->velocity = malloc(n * 3 * sizeof(float));
	int ok = raw->position && raw->velocity;
	for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
		ok &= (*arrays[i] = malloc(n * sizeof(float))) != NULL;
	raw->scratch = malloc(n * (size_t)scratch_cols * sizeof(double));
	ok &= raw->scratch != NULL;
	if (!ok) {
		snap_raw_free(raw);
		return -1;
	}
	raw->capacity = n;
	return 0;
}

void snap_raw_free(struct snap_raw *raw)
{
	free(raw->position);
	free(raw->velocity);
	free(raw->density);
	free(raw->internal_energy);
	free(raw->x_h2);
	free(raw->x_h_plus);
	free(raw->x_co);
	free(raw->dust);
	free(raw->mass);
	free(raw->scratch);
	memset(raw, 0, sizeof *raw);
}

/* Reads rows [offset, offset + count) of a (N) or (N, cols) dataset,
 * converted to memtype, into buf. */
static int read_hyperslab(const struct snapshot *snap, const char *name, const struct snap_chunk *c,
			  int cols, hid_t memtype, void *buf, struct arepo_err *err)
{
	char full[128];
	snprintf(full, sizeof full, GAS "/%s", name);
	const char *path = snap->pieces[c->piece].path;
	hid_t dset = H5Dopen2(snap->file, full, H5P_DEFAULT);
	if (dset < 0) {
		char why[256];
		return err_set(err, EXIT_BADDATA, "%s: cannot open %s: %s", path, full,
			       h5_reason(why, sizeof why));
	}
	hid_t fspace = H5Dget_space(dset);
	hsize_t start[2] = { c->offset, 0 }, count[2] = { c->count, (hsize_t)cols };
	H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
	hsize_t mcount = c->count * (hsize_t)cols;
	hid_t mspace = H5Screate_simple(1, &mcount, NULL);
	herr_t status = H5Dread(dset, memtype, mspace, fspace, H5P_DEFAULT, buf);
	char why[256] = "";
	if (status < 0)
		h5_reason(why, sizeof why);
	H5Sclose(mspace);
	H5Sclose(fspace);
	H5Dclose(dset);
	if (status < 0)
		return err_set(err, EXIT_BADDATA, "%s: cannot read %s cells %llu..%llu (truncated or "
			       "damaged file?): %s", path, full, (unsigned long long)c->offset,
			       (unsigned long long)(c->offset + c->count - 1), why);
	return 0;
}

static int read_rows(const struct snapshot *snap, const char *name, const struct snap_chunk *c,
		     int cols, double *scratch, struct arepo_err *err)
{
	return read_hyperslab(snap, name, c, cols, H5T_NATIVE_DOUBLE, scratch, err);
}

/* Reads a float column set as float32: directly when stored as float32,
 * otherwise as double rounded once, as IRIS's np.array(..., dtype=np.float32). */
static int read_floats(const struct snapshot *snap, const char *name, const struct snap_chunk *c,
		       int cols, float *out, double *scratch, struct arepo_err *err)
{
	char full[128];
	snprintf(full, sizeof full, GAS "/%s", name);
	hid_t dset = H5Dopen2(snap->file, full, H5P_DEFAULT);
	if (dset < 0) {
		char why[256];
		return err_set(err, EXIT_BADDATA, "%s: cannot open %s: %s", snap->pieces[c->piece].path,
			       full, h5_reason(why, sizeof why));
	}
	hid_t type = H5Dget_type(dset);
	int single = H5Tget_class(type) == H5T_FLOAT && H5Tget_size(type) == 4;
	H5Tclose(type);
	H5Dclose(dset);
	if (single)
		return read_hyperslab(snap, name, c, cols, H5T_NATIVE_FLOAT, out, err);
	int rc = read_rows(snap, name, c, cols, scratch, err);
	if (rc)
		return rc;
	size_t n = (size_t)c->count * (size_t)cols;
	for (size_t i = 0; i < n; i++)
		out[i] = (float)scratch[i];
	return 0;
}

static void fill(float *a, uint64_t n, float v)
{
	for (uint64_t i = 0; i < n; i++)
		a[i] = v;
}

int snap_read_chunk(struct snapshot *snap, const struct snap_chunk *c, unsigned fields,
		    struct snap_raw *raw, struct arepo_err *err)
{
	int cols = snap->use_abundances && snap->abundance_columns > 3 ? snap->abundance_columns : 3;
	if (grow(raw, c->count, cols))
		return err_set(err, EXIT_RUNTIME, "out of memory for a chunk of %llu cells",
			       (unsigned long long)c->count);
	raw->n = c->count;
	raw->fields = fields;
	if (c->count == 0)
		return 0;
	if (snap->open_piece != c->piece) {
		if (snap->file >= 0)
			H5Fclose(snap->file);
		snap->open_piece = -1;
		int rc = open_hdf5(snap->pieces[c->piece].path, &snap->file, err);
		if (rc)
			return rc;
		snap->open_piece = c->piece;
	}
	const char *path = snap->pieces[c->piece].path;
	int rc = 0;
	if (fields & SNAP_POSITION) {
		/* Checked before rounding: a float64 beyond float32's range is not finite. */
		if (snap->double_precision) {
			if ((rc = read_rows(snap, "Coordinates", c, 3, raw->scratch, err)))
				return rc;
			for (uint64_t i = 0; i < 3 * c->count; i++) {
				if (!isfinite(raw->scratch[i]) || !isfinite((float)raw->scratch[i]))
					return err_set(err, EXIT_BADDATA, "%s: " GAS "/Coordinates of cell "
						       "%llu is not finite (%g)", path,
						       (unsigned long long)(c->offset + i / 3), raw->scratch[i]);
				raw->position[i] = (float)raw->scratch[i];
			}
		} else {
			if ((rc = read_floats(snap, "Coordinates", c, 3, raw->position, raw->scratch, err)))
				return rc;
			for (uint64_t i = 0; i < 3 * c->count; i++)
				if (!isfinite(raw->position[i]))
					return err_set(err, EXIT_BADDATA, "%s: " GAS "/Coordinates of cell "
						       "%llu is not finite (%g)", path,
						       (unsigned long long)(c->offset + i / 3),
						       (double)raw->position[i]);
		}
	}
	if ((fields & SNAP_VELOCITY) &&
	    (rc = read_floats(snap, "Velocities", c, 3, raw->velocity, raw->scratch, err)))
		return rc;
	if ((fields & SNAP_DENSITY) &&
	    (rc = read_floats(snap, "Density", c, 1, raw->density, raw->scratch, err)))
		return rc;
	if ((fields & SNAP_INTERNAL_ENERGY) &&
	    (rc = read_floats(snap, "InternalEnergy", c, 1, raw->internal_energy, raw->scratch, err)))
		return rc;
	if (fields & SNAP_ABUNDANCES) {
		if (snap->use_abundances) {
			int ncol = snap->abundance_columns;
			if ((rc = read_rows(snap, "ChemicalAbundances", c, ncol, raw->scratch, err)))
				return rc;
			for (uint64_t i = 0; i < c->count; i++) {
				const double *row = raw->scratch + i * (uint64_t)ncol;
				raw->x_h2[i] = (float)row[snap->h2_column];
				raw->x_h_plus[i] = (float)row[snap->h_plus_column];
				raw->x_co[i] = (float)row[snap->co_column];
			}
		} else {
			/* IRIS: all hydrogen molecular, no H+, no CO. */
			fill(raw->x_h2, c->count, 0.5f);
			fill(raw->x_h_plus, c->count, 0.0f);
			fill(raw->x_co, c->count, 0.0f);
		}
	}
	if (fields & SNAP_DUST) {
		if (snap->has_dust)
			rc = read_floats(snap, "DustTemperature", c, 1, raw->dust, raw->scratch, err);
		else
			fill(raw->dust, c->count, (float)snap->default_dust.value);
		if (rc)
			return rc;
	}
	if (fields & SNAP_MASS) {
		if (snap->has_masses)
			rc = read_floats(snap, "Masses", c, 1, raw->mass, raw->scratch, err);
		else if (snap->header.mass_table[0] > 0)
			fill(raw->mass, c->count, (float)snap->header.mass_table[0]);
		else
			rc = err_set(err, EXIT_BADDATA, "%s: no " GAS "/Masses and MassTable[0] is 0",
				     path);
	}
	return rc;
}

void snap_unphysical_init(struct snap_unphysical *u)
{
	memset(u, 0, sizeof *u);
	u->first = UINT64_MAX;
}

void snap_check_physical(const struct snapshot *snap, const struct snap_chunk *c,
			 const struct snap_raw *raw, struct snap_unphysical *u)
{
	for (uint64_t i = 0; i < raw->n; i++) {
		const float d = raw->density[i], e = raw->internal_energy[i];
		const float *v = raw->velocity + 3 * i;
		/* Written so that NaN fails every test. */
		const int bad_d = !(d >= 0 && d <= FLT_MAX), bad_e = !(e >= 0 && e <= FLT_MAX);
		const int bad_v = !(isfinite(v[0]) && isfinite(v[1]) && isfinite(v[2]));
		if (!bad_d && !bad_e && !bad_v)
			continue;
		u->density += (uint64_t)bad_d;
		u->energy += (uint64_t)bad_e;
		u->velocity += (uint64_t)bad_v;
		u->cells++;
		const uint64_t cell = c->first_cell + i;
		if (cell >= u->first)
			continue;
		u->first = cell;
		const char *file = snap->pieces[c->piece].path;
		if (bad_d)
			snprintf(u->first_what, sizeof u->first_what, "cell %llu of %s: Density %g",
				 (unsigned long long)(c->offset + i), file, (double)d);
		else if (bad_e)
			snprintf(u->first_what, sizeof u->first_what, "cell %llu of %s: InternalEnergy %g",
				 (unsigned long long)(c->offset + i), file, (double)e);
		else
			snprintf(u->first_what, sizeof u->first_what,
				 "cell %llu of %s: Velocities (%g, %g, %g)", (unsigned long long)(c->offset + i),
				 file, (double)v[0], (double)v[1], (double)v[2]);
	}
}

/* The observability grids' molecular data file, inputs and grid file (see
 * obsgrid_cache.h). */
#define _GNU_SOURCE
#include "obsgrid_cache.h"

#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AREPO_DATADIR
#define AREPO_DATADIR "/usr/local/share/arepo"
#endif

static int is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int obsgrid_find_chem(const struct arepo_config *cfg, char *out, size_t size,
		      struct arepo_err *err)
{
	const char *given = cfg->observer_hyper.chem_path;
	char path[PATH_MAX];
	const char *home = getenv("HOME");
	if (given[0] == '~' && given[1] == '/' && home)
		snprintf(path, sizeof path, "%s%s", home, given + 1);
	else
		snprintf(path, sizeof path, "%s", given);
	if (is_file(path)) {
		snprintf(out, size, "%s", path);
		return 0;
	}
	char name[PATH_MAX];
	snprintf(name, sizeof name, "%s", path);
	const char *base = basename(name);

	char exe[PATH_MAX], dirs[4][PATH_MAX];
	int n = 0;
	const char *env = getenv("AREPO_DATA_DIR");
	if (env && *env)
		snprintf(dirs[n++], PATH_MAX, "%s/chem", env);
	snprintf(dirs[n++], PATH_MAX, "%s/chem", AREPO_DATADIR);
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len > 0) {
		exe[len] = '\0';
		char *bin = dirname(exe); /* PREFIX/bin or the source tree's bin */
		snprintf(dirs[n++], PATH_MAX, "%s/../share/arepo/chem", bin);
		snprintf(dirs[n++], PATH_MAX, "%s/../pipelines/chem", bin);
	}
	char tried[4 * PATH_MAX + 64];
	size_t used = 0;
	for (int i = 0; i < n; i++) {
		char candidate[PATH_MAX];
		if (strlen(dirs[i]) + strlen(base) + 2 > sizeof candidate)
			continue;
		strcpy(candidate, dirs[i]);
		strcat(candidate, "/");
		strcat(candidate, base);
		if (is_file(candidate)) {
			if (!realpath(candidate, out))
				snprintf(out, size, "%s", candidate);
			return 0;
		}
		used += (size_t)snprintf(tried + used, sizeof tried - used, "%s%s", i ? ", " : "", dirs[i]);
		if (used >= sizeof tried)
			used = sizeof tried - 1;
	}
	return err_set(err, EXIT_USAGE,
		       "observer_hyper.chem_path: %s does not exist, nor does %s in %s", path, base,
		       used ? tried : "(no data directory)");
}

void obsgrid_inputs_from_config(const struct arepo_config *cfg, const char *chem,
				struct obsgrid_inputs *in)
{
	const struct observer_hyper *o = &cfg->observer_hyper;
	const struct writer_hyper *w = &cfg->writer_hyper;
	memset(in, 0, sizeof *in);
	snprintf(in->chem_path, sizeof in->chem_path, "%s", chem);
	in->upper = (int)o->transition.first;
	in->lower = (int)o->transition.second;
	in->n_rho = o->N_H_TOT_steps.value;
	in->n_x = o->abundance_H2_steps.value;
	in->n_T = o->T_steps.value;
	in->max_N_H_TOT = o->interpolation_max_N_H_TOT.value;
	in->bolic_normalization = o->bolic_normalization.value;
	in->max_T = o->interpolation_max_T.value;
	in->has_T_continuum = o->T_continuum.set;
	in->T_continuum = o->T_continuum.value;
	in->k = o->k;
	in->h = o->h;
	in->c = o->c;
	in->L = o->L;
	in->mw_H = o->mw_H;
	in->mw_H2 = o->mw_H2;
	in->mw_He = o->mw_He;
	in->abundance_He = o->abundance_He;
	in->ortho_to_para_H2_ratio = o->ortho_to_para_H2_ratio;
	in->m_H = o->m_H;
	in->m_He = o->m_He;
	in->length_cm = w->length_cm_per_processing;
	in->mass_g = w->mass_g_per_processing;
	in->velocity_cm_s = w->velocity_cm_per_s_per_processing;
	in->temperature_K = w->temperature_K_per_processing;
	in->iris_number_unit = cfg->dataset_hyper.iris_number_unit;
}

int obsgrid_default_path(const char *key, char *out, size_t size, struct arepo_err *err)
{
	const char *dir = getenv("AREPO_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
		   *home = getenv("HOME");
	char base[PATH_MAX];
	if (dir && *dir)
		snprintf(base, sizeof base, "%s", dir);
	else if (xdg && *xdg)
		snprintf(base, sizeof base, "%s/arepo", xdg);
	else if (home && *home)
		snprintf(base, sizeof base, "%s/.cache/arepo", home);
	else
		return err_set(err, EXIT_USAGE, "no place for the grid file: set AREPO_CACHE_DIR "
						"or give --grids FILE");
	if ((size_t)snprintf(out, size, "%s/obsgrids-%.16s.h5", base, key) >= size)
		return err_set(err, EXIT_USAGE, "%s: path too long", base);
	return 0;
}

/* mkdir -p of path's directory. */
static int make_parent(const char *path, struct arepo_err *err)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(dir, 0777) && errno != EEXIST)
				return err_set(err, EXIT_RUNTIME, "%s: cannot create: %s", dir, strerror(errno));
			*p = '/';
		}
	if (mkdir(dir, 0777) && errno != EEXIST)
		return err_set(err, EXIT_RUNTIME, "%s: cannot create: %s", dir, strerror(errno));
	return 0;
}

int obsgrid_obtain(const char *path, const struct obsgrid_inputs *in, int threads,
		   struct obsgrids *g, int *built, struct arepo_err *err)
{
	char key[65];
	if (obsgrid_key(in, key, err))
		return err->code;
	*built = 0;
	int rc;
	if (access(path, F_OK) == 0) {
		rc = obsgrid_load(path, key, g, err);
		if (rc == 0)
			return 0;
		if (rc != 1)
			return err->code;
		log_info("%s: made from other inputs; rebuilding the grids", path);
	}
	if (obsgrid_build(in, threads, g, err))
		return err->code;
	*built = 1;
	memcpy(g->key, key, sizeof key);
	if (make_parent(path, err) || obsgrid_save(g, path, err)) {
		obsgrid_free(g);
		return err->code;
	}
	return 0;
}

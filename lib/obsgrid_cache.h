/* Where the observability grids come from: the molecular data file found
 * from the configuration (or the installed copy), the grid inputs taken from
 * the configuration, and a grid file reused while its key matches, rebuilt
 * (atomically) when any input changed. */
#ifndef AREPO_OBSGRID_CACHE_H
#define AREPO_OBSGRID_CACHE_H

#include <stddef.h>

#include "config.h"
#include "obsgrid.h"

/* Resolves observer_hyper.chem_path ("~" expanded); when that file does not
 * exist, looks for its name in $AREPO_DATA_DIR/chem, the installed data
 * directory and the source tree beside the executable. Errors (2) name every
 * place tried. */
int obsgrid_find_chem(const struct arepo_config *cfg, char *out, size_t size,
		      struct arepo_err *err);

/* The grid inputs of cfg with the molecular data file chem. */
void obsgrid_inputs_from_config(const struct arepo_config *cfg, const char *chem,
				struct obsgrid_inputs *in);

/* The default grid file for a key: $AREPO_CACHE_DIR, else
 * $XDG_CACHE_HOME/arepo, else ~/.cache/arepo, "obsgrids-<the key's first 16
 * hex digits>.h5". */
int obsgrid_default_path(const char *key, char *out, size_t size, struct arepo_err *err);

/* Loads path when it holds the grids of these inputs; otherwise builds them
 * and writes path (creating its directory). *built says which happened. */
int obsgrid_obtain(const char *path, const struct obsgrid_inputs *in, int threads,
		   struct obsgrids *g, int *built, struct arepo_err *err);

#endif

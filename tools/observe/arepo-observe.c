/* arepo-observe: the synthetic observation of one tensor file (IRIS's
 * observed datasets): writes its observed pair, the observed lon-velocity
 * map and the columnized H2 map. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "atomic.h"
#include "cli.h"
#include "clock.h"
#include "h5util.h"
#include "cuda_device.h"
#include "obsgrid_cache.h"
#include "observe.h"
#include "parallel.h"
#include "observe_cuda.h"
#include "observed.h"
#include "tensor.h"
#include "vmath.h"

static const char usage[] =
	"Usage: arepo-observe [OPTION]... TENSOR OBSERVED\n"
	"       arepo-observe [OPTION]... --build-grids FILE\n"
	"Observe the tensor file TENSOR as IRIS's observed datasets do (a synthetic\n"
	"13CO observation, or the simple observer) and write the observed file\n"
	"OBSERVED: \"observed\" (1, lon, v) and \"columnized\" (1, r, lon), float32.\n"
	"\n"
	"  -m, --mode MODE        thick (optically thick, the default and IRIS's\n"
	"                         training mode), thin, selthin (selectively thin)\n"
	"                         or simple; or observer_hyper.mode\n"
	"      --grids FILE       the observability grid file: reused when it was\n"
	"                         made from the same inputs, else (re)built there\n"
	"                         (default: one per set of inputs in $AREPO_CACHE_DIR,\n"
	"                         $XDG_CACHE_HOME/arepo or ~/.cache/arepo)\n"
	"      --build-grids FILE build (or check) the grid file FILE and exit\n"
	"  -j, --threads N        threads (default: every CPU this process may use)\n"
	"      --lon-block N      longitudes read and observed at a time (default:\n"
	"                         about 48 MiB of tensor; with a GPU about 96 MiB)\n"
	"      --backend NAME     cpu (default), cuda (a GPU; exit 1 when none is\n"
	"                         usable) or auto (CUDA when a GPU is usable, else\n"
	"                         the CPU with a warning); the same bits either way\n"
	"      --device N         the GPU to use, among the visible ones (default 0,\n"
	"                         or with --gpu-lock the first free one)\n"
	"      --gpu-lock DIR     take a GPU through a lock file per device in DIR,\n"
	"                         held until exit; wait while every GPU is taken\n"
	"      --allow-nan        observe tensors with temperatures <= 0 as IRIS does\n"
	"                         (NaN in the observation) instead of refusing them\n"
	"      --stages FILE      also write the intermediate stages (blurred v_r,\n"
	"                         the cube before and after the beam) to FILE\n"
	"      --progress         show progress (default: on a terminal, not under Slurm)\n"
	"      --no-progress      do not show progress\n"
	"      --stats            print timings and counts as key=value lines\n"
	"      --force            rewrite OBSERVED if it exists\n"
	CLI_COMMON_HELP
	"\n"
	"The configuration is the tensor's own, then --config, then --set. An\n"
	"existing OBSERVED is kept (rerun safe). Results do not depend on the number\n"
	"of threads, the lon block or the backend. Exit status: 0 done, 1 I/O or GPU\n"
	"error, 2 usage or configuration error, 3 bad tensor file. See\n"
	"arepo-observe(1), arepo-observed(5).\n";

enum { OPT_GRIDS = CLI_OPT_FIRST_TOOL, OPT_BUILD_GRIDS, OPT_LON_BLOCK, OPT_ALLOW_NAN, OPT_STAGES,
       OPT_PROGRESS, OPT_NO_PROGRESS, OPT_STATS, OPT_FORCE, OPT_BACKEND, OPT_DEVICE, OPT_GPU_LOCK };

enum backend { BACKEND_CPU, BACKEND_CUDA, BACKEND_AUTO };

struct options {
	const char *mode, *grids, *build_grids, *stages;
	int threads, allow_nan, progress, stats, force;
	long long lon_block;
	enum backend backend;
	int device;           /* -1: any */
	const char *gpu_lock; /* or NULL */
};

static void parse_options(int argc, char **argv, struct cli_common *cli, struct options *opt)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "grids", required_argument, NULL, OPT_GRIDS },
		{ "build-grids", required_argument, NULL, OPT_BUILD_GRIDS },
		{ "threads", required_argument, NULL, 'j' },
		{ "lon-block", required_argument, NULL, OPT_LON_BLOCK },
		{ "allow-nan", no_argument, NULL, OPT_ALLOW_NAN },
		{ "stages", required_argument, NULL, OPT_STAGES },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "backend", required_argument, NULL, OPT_BACKEND },
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ "gpu-lock", required_argument, NULL, OPT_GPU_LOCK },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "m:j:h", longopts, NULL)) != -1) {
		if (cli_common_option(cli, o, optarg))
			continue;
		switch (o) {
		case 'm':
			if (!config_observe_mode(optarg))
				cli_usage_error("--mode %s: expected thick, thin, selthin or simple", optarg);
			opt->mode = optarg;
			break;
		case OPT_GRIDS: opt->grids = optarg; break;
		case OPT_BUILD_GRIDS: opt->build_grids = optarg; break;
		case 'j': {
			long long n = cli_parse_count("--threads", optarg);
			if (n < 1 || n > 256)
				cli_usage_error("--threads %s: expected 1 to 256", optarg);
			opt->threads = (int)n;
			break;
		}
		case OPT_LON_BLOCK:
			opt->lon_block = cli_parse_count("--lon-block", optarg);
			if (opt->lon_block < 1)
				cli_usage_error("--lon-block %s: expected a positive number", optarg);
			break;
		case OPT_ALLOW_NAN: opt->allow_nan = 1; break;
		case OPT_STAGES: opt->stages = optarg; break;
		case OPT_PROGRESS: opt->progress = 1; break;
		case OPT_NO_PROGRESS: opt->progress = 0; break;
		case OPT_STATS: opt->stats = 1; break;
		case OPT_FORCE: opt->force = 1; break;
		case OPT_BACKEND:
			if (!strcmp(optarg, "cpu"))
				opt->backend = BACKEND_CPU;
			else if (!strcmp(optarg, "cuda"))
				opt->backend = BACKEND_CUDA;
			else if (!strcmp(optarg, "auto"))
				opt->backend = BACKEND_AUTO;
			else
				cli_usage_error("--backend %s: expected cpu, cuda or auto", optarg);
			break;
		case OPT_DEVICE: opt->device = cli_parse_device(optarg); break;
		case OPT_GPU_LOCK: opt->gpu_lock = cli_parse_gpu_lock(optarg); break;
		default: cli_usage_error(NULL);
		}
	}
	if (opt->build_grids ? argc != optind : argc - optind != 2)
		cli_usage_error(opt->build_grids ? "--build-grids takes no operands"
				: argc - optind < 2 ? "expected TENSOR and OBSERVED" : "too many operands");
}

/* Defaults, the tensor's recorded configuration, --config, --set. */
static int load_config(const struct cli_common *cli, const struct options *opt,
		       const char *recorded, const char *origin, struct arepo_config *cfg,
		       struct arepo_err *err)
{
	config_defaults(cfg);
	int rc;
	if (recorded && (rc = config_load_text(cfg, recorded, origin, err)))
		return rc;
	if (cli->config_path && (rc = config_load_file(cfg, cli->config_path, err)))
		return rc;
	for (int i = 0; i < cli->nsets; i++)
		if ((rc = config_set(cfg, cli->sets[i], err)))
			return rc;
	if ((rc = config_validate(cfg, err)))
		return rc;
	/* IRIS's name of the mode, however it was given */
	const char *mode = config_observe_mode(opt->mode ? opt->mode : cfg->observer_hyper.mode);
	memmove(cfg->observer_hyper.mode, mode, strlen(mode) + 1);
	const int need = opt->build_grids ? CONFIG_NEED_LINE
			 : strcmp(mode, "simple") ? CONFIG_NEED_CUBE | CONFIG_NEED_LINE : CONFIG_NEED_CUBE;
	if ((!opt->build_grids && (rc = config_require_grid(cfg, err))) ||
	    (rc = config_require_observation(cfg, need, err)))
		return rc;
	return 0;
}

static int get_grids(const struct arepo_config *cfg, const struct options *opt, const char *path,
		     struct obsgrids *g, struct arepo_err *err)
{
	char chem[4096], where[4096];
	struct obsgrid_inputs in;
	int rc = obsgrid_find_chem(cfg, chem, sizeof chem, err);
	if (rc)
		return rc;
	obsgrid_inputs_from_config(cfg, chem, &in);
	if (!path) {
		char key[65];
		if ((rc = obsgrid_key(&in, key, err)) ||
		    (rc = obsgrid_default_path(key, where, sizeof where, err)))
			return rc;
		path = where;
	}
	int built;
	double t = monotonic_seconds();
	if ((rc = obsgrid_obtain(path, &in, opt->threads, g, &built, err)))
		return rc;
	log_info("%s: grids %s in %.2f s", path, built ? "built" : "reused", monotonic_seconds() - t);
	return 0;
}

/* The tensor must be the configuration's grid: the observation takes its
 * pixel scale, r step and crop from the configuration, as IRIS does. */
static int check_grid(const struct arepo_config *cfg, const struct tensor_reader *t,
		      struct arepo_err *err)
{
	const struct coordinate_hyper *c = &cfg->coordinate_hyper;
	const struct view_geometry *g = &t->meta.geometry;
	const double lpp = config_parsec_per_processing(cfg);
	const struct { const char *what; double want, got; } extent[] = {
		{ "lon", (c->lon_max.value - c->lon_min.value) * M_PI / 180, fabs(g->lon_max - g->lon_min) },
		{ "lat", (c->lat_max.value - c->lat_min.value) * M_PI / 180, fabs(g->lat_max - g->lat_min) },
		{ "r", (c->r_max.value - c->r_min.value) / lpp, g->r_max - g->r_min },
	};
	if (g->r_steps != c->r_steps || g->lon_steps != c->lon_steps || g->lat_steps != c->lat_steps)
		return err_set(err, EXIT_USAGE,
			       "%s: the tensor is %lld x %lld x %lld (r, lon, lat) but the configuration's "
			       "coordinate_hyper says %lld x %lld x %lld", t->path, (long long)g->r_steps,
			       (long long)g->lon_steps, (long long)g->lat_steps, c->r_steps, c->lon_steps,
			       c->lat_steps);
	for (size_t i = 0; i < 3; i++)
		if (!(fabs(extent[i].got - extent[i].want) <= 1e-9 * fabs(extent[i].want)))
			return err_set(err, EXIT_USAGE,
				       "%s: the tensor spans %.12g in %s but the configuration's "
				       "coordinate_hyper %s_min/%s_max span %.12g (%s); the beam and the "
				       "r step come from the configuration", t->path, extent[i].got,
				       extent[i].what, extent[i].what, extent[i].what, extent[i].want,
				       i < 2 ? "radians" : "processing units");
	return 0;
}

/* What the observation cannot take, counted over the tensor (the first one
 * kept): values no gas has, and temperatures <= 0 in the synthetic modes. */
struct scan {
	uint64_t bad_T, bad_other;
	long long first_T[3], first_other[4];
};

static void scan_block(struct scan *s, const float *block, int synthetic, int64_t R, int64_t l0,
		       int64_t w, int64_t A)
{
	const size_t plane = (size_t)(R * w * A);
	for (int ch = 0; ch < 6; ch++)
		for (size_t i = 0; i < plane; i++) {
			const float x = block[(size_t)ch * plane + i];
			const int bad = isnan(x) || (isinf(x) && ch != 2) || (ch == 1 && x < 0);
			const int bad_T = !bad && synthetic && ch == 2 && !(x > 0);
			if (!bad && !bad_T)
				continue;
			const long long r = (long long)(i / (size_t)(w * A)),
					l = l0 + (long long)(i / (size_t)A % (size_t)w),
					a = (long long)(i % (size_t)A);
			if (bad && !s->bad_other++) {
				s->first_other[0] = ch;
				s->first_other[1] = r;
				s->first_other[2] = l;
				s->first_other[3] = a;
			} else if (bad_T && !s->bad_T++) {
				s->first_T[0] = r;
				s->first_T[1] = l;
				s->first_T[2] = a;
			}
		}
}

static const char *const channel_names[6] = { "radial velocity", "density", "temperature",
					      "H2 abundance", "CO abundance", "dust temperature" };

/* Reads the whole tensor once, in blocks, before anything is computed: a
 * bad tensor is refused in seconds, not after its observation. */
static int check_values(struct tensor_reader *t, int synthetic, int allow_nan,
			struct arepo_err *err)
{
	const int64_t R = t->r_steps, L = t->lon_steps, A = t->lat_steps;
	int64_t w = (int64_t)(32 << 20) / (6 * R * A * (int64_t)sizeof(float));
	w = w < 1 ? 1 : w > L ? L : w;
	float *block = malloc((size_t)(6 * R * w * A) * sizeof(float));
	if (!block)
		return err_set(err, EXIT_RUNTIME, "out of memory");
	struct scan s = { 0 };
	int rc = 0;
	for (int64_t l0 = 0; l0 < L && !rc; l0 += w) {
		const int64_t l1 = l0 + w < L ? l0 + w : L;
		if (!(rc = tensor_read_lon(t, l0, l1, block, err)))
			scan_block(&s, block, synthetic, R, l0, l1 - l0, A);
	}
	free(block);
	if (rc)
		return rc;
	if (s.bad_other)
		return err_set(err, EXIT_BADDATA,
			       "%s: %llu voxels hold values no gas has (NaN, infinite or negative "
			       "density); the first is the %s at (r, lon, lat) = (%lld, %lld, %lld)",
			       t->path, (unsigned long long)s.bad_other, channel_names[s.first_other[0]],
			       s.first_other[1], s.first_other[2], s.first_other[3]);
	if (s.bad_T && !allow_nan)
		return err_set(err, EXIT_BADDATA,
			       "%s: %llu voxels have a temperature <= 0, which makes the observation "
			       "NaN; the first is at (r, lon, lat) = (%lld, %lld, %lld) (--allow-nan "
			       "observes them as IRIS does)", t->path, (unsigned long long)s.bad_T,
			       s.first_T[0], s.first_T[1], s.first_T[2]);
	if (s.bad_T)
		log_warn("%s: %llu voxels have a temperature <= 0; the observation holds NaN there",
			 t->path, (unsigned long long)s.bad_T);
	return 0;
}

static int read_block(void *t, int64_t l0, int64_t l1, float *out, struct arepo_err *err)
{
	return tensor_read_lon(t, l0, l1, out, err);
}

static void show_progress(double fraction)
{
	fprintf(stderr, "\r%s: %5.1f%%", log_tool_name(), 100 * fraction);
	if (fraction >= 1)
		fputc('\n', stderr);
	fflush(stderr);
}

static int write_stages(const char *path, const struct observe_plan *p, const struct observe_stages *st,
			struct arepo_err *err)
{
	struct atomic_output out;
	hid_t file = h5_create_output(&out, path, err);
	if (file < 0)
		return err->code;
	const struct { const char *name; const float *data; hsize_t dims[3]; } sets[] = {
		{ "blurred_v_r", st->blurred_vr, { (hsize_t)p->R, (hsize_t)p->L, (hsize_t)p->A } },
		{ "ppv_prebeam", st->ppv_prebeam, { (hsize_t)p->L, (hsize_t)p->A, (hsize_t)p->V } },
		{ "ppv", st->ppv, { (hsize_t)p->L, (hsize_t)p->A, (hsize_t)p->V } },
	};
	int bad = 0;
	for (size_t i = 0; i < 3 && !bad; i++) {
		hid_t space = H5Screate_simple(3, sets[i].dims, NULL);
		hid_t d = H5Dcreate2(file, sets[i].name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT,
				     H5P_DEFAULT);
		bad = d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, sets[i].data) < 0;
		hid_t failure = h5_error_aside(bad);
		if (!bad)
			H5Dclose(d);
		H5Sclose(space);
		h5_error_back(failure);
	}
	return bad ? h5_fail_output(&out, file, "cannot write", err) : h5_commit_output(&out, file, err);
}

/* The observation's own errors (memory, the plan) name the tensor. */
static int about(const char *path, int rc, struct arepo_err *err)
{
	if (rc && strncmp(err->msg, path, strlen(path)) != 0) {
		char msg[sizeof err->msg];
		snprintf(msg, sizeof msg, "%s", err->msg);
		err_set(err, rc, "%s: %.900s", path, msg);
	}
	return rc;
}

/* One tensor's observation: its inputs, plan and outputs. */
struct job {
	const char *tensor_path, *out_path;
	struct tensor_reader t;
	struct arepo_config cfg;
	enum observe_mode mode;
	int have_grids;
	struct obsgrids grids;
	struct observe_plan plan;
	struct observe_stages stages;
	struct observe_output out;
	struct observe_stats st;
	int gpu;               /* observed on dev */
	struct cuda_device dev;
	double seconds_check, seconds_observe;
};

/* The tensor opened and checked, the configuration, the grids, the plan. */
static int prepare(struct job *j, const struct cli_common *cli, const struct options *opt,
		   struct arepo_err *err)
{
	int rc = tensor_open(&j->t, j->tensor_path, err);
	if (rc)
		return rc;
	j->t.threads = opt->threads > 0 ? opt->threads : cpu_count(); /* decompressing */
	if ((rc = load_config(cli, opt, j->t.meta.config_json, j->tensor_path, &j->cfg, err)) ||
	    (rc = check_grid(&j->cfg, &j->t, err)))
		return rc;
	observe_mode_parse(j->cfg.observer_hyper.mode, &j->mode);
	if (h5_attr_doubles(j->t.file, "iris_units", (double[4]){ 0 }, 4) != -1)
		return err_set(err, EXIT_BADDATA, "%s: converted to a dataset's units by arepo-normalize; "
						  "the observation takes tensors in processing units",
			       j->tensor_path);
	const double t_check = monotonic_seconds();
	if ((rc = check_values(&j->t, j->mode != OBSERVE_SIMPLE, opt->allow_nan, err)))
		return rc;
	j->seconds_check = monotonic_seconds() - t_check;
	if (j->mode != OBSERVE_SIMPLE) {
		if ((rc = get_grids(&j->cfg, opt, opt->grids, &j->grids, err)))
			return rc;
		j->have_grids = 1;
	}
	return about(j->tensor_path, observe_plan_init(&j->plan, &j->cfg, j->mode, j->t.r_steps,
						       j->t.lon_steps, j->t.lat_steps,
						       j->have_grids ? &j->grids : NULL, err), err);
}

static int alloc_outputs(struct job *j, int with_stages, struct arepo_err *err)
{
	const struct observe_plan *p = &j->plan;
	const size_t L = (size_t)p->L, V = (size_t)p->V, cube = L * (size_t)p->A * V;
	j->out.observed = malloc(L * V * sizeof(float));
	j->out.columnized = malloc((size_t)(p->r_crop_max - p->r_crop_min) * L * sizeof(float));
	if (with_stages) {
		j->stages.blurred_vr = malloc((size_t)p->R * L * (size_t)p->A * sizeof(float));
		j->stages.ppv_prebeam = malloc(cube * sizeof(float));
		j->stages.ppv = malloc(cube * sizeof(float));
	}
	if (!j->out.observed || !j->out.columnized ||
	    (with_stages && (!j->stages.blurred_vr || !j->stages.ppv_prebeam || !j->stages.ppv)))
		return err_set(err, EXIT_RUNTIME, "%s: out of memory for the observed pair (%lld x %lld "
			       "lon x v)", j->tensor_path, (long long)L, (long long)V);
	return 0;
}

/* The observed file, with the tensor's provenance and the configuration
 * the observation ran with. */
static int write_result(struct job *j, struct arepo_err *err)
{
	char *config_json = config_to_json(&j->cfg);
	struct view_meta meta = j->t.meta;
	meta.config_json = config_json;
	struct observed_info info = {
		.mode = observe_mode_name(j->mode),
		.tensor = j->tensor_path,
		.grids_key = j->have_grids ? j->grids.key : "",
		.observed_units = j->mode == OBSERVE_SIMPLE ? "processing mass per area per velocity"
				  : j->cfg.writer_hyper.temperature_K_per_processing == 1
				  ? "K (Rayleigh-Jeans temperature)"
				  : "processing temperature (Rayleigh-Jeans)",
		.columnized_units = "processing mass density (H2)",
		.v_min = j->cfg.cube_hyper.v_min.value,
		.v_max = j->cfg.cube_hyper.v_max.value,
		.v_steps = j->plan.V,
		.n_lines = 1,
		.r_crop_min = j->plan.r_crop_min,
		.r_crop_max = j->plan.r_crop_max,
	};
	int rc = config_json ? observed_write(j->out_path, &meta, &info, j->out.observed,
					      j->out.columnized, err)
			     : err_set(err, EXIT_RUNTIME, "out of memory");
	free(config_json);
	return rc;
}

/* The GPU, when --backend asks for one and one is usable; first, so that a
 * job on a node without one fails at once. */
static int choose_backend(struct job *j, const struct options *opt, struct arepo_err *err)
{
	j->dev.lock_fd = -1;
	if (opt->backend == BACKEND_CPU)
		return 0;
	j->gpu = cuda_choose(opt->backend == BACKEND_CUDA, opt->device, opt->gpu_lock, &j->dev, err);
	return j->gpu < 0 ? err->code : 0;
}

static int run_observation(struct job *j, const struct options *opt, struct arepo_err *err)
{
	struct observe_stages *stages = opt->stages ? &j->stages : NULL;
	void (*progress)(double) = opt->progress ? show_progress : NULL;
	if (j->gpu)
		return observe_cuda_run(&j->dev, &j->plan, read_block, &j->t, opt->threads, opt->lon_block,
					stages, &j->out, &j->st, progress, err);
	return observe_run(&j->plan, read_block, &j->t, opt->threads, opt->lon_block, stages, &j->out,
			   &j->st, progress, err);
}

static void print_stats(const struct job *j, double seconds_write, double seconds_total)
{
	struct rusage ru;
	long rss = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
	printf("mode=%s\nbackend=%s\n", observe_mode_short(j->mode), j->gpu ? "cuda" : "cpu");
	if (j->gpu)
		printf("device=%s\n", j->dev.name);
	else
		printf("vector_math=%s\n", vmath_build_key(vmath_current()));
	printf("rays=%llu\ncells=%llu\nline_channels=%llu\nlon_block=%lld\n",
	       (unsigned long long)j->st.rays, (unsigned long long)j->st.cells,
	       (unsigned long long)j->st.line_windows, (long long)j->st.lon_block);
	printf("seconds_check=%.6f\nseconds_read=%.6f\n", j->seconds_check, j->st.seconds_read);
	if (j->gpu)
		printf("seconds_host=%.6f\nseconds_upload=%.6f\nseconds_kernel=%.6f\nseconds_download=%.6f\n",
		       j->st.seconds_host, j->st.seconds_upload, j->st.seconds_kernel, j->st.seconds_download);
	else
		printf("seconds_blur=%.6f\n", j->st.seconds_blur);
	printf("seconds_rays=%.6f\nseconds_beam=%.6f\nseconds_observe=%.6f\nseconds_write=%.6f\n"
	       "seconds_total=%.6f\npeak_rss_kib=%ld\n", j->st.seconds_rays, j->st.seconds_beam,
	       j->seconds_observe, seconds_write, seconds_total, rss);
}

static void job_free(struct job *j)
{
	free(j->out.observed);
	free(j->out.columnized);
	free(j->stages.blurred_vr);
	free(j->stages.ppv_prebeam);
	free(j->stages.ppv);
	observe_plan_free(&j->plan);
	if (j->have_grids)
		obsgrid_free(&j->grids);
	tensor_close(&j->t);
}

static int observe_file(const struct cli_common *cli, const struct options *opt,
			const char *tensor_path, const char *out_path, struct arepo_err *err)
{
	const double t_start = monotonic_seconds();
	struct job j = { .tensor_path = tensor_path, .out_path = out_path,
			 .t = { .file = -1, .dset = -1 } };
	int rc = choose_backend(&j, opt, err);
	if (!rc)
		rc = prepare(&j, cli, opt, err);
	if (!rc)
		rc = alloc_outputs(&j, opt->stages != NULL, err);
	if (!rc) {
		const double t = monotonic_seconds();
		rc = about(tensor_path, run_observation(&j, opt, err), err);
		j.seconds_observe = monotonic_seconds() - t;
	}
	if (!rc && opt->stages)
		rc = write_stages(opt->stages, &j.plan, &j.stages, err);
	const double t_write = monotonic_seconds();
	if (!rc)
		rc = write_result(&j, err);
	if (!rc) {
		const double now = monotonic_seconds();
		log_info("%s: %s, %llu rays, %s, %.3f s", out_path, observe_mode_name(j.mode),
			 (unsigned long long)j.st.rays, j.gpu ? j.dev.name : "CPU", now - t_start);
		if (opt->stats)
			print_stats(&j, now - t_write, now - t_start);
	}
	job_free(&j);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	struct options opt = { .progress = cli_progress_default(), .device = -1 };
	parse_options(argc, argv, &cli, &opt);
	struct arepo_err err = { 0 };
	if (vmath_check_cpu(&err))
		die_err(&err);
	h5_quiet();

	if (opt.build_grids) {
		atomic_remove_stale_beside(opt.build_grids);
		struct arepo_config cfg;
		struct obsgrids g;
		if (load_config(&cli, &opt, NULL, NULL, &cfg, &err) ||
		    get_grids(&cfg, &opt, opt.build_grids, &g, &err))
			die_err(&err);
		obsgrid_free(&g);
		return EXIT_OK;
	}
	const char *tensor_path = argv[optind], *out_path = argv[optind + 1];
	atomic_remove_stale_beside(out_path);
	if (opt.stages)
		atomic_remove_stale_beside(opt.stages);
	if (!opt.force && access(out_path, F_OK) == 0) {
		if (h5_file_has_format(out_path, OBSERVED_FORMAT)) {
			log_info("%s exists; not rewritten (use --force)", out_path);
			return EXIT_OK;
		}
		die(EXIT_RUNTIME, "%s exists and is not an observed file; not overwritten", out_path);
	}
	if (observe_file(&cli, &opt, tensor_path, out_path, &err))
		die_err(&err);
	return EXIT_OK;
}

/* arepo-interp: resamples one view file onto its observer's spherical grid
 * (nearest cell) and writes the tensor file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "cli.h"
#include "h5util.h"
#include "interp.h"
#include "tensor.h"
#include "view.h"

static const char usage[] =
	"Usage: arepo-interp [OPTION]... VIEW TENSOR\n"
	"Resample the cells of the view file VIEW onto its observer's spherical grid\n"
	"(the value of the nearest cell at every grid point) and write the tensor\n"
	"file TENSOR: dataset \"physical\" (6, r, lon, lat), float32.\n"
	"\n"
	"  -j, --threads N        threads (default: every CPU this process may use)\n"
	"      --max-memory SIZE  bytes for the index, the r-slabs in flight and the\n"
	"                         compressed chunks, with an optional K, M or G\n"
	"                         suffix (default 256M)\n"
	"      --backend NAME     cpu (default: k-d tree), brute (every cell for\n"
	"                         every point; the reference, slow), cuda (a GPU;\n"
	"                         exit 1 when none is usable) or auto (CUDA when a\n"
	"                         GPU is usable, else the CPU with a warning)\n"
	"      --device N         the GPU to use, among the visible ones (default 0,\n"
	"                         or with --gpu-lock the first free one)\n"
	"      --gpu-lock DIR     take a GPU through a lock file per device in DIR,\n"
	"                         held until exit; wait while every GPU is taken\n"
	"      --max-distance PC  grid points whose nearest cell is farther than PC\n"
	"                         parsec get the fill value (default: no limit)\n"
	"      --radius-factor F  grid points farther than F times their nearest\n"
	"                         cell's radius get the fill value (views with radii)\n"
	"      --fill VALUE       the fill value (default 0; nan allowed)\n"
	"      --compress CODEC   compression of the tensor's chunks: none, lz4[:LEVEL]\n"
	"                         or zstd[:LEVEL], LEVEL 1 to 9 (default: the view's\n"
	"                         writer_hyper.tensor_compression, else " CODEC_DEFAULT ")\n"
	CLI_PROGRESS_HELP
	"      --stats            print timings and counts as key=value lines\n"
	"      --force            rewrite TENSOR if it exists\n"
	"      --log-level LEVEL  error, warn (default), info or debug\n"
	"  -h, --help             show this help and exit\n"
	"      --version          show the version and exit\n"
	"\n"
	"An existing TENSOR is kept (rerun safe). Results do not depend on the\n"
	"number of threads, the memory limit or the backend. Exit status: 0 done, 1 I/O error,\n"
	"2 usage error, 3 bad view file. See arepo-interp(1), arepo-tensor(5).\n";

enum { OPT_MAX_MEMORY = CLI_OPT_FIRST_TOOL, OPT_BACKEND, OPT_DEVICE, OPT_GPU_LOCK,
       OPT_MAX_DISTANCE, OPT_RADIUS_FACTOR, OPT_FILL, OPT_COMPRESS, OPT_STATS, OPT_FORCE };

static double parse_positive(const char *option, const char *text)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || end == text || *end || !(v > 0) || !isfinite(v))
		cli_usage_error("%s %s: expected a positive number", option, text);
	return v;
}

/* The codec the view's recorded configuration asks for (the default when
 * it records none). */
static int view_codec(const struct view *v, const char *path, struct codec *c,
		      struct arepo_err *err)
{
	struct arepo_config cfg;
	config_defaults(&cfg);
	int rc = v->meta.config_json ? config_load_text(&cfg, v->meta.config_json, path, err) : 0;
	if (!rc && codec_parse(cfg.writer_hyper.tensor_compression, c))
		rc = err_set(err, EXIT_USAGE, "%s: writer_hyper.tensor_compression \"%s\": "
			     CODEC_EXPECTED, path, cfg.writer_hyper.tensor_compression);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	struct interp_options opt = { .backend = INTERP_CPU, .device = -1 };
	double max_distance_pc = 0;
	int stats = 0, force = 0;
	const char *compress = NULL;
	static const struct option longopts[] = {
		{ "threads", required_argument, NULL, 'j' },
		{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
		{ "backend", required_argument, NULL, OPT_BACKEND },
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ "gpu-lock", required_argument, NULL, OPT_GPU_LOCK },
		{ "max-distance", required_argument, NULL, OPT_MAX_DISTANCE },
		{ "radius-factor", required_argument, NULL, OPT_RADIUS_FACTOR },
		{ "fill", required_argument, NULL, OPT_FILL },
		{ "compress", required_argument, NULL, OPT_COMPRESS },
		CLI_PROGRESS_OPTIONS,
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "force", no_argument, NULL, OPT_FORCE },
		CLI_BASIC_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "j:h", longopts, NULL)) != -1) {
		if (cli_common_option(&cli, o, optarg))
			continue;
		switch (o) {
		case 'j': {
			long long n = cli_parse_count("--threads", optarg);
			if (n < 1 || n > 4096)
				cli_usage_error("--threads %s: expected 1 to 4096", optarg);
			opt.threads = (int)n;
			break;
		}
		case OPT_MAX_MEMORY: opt.max_memory = (size_t)cli_parse_size("--max-memory", optarg); break;
		case OPT_BACKEND:
			if (strcmp(optarg, "cpu") == 0)
				opt.backend = INTERP_CPU;
			else if (strcmp(optarg, "brute") == 0)
				opt.backend = INTERP_BRUTE;
			else if (strcmp(optarg, "cuda") == 0)
				opt.backend = INTERP_CUDA;
			else if (strcmp(optarg, "auto") == 0)
				opt.backend = INTERP_AUTO;
			else
				cli_usage_error("--backend %s: expected cpu, brute, auto or cuda", optarg);
			break;
		case OPT_DEVICE: opt.device = cli_parse_device(optarg); break;
		case OPT_GPU_LOCK: opt.gpu_lock = cli_parse_gpu_lock(optarg); break;
		case OPT_MAX_DISTANCE: max_distance_pc = parse_positive("--max-distance", optarg); break;
		case OPT_RADIUS_FACTOR: opt.radius_factor = parse_positive("--radius-factor", optarg); break;
		case OPT_FILL: {
			char *end;
			opt.fill = strtof(optarg, &end);
			if (end == optarg || *end)
				cli_usage_error("--fill %s: expected a number or nan", optarg);
			break;
		}
		case OPT_COMPRESS:
			if (codec_parse(optarg, &opt.codec))
				cli_usage_error("--compress %s: " CODEC_EXPECTED, optarg);
			compress = optarg;
			break;
		case OPT_STATS: stats = 1; break;
		case OPT_FORCE: force = 1; break;
		default: cli_usage_error(NULL);
		}
	}
	opt.progress = cli.progress;
	if (argc - optind != 2)
		cli_usage_error(argc - optind < 2 ? "expected VIEW and TENSOR" : "too many operands");
	const char *view_path = argv[optind], *tensor_path = argv[optind + 1];
	atomic_remove_stale_beside(tensor_path);

	if (!force && access(tensor_path, F_OK) == 0) {
		if (h5_file_has_format(tensor_path, TENSOR_FORMAT)) {
			log_info("%s exists; not rewritten (use --force)", tensor_path);
			return EXIT_OK;
		}
		die(EXIT_RUNTIME, "%s exists and is not a tensor file; not overwritten", tensor_path);
	}

	struct arepo_err err = { 0 };
	struct view v;
	if (view_read(view_path, &v, &err))
		die_err(&err);
	if (!compress && view_codec(&v, view_path, &opt.codec, &err)) {
		view_free(&v);
		die_err(&err);
	}
	if (max_distance_pc > 0)
		opt.max_distance = max_distance_pc / v.meta.parsec_per_unit;
	if (opt.radius_factor > 0 && !v.radius)
		log_warn("%s: the view carries no cell radii; --radius-factor has no effect", view_path);

	struct interp_stats st;
	if (interp_view(&v, view_path, tensor_path, &opt, &st, &err)) {
		view_free(&v);
		die_err(&err);
	}
	double ppu = v.meta.parsec_per_unit;
	char ran_on[300];
	if (st.backend == INTERP_CUDA)
		snprintf(ran_on, sizeof ran_on, "%s", st.device);
	else
		snprintf(ran_on, sizeof ran_on, "%d threads", st.threads);
	char codec[32];
	codec_name(&opt.codec, codec, sizeof codec);
	log_info("%s: %llu cells, %llu points, %s, compression %s, %.3f s; %llu points may have "
		 "their nearest cell outside the pruning box (a margin of %.4g pc would make it exact)",
		 tensor_path, (unsigned long long)st.cells, (unsigned long long)st.points, ran_on, codec,
		 st.seconds_total, (unsigned long long)st.points_at_risk, st.margin_needed * ppu);
	if (stats) {
		printf("backend=%s\n", interp_backend_name(st.backend));
		if (st.backend == INTERP_CUDA)
			printf("device=%s\n", st.device);
		printf("cells=%llu\npoints=%llu\nthreads=%d\nslab_r=%lld\n", (unsigned long long)st.cells,
		       (unsigned long long)st.points, st.threads, (long long)st.slab_r);
		if (st.backend == INTERP_CUDA)
			printf("seconds_upload=%.6f\nseconds_kernel=%.6f\nseconds_download=%.6f\n",
			       st.seconds_upload, st.seconds_kernel, st.seconds_download);
		printf("compression=%s\ntensor_bytes=%llu\n", codec, (unsigned long long)st.tensor_bytes);
		printf("seconds_index=%.6f\nseconds_search=%.6f\nseconds_write=%.6f\nseconds_compress=%.6f\n"
		       "seconds_flush=%.6f\nseconds_total=%.6f\n", st.seconds_index, st.seconds_search,
		       st.seconds_write, st.seconds_compress, st.seconds_flush, st.seconds_total);
		printf("peak_rss_kib=%ld\n", st.peak_rss_kib);
		printf("points_at_risk=%llu\nmargin_needed_pc=%.6g\npoints_filled=%llu\n",
		       (unsigned long long)st.points_at_risk, st.margin_needed * ppu,
		       (unsigned long long)st.points_filled);
	}
	view_free(&v);
	return EXIT_OK;
}

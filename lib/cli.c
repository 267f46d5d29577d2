/* Command-line pieces every tool shares. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void cli_init(struct cli_common *cli, const char *argv0, const char *usage)
{
	log_init(argv0);
	cli->config_path = NULL;
	cli->sets = NULL;
	cli->nsets = 0;
	cli->usage = usage;
}

int cli_common_option(struct cli_common *cli, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_CONFIG:
		cli->config_path = arg;
		return 1;
	case CLI_OPT_SET: {
		const char **grown = realloc(cli->sets, (size_t)(cli->nsets + 1) * sizeof *grown);
		if (!grown)
			die(EXIT_RUNTIME, "out of memory");
		cli->sets = grown;
		cli->sets[cli->nsets++] = arg;
		return 1;
	}
	case CLI_OPT_LOG_LEVEL: {
		int level = log_parse_level(arg);
		if (level < 0)
			cli_usage_error("--log-level %s: expected error, warn, info or debug", arg);
		log_set_level(level);
		return 1;
	}
	case 'h':
		fputs(cli->usage, stdout);
		exit(EXIT_OK);
	case CLI_OPT_VERSION:
		printf("%s %s (CUDA build: %s)\n", log_tool_name(), AREPO_VERSION,
		       AREPO_WITH_CUDA ? "yes" : "no");
		exit(EXIT_OK);
	}
	return 0;
}

void cli_usage_error(const char *fmt, ...)
{
	if (fmt) {
		char line[1024];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(line, sizeof line, fmt, ap);
		va_end(ap);
		fprintf(stderr, "%s: %s\n", log_tool_name(), line);
	}
	fprintf(stderr, "Try '%s --help' for more information.\n", log_tool_name());
	exit(EXIT_USAGE);
}

int cli_load_config(const struct cli_common *cli, struct arepo_config *cfg, struct arepo_err *err)
{
	int rc;
	config_defaults(cfg);
	if (cli->config_path && (rc = config_load_file(cfg, cli->config_path, err)))
		return rc;
	for (int i = 0; i < cli->nsets; i++)
		if ((rc = config_set(cfg, cli->sets[i], err)))
			return rc;
	return config_validate(cfg, err);
}

long long cli_parse_count(const char *option, const char *text)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno || end == text || *end || v < 0)
		cli_usage_error("%s %s: expected a non-negative integer", option, text);
	return v;
}

int cli_parse_device(const char *text)
{
	long long n = cli_parse_count("--device", text);
	if (n > 1023)
		cli_usage_error("--device %s: expected 0 to 1023", text);
	return (int)n;
}

const char *cli_parse_gpu_lock(const char *text)
{
	if (!*text)
		cli_usage_error("--gpu-lock: expected a directory");
	return text;
}

unsigned long long cli_parse_size(const char *option, const char *text)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end), unit = 1;
	switch (*end) {
	case 'K': case 'k': unit = 1024.0; end++; break;
	case 'M': case 'm': unit = 1024.0 * 1024; end++; break;
	case 'G': case 'g': unit = 1024.0 * 1024 * 1024; end++; break;
	case 'T': case 't': unit = 1024.0 * 1024 * 1024 * 1024; end++; break;
	}
	if (errno || end == text || *end || !(v > 0) || v * unit > 1e18)
		cli_usage_error("%s %s: expected a size such as 512M", option, text);
	return (unsigned long long)(v * unit);
}

int cli_progress_default(void)
{
	return isatty(STDERR_FILENO) && !getenv("SLURM_JOB_ID");
}

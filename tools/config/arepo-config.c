/* arepo-config: prints the effective configuration (defaults, --config,
 * --set), whole as JSON or one key's value, for scripts and pipelines. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"Usage: arepo-config [OPTION]... [SECTION.KEY]\n"
	"Print the configuration the tools would use, as JSON, or the value of one\n"
	"key (seed, or section.key). The configuration is checked as every tool\n"
	"checks it.\n"
	"\n"
	CLI_COMMON_HELP
	"\n"
	"Exit status: 0 done, 2 bad configuration or unknown key. See arepo-config(1).\n";

int main(int argc, char **argv)
{
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	static const struct option longopts[] = { CLI_COMMON_OPTIONS, { NULL, 0, NULL, 0 } };
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
		if (!cli_common_option(&cli, opt, optarg))
			cli_usage_error(NULL);
	if (argc - optind > 1)
		cli_usage_error("too many operands");
	struct arepo_err err = { 0 };
	struct arepo_config cfg;
	if (cli_load_config(&cli, &cfg, &err))
		die_err(&err);
	char *text = config_to_json(&cfg);
	if (optind == argc) {
		printf("%s\n", text);
		free(text);
		return EXIT_OK;
	}
	const char *key = argv[optind];
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr), *value = NULL;
	free(text);
	char name[256];
	snprintf(name, sizeof name, "%s", key);
	char *dot = strchr(name, '.');
	if (dot) {
		*dot = '\0';
		value = json_object_get(json_object_get(root, name), dot + 1);
	} else {
		value = json_object_get(root, name);
	}
	if (!value)
		die(EXIT_USAGE, "unknown key %s", key);
	char *out = json_dumps(value, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	printf("%s\n", out);
	free(out);
	json_decref(root);
	return EXIT_OK;
}

/* dcc.c: the dcc command: one dispatch table from subcommand name to its
 * cmd_NAME function, plus --version and help. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "common.h"

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
#define X(name, summary) {#name, cmd_##name, summary},
	DCC_COMMANDS
#undef X
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char usage[] =
	"usage: dcc [--version] [--help] COMMAND [ARGS]\n"
	"       dcc help COMMAND\n";

static int list(FILE *fp)
{
	fputs(usage, fp);
	fputs("\ncommands:\n", fp);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fputs("\n'dcc help COMMAND' or 'man dcc-COMMAND' tells more.\n", fp);
	return 0;
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Interrupted: the outputs being written are removed, then dcc dies of
 * the signal as it would have. */
static void on_signal(int sig)
{
	dcc_out_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, char **argv)
{
	static char namebuf[64];
	/* A closed pipe (dcc info | head) is a write error, not a signal death. */
	signal(SIGPIPE, SIG_IGN);
	static const int fatal[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		struct sigaction sa = {0};
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(fatal[i], &sa, NULL);
	}
	if (argc < 2) {
		list(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--version") || !strcmp(name, "version")) {
		printf("dcc %s\n", DCC_VERSION_STRING);
		return cmd_finish(EXIT_OK);
	}
	if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
		list(stdout);
		return cmd_finish(EXIT_OK);
	}
	if (!strcmp(name, "help")) {
		if (argc < 3) {
			list(stdout);
			return cmd_finish(EXIT_OK);
		}
		const struct command *c = find(argv[2]);
		if (!c) {
			fprintf(stderr, "dcc: '%s' is not a dcc command (see 'dcc --help')\n", argv[2]);
			return EXIT_USAGE;
		}
		snprintf(namebuf, sizeof(namebuf), "dcc %s", c->name);
		cmd_name = namebuf;
		char *av[] = {argv[2], "--help", NULL};
		return c->fn(2, av);
	}
	const struct command *c = find(name);
	if (!c) {
		fprintf(stderr, "dcc: '%s' is not a dcc command (see 'dcc --help')\n", name);
		return EXIT_USAGE;
	}
	snprintf(namebuf, sizeof(namebuf), "dcc %s", c->name);
	cmd_name = namebuf;
	cmd_argv = argv + 1;
	opterr = 0; /* a bad option is reported once, by cmd_usage_error */
	return c->fn(argc - 1, argv + 1);
}

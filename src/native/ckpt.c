/* ckpt: checkpoint a running Linux process into a .ckpt image and restore it, with ptrace. */
#include "ckpt.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
	"usage: ckpt <command> [options]\n"
	"\n"
	"  ckpt dump PID -o IMAGE [--force] [--tree] [--leave-running [--no-snapshot | --precopy | --no-precopy] | --kill] [--no-fsync] [--progress=json] [--allow-unsupported] [--external unix] [--tcp-close]\n"
	"      Checkpoint process PID into IMAGE (written atomically, mode 0600). The process keeps\n"
	"      running (--leave-running, the default) or is killed once the image is complete (--kill).\n"
	"      Left running, it is frozen only for milliseconds: from 32 MiB of anonymous memory (not\n"
	"      with --compress) or with --precopy, its pages are copied while it runs and its writes\n"
	"      tracked (a userfaultfd, Linux 6.7), then at the freeze only the pages it wrote since;\n"
	"      otherwise, when they are many, and with --tree or --no-precopy, its pages are read from\n"
	"      a copy-on-write snapshot (a fork that never runs) after it resumed; --no-snapshot keeps\n"
	"      it frozen until they are written. --no-fsync skips the fsync, for scratch images (with --kill, a crash\n"
	"      can then lose both the process and its image).\n"
	"      SIGINT/SIGTERM cancel it (exit 8, the process as it was, no IMAGE) until the image is\n"
	"      complete and durable; a cancel after that is too late and the dump completes.\n"
	"  ckpt restore IMAGE [--pid-file FILE] [--stdio=inherit|null|PATH] [--progress=json] [--as-recorded]\n"
	"      Recreate the process of IMAGE and print its new PID. Terminal or outside-pipe stdio is\n"
	"      attached to ckpt's own (inherit, the default), /dev/null, or appended to PATH.\n"
	"      The process runs as the user running ckpt; when root restores, as the owner of the\n"
	"      IMAGE file. An image whose recorded ids differ is refused; --as-recorded (root only)\n"
	"      trusts them. Files the image names are opened as that user.\n"
	"  ckpt check [--format=json]\n"
	"      What this kernel and user can do; exits non-zero when checkpointing cannot work.\n"
	"  ckpt --version | --help\n"
	"\n"
	"exit codes: 0 ok, 1 failure, 2 usage, 3 no such process, 4 permission denied,\n"
	"            5 unsupported state, 6 bad image, 7 I/O error, 8 cancelled\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(help, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("ckpt %s\n", CKPT_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(help, stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(cmd, "restore"))
		return cmd_restore(argc - 1, argv + 1);
	if (!strcmp(cmd, "check"))
		return cmd_check(argc - 1, argv + 1);
	fprintf(stderr, "ckpt: unknown command '%s'\n%s", cmd, help);
	return EXIT_USAGE;
}

/* The advinst program: one function per subcommand (one file each), dispatched by main.c.
 * Each parses its own options with getopt_long, prints --help, and returns an exit code
 * (see include/advinst/error.h). */
#ifndef ADVINST_CLI_H
#define ADVINST_CLI_H
#include "advinst/audio.h"

int cmd_classify(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_experiment(int argc, char **argv);
int cmd_live(int argc, char **argv);
int cmd_listen(int argc, char **argv);

/* Prints "advinst COMMAND: message" on stderr and returns code. */
int cli_error(const char *command, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "advinst COMMAND: PATH: truncated: 2,980 of 128,718 frames" on stderr if `a`, just read from
 * path, comes from a WAV cut short (it is used as far as it goes). */
void cli_warn_truncated(const char *command, const char *path, const adv_audio *audio);
/* For getopt's '?': one line naming the offending option (main() sets opterr = 0). */
int cli_bad_option(const char *command, char **argv);
/* Parses a float / integer option strictly (whole string, finite); returns -1 on error. */
int cli_parse_float(const char *s, double *out);
int cli_parse_long(const char *s, long *out);
#endif

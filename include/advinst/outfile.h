/* Output files that appear whole or not at all.
 *
 * adv_outfile_open creates an anonymous file (Linux O_TMPFILE) in the destination's directory;
 * everything is written there, and adv_outfile_commit flushes, fsyncs and links it under its
 * name. Until then the file has no name, so a crash or SIGKILL leaves nothing behind. Where the
 * file system lacks O_TMPFILE (e.g. NFS, vfat) a hidden ".NAME.tmp.XXXXXX" beside the
 * destination is used instead, removed on abort (a SIGKILL can leave that one behind);
 * ADVINST_OUTFILE_NAMED=1 in the environment forces that fallback (for tests).
 * Replacing an existing file goes through a hidden temporary name renamed over it: between
 * the link and the rename (two system calls) a SIGKILL would leave that hidden name.
 *
 * Every write error (disk full, quota, I/O error, file too large, short write, failed
 * stream flush or fsync) is remembered and makes the commit fail with "PATH: cannot write: REASON"
 * through adv_fail_output, so programs exit with ADV_EXIT_OUTPUT. */
#ifndef ADVINST_OUTFILE_H
#define ADVINST_OUTFILE_H
#include <stddef.h>
#include <stdio.h>

typedef struct adv_outfile adv_outfile;

enum {
    ADV_OUTFILE_REPLACE = 1   /* commit replaces an existing file (keeping its permissions);
                                 without it the commit fails if the name exists */
};

/* Starts writing the file `path`; NULL with adv_error if its directory cannot take a file. */
adv_outfile *adv_outfile_open(const char *path, int flags);

/* Appends size bytes; -1 (and the commit will fail) on any error. */
int adv_outfile_write(adv_outfile *o, const void *data, size_t size);

/* The file descriptor, for writers that seek back or read what they wrote (libsndfile
 * rewrites headers): lseek/read on it are fine; write through adv_outfile_write so that
 * errors are recorded. */
int adv_outfile_fd(const adv_outfile *o);

/* A buffered stdio stream over the file (for fprintf and friends), owned by `o`: do not fclose
 * it. Its write errors are recorded like adv_outfile_write's. NULL if out of memory (recorded:
 * the commit then fails). */
FILE *adv_outfile_stream(adv_outfile *o);

/* Records a failure found by a caller (e.g. an encoder's error); errno-style code. Once an
 * error is recorded nothing more is written and the commit fails. */
void adv_outfile_set_error(adv_outfile *o, int err);
/* The first error recorded (errno value), 0 if none. */
int adv_outfile_error(const adv_outfile *o);

/* The destination path (for messages). */
const char *adv_outfile_path(const adv_outfile *o);

/* Flushes, fsyncs and puts the file in place; frees `o`. 0, or -1 with adv_error (the file
 * is then removed and the destination untouched). */
int adv_outfile_commit(adv_outfile *o);

/* Drops the file (nothing is left behind); frees `o`. NULL is ignored. */
void adv_outfile_abort(adv_outfile *o);
#endif

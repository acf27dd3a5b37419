/* Atomic output files (outfile.h): nothing visible before the commit, no-clobber and replace
 * policies, aborts, write errors (a file size limit gives EFBIG on the way, like a full disk
 * gives ENOSPC) through every writer that uses the module, and SIGKILL in the middle of a
 * write. Run twice, in child processes: with O_TMPFILE (where the file system has it) and
 * with the named-temporary fallback (ADVINST_OUTFILE_NAMED=1). */
#include "testutil.h"
#include "advinst/audio.h"
#include "advinst/error.h"
#include "advinst/outfile.h"
#include "advinst/plot.h"
#include "advinst/safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[900];
static int anonymous;   /* this run uses O_TMPFILE files */

/* Number of entries in dir (hidden ones included). */
static int entries(void)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Removes the hidden temporaries a SIGKILL leaves in named mode. */
static void remove_hidden(void)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] == '.' && strstr(e->d_name, ".tmp.")) unlink(tu_path(dir, e->d_name));
    closedir(d);
}

static int read_text(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = 0;
    fclose(f);
    return 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_commit_and_policies(void)
{
    mode_t mask = umask(022);
    umask(mask);
    int before = entries();
    const char *p = tu_path(dir, "new.txt");
    adv_outfile *o = adv_outfile_open(p, 0);
    CHECK(o != NULL, "open: %s", adv_error());
    if (!o) return;
    FILE *f = adv_outfile_stream(o);
    CHECK(f != NULL, "stream");
    CHECK(fprintf(f, "hello %d\n", 42) == 9, "fprintf");
    CHECK(entries() == before + (anonymous ? 0 : 1), "before the commit: %d entries, expected %d", entries(),
          before + (anonymous ? 0 : 1));
    CHECK(access(p, F_OK) != 0, "the file is visible before the commit");
    CHECK(adv_outfile_commit(o) == 0, "commit: %s", adv_error());
    char text[256] = "";
    read_text(p, text, sizeof text);
    CHECK(!strcmp(text, "hello 42\n"), "content: '%s'", text);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask), "mode %o, expected %o", st.st_mode & 0777,
          0666 & ~mask);
    CHECK(entries() == before + 1, "after the commit: %d entries", entries());

    /* no REPLACE: an existing name is left alone */
    write_text(p, "old\n");
    o = adv_outfile_open(p, 0);
    adv_outfile_write(o, "new\n", 4);
    CHECK(adv_outfile_commit(o) == -1 && strstr(adv_error(), "exists"), "no-clobber commit: %s", adv_error());
    CHECK(adv_error_exit(0) == 4, "exit code %d for an output failure", adv_error_exit(0));
    read_text(p, text, sizeof text);
    CHECK(!strcmp(text, "old\n"), "existing file changed: '%s'", text);
    CHECK(entries() == before + 1, "no-clobber left %d entries", entries());

    /* REPLACE: new content, the old file's permissions */
    chmod(p, 0640);
    o = adv_outfile_open(p, ADV_OUTFILE_REPLACE);
    adv_outfile_write(o, "replaced\n", 9);
    CHECK(adv_outfile_commit(o) == 0, "replace: %s", adv_error());
    read_text(p, text, sizeof text);
    CHECK(!strcmp(text, "replaced\n"), "replaced content: '%s'", text);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0640, "replaced file's mode %o, expected 640", st.st_mode & 0777);
    CHECK(entries() == before + 1, "replace left %d entries", entries());

    /* abort: nothing left, the old file untouched */
    o = adv_outfile_open(p, ADV_OUTFILE_REPLACE);
    adv_outfile_write(o, "dropped\n", 8);
    adv_outfile_abort(o);
    read_text(p, text, sizeof text);
    CHECK(!strcmp(text, "replaced\n"), "abort changed the file: '%s'", text);
    o = adv_outfile_open(tu_path(dir, "aborted.txt"), 0);
    fprintf(adv_outfile_stream(o), "dropped\n");
    adv_outfile_abort(o);
    CHECK(entries() == before + 1, "abort left %d entries", entries());
    unlink(p);
}

static void test_bad_destinations(void)
{
    int before = entries();
    CHECK(adv_outfile_open(tu_path(dir, "missing/x.txt"), 0) == NULL && strstr(adv_error(), "missing/x.txt: cannot write: ") &&
              strstr(adv_error(), strerror(ENOENT)),
          "missing directory: %s", adv_error());
    CHECK(adv_error_exit(0) == 4, "exit code for a missing directory");
    write_text(tu_path(dir, "plain"), "x");
    CHECK(adv_outfile_open(tu_path(dir, "plain/x.txt"), 0) == NULL && strstr(adv_error(), strerror(ENOTDIR)),
          "path under a file: %s", adv_error());
    CHECK(adv_outfile_open(tu_path(dir, ""), 0) == NULL && strstr(adv_error(), strerror(EISDIR)), "path ending in '/': %s",
          adv_error());
    mkdir(tu_path(dir, "sub"), 0755);
    adv_outfile *o = adv_outfile_open(tu_path(dir, "sub"), ADV_OUTFILE_REPLACE);
    if (o) adv_outfile_write(o, "x", 1);
    CHECK(o && adv_outfile_commit(o) == -1 && strstr(adv_error(), "sub: cannot write"), "over a directory: %s",
          adv_error());
    rmdir(tu_path(dir, "sub"));
    unlink(tu_path(dir, "plain"));
    CHECK(entries() == before, "bad destinations left %d entries (had %d)", entries(), before);
}

/* In a child with a 64 KiB file size limit: every writer fails with EFBIG, one message naming
 * the file, exit code 4, nothing left behind. Returns the child's failure count. */
static int limited_child(void)
{
    struct rlimit rl = {65536, 65536};
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 1;
    const char *reason = strerror(EFBIG);
    int before = entries();

    adv_outfile *o = adv_outfile_open(tu_path(dir, "big.bin"), 0);
    static char block[100000];
    CHECK(o && adv_outfile_write(o, block, sizeof block) == -1, "a write past the limit succeeded");
    CHECK(o && adv_outfile_commit(o) == -1 && strstr(adv_error(), "big.bin: cannot write: ") && strstr(adv_error(), reason),
          "raw writer: %s", adv_error());

    o = adv_outfile_open(tu_path(dir, "big.txt"), 0);
    FILE *f = adv_outfile_stream(o);
    for (int i = 0; i < 20000; i++) fprintf(f, "line %d of a long text file\n", i);
    CHECK(adv_outfile_commit(o) == -1 && strstr(adv_error(), reason) && adv_error_exit(0) == 4, "stream writer: %s",
          adv_error());

    adv_audio a;
    adv_audio_alloc(&a, 48000, 2, 48000, 0);
    CHECK(adv_audio_write(tu_path(dir, "big.wav"), &a) == -1 && strstr(adv_error(), "big.wav: cannot write: ") &&
              strstr(adv_error(), reason) && adv_error_exit(0) == 4,
          "audio writer: %s", adv_error());
    a.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_24;
    for (long i = 0; i < a.frames * a.channels; i++) a.samples[i] = (float)((i * 7919) % 2001 - 1000) / 1000.0f;
    CHECK(adv_audio_write(tu_path(dir, "big.flac"), &a) == -1 && strstr(adv_error(), "big.flac: cannot write"),
          "FLAC writer: %s", adv_error());
    adv_audio_free(&a);

    adv_st st = {0};
    static float weights[40000];
    int64_t shape[1] = {40000};
    adv_st_add(&st, "w", ADV_DTYPE_F32, 1, shape, weights);
    CHECK(adv_st_write(&st, tu_path(dir, "big.safetensors")) == -1 && strstr(adv_error(), reason), "safetensors writer: %s",
          adv_error());
    adv_st_free(&st);

    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 600, 600);
    unsigned char *px = cairo_image_surface_get_data(s);
    uint64_t rng = 7;
    for (int i = 0; i < 600 * cairo_image_surface_get_stride(s); i++) px[i] = (unsigned char)adv_rng_next(&rng);
    cairo_surface_mark_dirty(s);
    CHECK(adv_png_write(s, tu_path(dir, "big.png")) == -1 && strstr(adv_error(), "big.png: cannot write") &&
              adv_error_exit(0) == 4,
          "PNG writer: %s", adv_error());

    CHECK(entries() == before, "write errors left %d entries (had %d)", entries(), before);
    return tu_failures;
}

/* A child killed by SIGKILL in the middle of a write: no file under the name; with O_TMPFILE
 * nothing at all. */
static void test_killed_writer(void)
{
    int before = entries();
    int pipefd[2];
    if (pipe(pipefd) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        adv_outfile *o = adv_outfile_open(tu_path(dir, "killed.bin"), 0);
        static char block[1 << 20];
        if (o) adv_outfile_write(o, block, sizeof block);
        if (write(pipefd[1], "w", 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    char c;
    CHECK(read(pipefd[0], &c, 1) == 1, "child did not write");
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(pipefd[0]);
    close(pipefd[1]);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child not killed");
    CHECK(access(tu_path(dir, "killed.bin"), F_OK) != 0, "a killed writer left its file under the final name");
    if (anonymous) CHECK(entries() == before, "a killed writer left %d entries (had %d)", entries(), before);
    remove_hidden();
}

static void system_rm(const char *d)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", d);
}

static int run_mode(const char *name)
{
    const char *scratch = tu_scratch_dir("outfile");
    if (!scratch) return 1;
    snprintf(dir, sizeof dir, "%.800s", scratch);
    int probe = open(dir, O_TMPFILE | O_RDWR, 0600);
    anonymous = probe >= 0 && !getenv("ADVINST_OUTFILE_NAMED");
    if (probe >= 0) close(probe);
    printf("test_outfile: %s (%s)\n", name, anonymous ? "O_TMPFILE" : "named temporaries");
    test_commit_and_policies();
    test_bad_destinations();
    test_killed_writer();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(limited_child() ? 1 : 0);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "write-error checks failed (see above)");
    system_rm(dir);
    printf("test_outfile: %s: %d checks, %d failed\n", name, tu_checks, tu_failures);
    fflush(stdout);   /* the caller leaves with _exit */
    return tu_failures;
}

int main(void)
{
    for (int mode = 0; mode < 2; mode++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            if (mode == 1) setenv("ADVINST_OUTFILE_NAMED", "1", 1);
            else unsetenv("ADVINST_OUTFILE_NAMED");
            _exit(run_mode(mode ? "named" : "anonymous") ? 1 : 0);
        }
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s mode failed", mode ? "named" : "anonymous");
    }
    return tu_finish("test_outfile");
}

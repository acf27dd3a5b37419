/* Atomic output files: an anonymous O_TMPFILE linked into place at commit, or a hidden named
 * temporary where the file system has no O_TMPFILE. See outfile.h. */
#include "advinst/outfile.h"
#include "advinst/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct adv_outfile {
    int fd;
    int flags;
    int err;        /* first write error (errno value), 0 while all is well */
    FILE *stream;   /* adv_outfile_stream's, or NULL */
    char *path;     /* the destination */
    char *dir;      /* its directory ("." for a bare name) */
    char *base;     /* its file name */
    char *temp;     /* the named temporary (fallback), or NULL for an anonymous file */
};

/* Linking an O_TMPFILE file goes through /proc/self/fd (AT_EMPTY_PATH would need
 * CAP_DAC_READ_SEARCH): without /proc the named fallback is used from the start, and
 * ADVINST_OUTFILE_NAMED=1 chooses it (tests of the fallback). */
static int anonymous_files_usable(void)
{
    static atomic_int usable = -1;
    int u = atomic_load(&usable);
    if (u < 0) {
        const char *named = getenv("ADVINST_OUTFILE_NAMED");
        u = !(named && *named && strcmp(named, "0") != 0) && access("/proc/self/fd", X_OK) == 0;
        atomic_store(&usable, u);
    }
    return u;
}

/* "DIR/.BASE.tmp.XXXXXX" with a fresh random suffix (malloc'd). */
static char *temp_name(const adv_outfile *o)
{
    static atomic_uint counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned r = (unsigned)ts.tv_nsec ^ ((unsigned)getpid() << 12) ^ (atomic_fetch_add(&counter, 1) * 2654435761u);
    char *name = NULL;
    if (asprintf(&name, "%s/.%s.tmp.%06x", o->dir, o->base, r & 0xffffff) < 0) return NULL;
    return name;
}

/* Records the first error; always returns -1. */
static int record(adv_outfile *o, int err)
{
    if (!o->err) o->err = err ? err : EIO;
    return -1;
}

static int fail_write(const adv_outfile *o, int err)
{
    return adv_fail_output("%s: cannot write: %s", o->path, strerror(err ? err : EIO));
}

static void release(adv_outfile *o)
{
    free(o->path);
    free(o->dir);
    free(o->base);
    free(o->temp);
    free(o);
}

adv_outfile *adv_outfile_open(const char *path, int flags)
{
    adv_outfile *o = calloc(1, sizeof *o);
    if (!o || !(o->path = strdup(path))) {
        free(o);
        adv_fail_output("%s: cannot write: out of memory", path);
        return NULL;
    }
    o->fd = -1;
    o->flags = flags;
    const char *slash = strrchr(path, '/');
    if (!slash) o->dir = strdup(".");
    else if (slash == path) o->dir = strdup("/");
    else o->dir = strndup(path, (size_t)(slash - path));
    o->base = strdup(slash ? slash + 1 : path);
    if (!o->dir || !o->base) {
        adv_fail_output("%s: cannot write: out of memory", path);
        release(o);
        return NULL;
    }
    if (!o->base[0] || !strcmp(o->base, ".") || !strcmp(o->base, "..")) {
        fail_write(o, EISDIR);
        release(o);
        return NULL;
    }
    if (anonymous_files_usable()) {
        o->fd = open(o->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);
        /* EOPNOTSUPP: the file system has no O_TMPFILE; EISDIR/EINVAL: kernels before 3.11 */
        if (o->fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
            fail_write(o, errno);
            release(o);
            return NULL;
        }
    }
    for (int attempt = 0; o->fd < 0 && attempt < 100; attempt++) {
        free(o->temp);
        if (!(o->temp = temp_name(o))) {
            errno = ENOMEM;
            break;
        }
        /* 0666 & ~umask like any new file (mkstemp's 0600 would stick to the output) */
        o->fd = open(o->temp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (o->fd < 0 && errno != EEXIST) break;
    }
    if (o->fd < 0) {
        fail_write(o, errno);
        release(o);
        return NULL;
    }
    return o;
}

int adv_outfile_write(adv_outfile *o, const void *data, size_t size)
{
    if (o->err) return -1;
    const char *p = data;
    while (size > 0) {
        ssize_t w = write(o->fd, p, size);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return record(o, errno);
        if (w == 0) return record(o, EIO);
        p += w;
        size -= (size_t)w;
    }
    return 0;
}

static ssize_t stream_write(void *cookie, const char *buf, size_t size)
{
    return adv_outfile_write(cookie, buf, size) == 0 ? (ssize_t)size : -1;
}

FILE *adv_outfile_stream(adv_outfile *o)
{
    if (!o->stream) {
        cookie_io_functions_t io = {NULL, stream_write, NULL, NULL};
        o->stream = fopencookie(o, "w", io);
        if (!o->stream) record(o, ENOMEM);
    }
    return o->stream;
}

int adv_outfile_fd(const adv_outfile *o) { return o->fd; }
const char *adv_outfile_path(const adv_outfile *o) { return o->path; }
void adv_outfile_set_error(adv_outfile *o, int err) { record(o, err); }
int adv_outfile_error(const adv_outfile *o) { return o->err; }

/* Best effort: makes the new directory entry durable. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

/* Gives the anonymous file the name `name` (fails with EEXIST if it is taken). */
static int link_anonymous(const adv_outfile *o, const char *name)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", o->fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW);
}

/* Puts the (flushed, synced) file at o->path; 0 or -1 with errno. */
static int place(adv_outfile *o)
{
    int replace = o->flags & ADV_OUTFILE_REPLACE;
    if (!o->temp) {
        if (link_anonymous(o, o->path) == 0) return 0;
        if (errno != EEXIST || !replace) return -1;
        /* taken: link under a hidden name, then rename over the old file */
        for (int attempt = 0; attempt < 100; attempt++) {
            if (!(o->temp = temp_name(o))) return errno = ENOMEM, -1;
            if (link_anonymous(o, o->temp) == 0) break;
            free(o->temp);
            o->temp = NULL;
            if (errno != EEXIST) return -1;
        }
        if (!o->temp) return errno = EEXIST, -1;
    }
    if (replace) return rename(o->temp, o->path);
    if (renameat2(AT_FDCWD, o->temp, AT_FDCWD, o->path, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return -1;
    /* no RENAME_NOREPLACE on this file system: check, then rename (a race remains) */
    struct stat st;
    if (lstat(o->path, &st) == 0) return errno = EEXIST, -1;
    return rename(o->temp, o->path);
}

int adv_outfile_commit(adv_outfile *o)
{
    if (o->stream) {
        if (fclose(o->stream) != 0) record(o, errno);
        o->stream = NULL;
    }
    if (!o->err && fsync(o->fd) != 0) record(o, errno);
    if (!o->err) {
        struct stat old;
        if (stat(o->path, &old) == 0 && S_ISREG(old.st_mode) && (o->flags & ADV_OUTFILE_REPLACE))
            (void)fchmod(o->fd, old.st_mode & 07777);   /* a replaced file keeps its permissions */
        if (place(o) != 0) record(o, errno);
    }
    int placed = !o->err;
    /* after a successful fsync close() has nothing left to report (write-back errors, NFS
     * included, surface at fsync); an EINTR here must not condemn a complete file */
    close(o->fd);
    o->fd = -1;
    int rc = 0;
    if (o->err == EEXIST) rc = adv_fail_output("%s: exists (not overwritten)", o->path);
    else if (o->err) rc = fail_write(o, o->err);
    if (o->temp && !placed) unlink(o->temp);
    if (placed) sync_dir(o->dir);
    release(o);
    return rc;
}

void adv_outfile_abort(adv_outfile *o)
{
    if (!o) return;
    if (o->stream) {
        record(o, ECANCELED);   /* the final flush writes nothing */
        fclose(o->stream);
    }
    if (o->fd >= 0) close(o->fd);
    if (o->temp) unlink(o->temp);
    release(o);
}

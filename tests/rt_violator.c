/* A JACK client whose process callback allocates and frees memory each period: the fixture that
 * shows tests/rt_guard_jack.sh can fail (rt_guard must report it).
 *   rt_violator SERVER SECONDS */
#include <jack/jack.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int process(jack_nframes_t n, void *arg)
{
    (void)n;
    (void)arg;
    void *volatile p = malloc(64);   /* volatile: the compiler may not drop the pair */
    free(p);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: rt_violator SERVER SECONDS\n"); return 2; }
    jack_status_t st;
    jack_client_t *c = jack_client_open("rt_violator", JackNoStartServer | JackServerName, &st, argv[1]);
    if (!c) { fprintf(stderr, "rt_violator: no JACK server %s\n", argv[1]); return 1; }
    jack_set_process_callback(c, process, NULL);
    if (jack_activate(c) != 0) return 1;
    sleep((unsigned)atoi(argv[2]));
    jack_deactivate(c);
    jack_client_close(c);
    return 0;
}

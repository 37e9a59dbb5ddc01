/* runaway: slide 1, a fork in a loop whose child never exits (a fork bomb).
 *
 * The slide's loop is kept: after do_stuff() the child falls back into the loop and forks too, so
 * the number of processes doubles every round (1, 2, 4, 8, ...) until fork() fails. Run it only
 * contained (a fork budget makes fork fail with EAGAIN, a watchdog ends the run): a process whose
 * fork failed prints the error and then waits to be killed. Marked lines are not on the slide.
 */
#define _GNU_SOURCE          /* added: #includes and helpers */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define SAFETY_CAP 64 /* added: never more processes than this, even run uncontained */

static int *slots; /* added: processes alive, shared by the whole tree (MAP_SHARED) */

static void nap(long ms) { /* added */
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void do_stuff(void) { /* added: the slide's do_stuff() only says who runs it */
    printf("do_stuff in pid %d (parent %d)\n", getpid(), getppid());
}

static void stop_forking(int err, const char *why) { /* added: a failed fork ends the growth */
    fprintf(stderr, "pid %d: fork: %s%s\n", getpid(), strerror(err), why);
    alarm(10);          /* even uncontained, every process is gone after 10 s */
    for (;;) pause();   /* wait here until the watchdog (or the alarm) kills us */
}

static bool take_slot(void) { /* added: the safety cap, checked before every fork */
    if (__atomic_add_fetch(slots, 1, __ATOMIC_SEQ_CST) <= SAFETY_CAP) return true;
    __atomic_sub_fetch(slots, 1, __ATOMIC_SEQ_CST);
    return false;
}

int main(int argc, char **argv) {
    (void)argc; (void)argv;                                    /* added */
    setvbuf(stdout, NULL, _IONBF, 0);                          /* added: one write per line */
    slots = mmap(NULL, sizeof *slots, PROT_READ | PROT_WRITE,  /* added */
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (slots == MAP_FAILED) { perror("mmap"); return 1; }     /* added */
    *slots = 1;                                                /* added */
    printf("runaway: the first process is pid %d\n", getpid()); /* added */
    while (true) {
        nap(100);                                              /* added: one round per 0.1 s */
        if (!take_slot()) stop_forking(EAGAIN, " (runaway.c's own safety cap)"); /* added */
        pid_t pid = fork();
        if (pid == -1) {                                       /* added: the error check */
            __atomic_sub_fetch(slots, 1, __ATOMIC_SEQ_CST);
            stop_forking(errno, "");
        }
        if (pid == 0) {
            do_stuff();
        }  /* added: closing brace of the if; the child does not exit, as on the slide */
    }      /* added: closing brace of the loop */
}          /* added: closing brace of main */

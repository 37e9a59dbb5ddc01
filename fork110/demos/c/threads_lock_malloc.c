/* threads_lock_malloc: the same experiment with glibc's real malloc. Thread B calls malloc and
 * free in a tight loop (so it is often inside malloc, holding an arena lock) while thread A forks
 * 20 children that each call malloc. None hangs: glibc's fork takes every malloc lock before
 * forking, releases them in the parent and re-initialises them in the child (it does not unlock
 * them). malloc itself is protected; the slide's hazard remains for every other lock (yours, your
 * libraries') that nobody re-initialises at fork. Not on the slides.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILDREN 20

static volatile int stop;
static volatile long rounds;

static void nap(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void *thread_b(void *arg) {
    (void)arg;
    while (!stop) {
        char *p = malloc(16 + (size_t)(rounds % 4000));
        memset(p, 1, 16);
        free(p);
        rounds++;
    }
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    pthread_t b;
    pthread_create(&b, NULL, thread_b, NULL);
    while (rounds == 0) nap(1);
    printf("thread A (pid %d) forks %d children while thread B calls malloc in a loop\n", getpid(),
           CHILDREN);
    int ok = 0;
    for (int i = 0; i < CHILDREN; i++) {
        pid_t pid = fork();
        if (pid == -1) { perror("fork"); break; }
        if (pid == 0) {
            char *p = malloc(100); /* the real malloc, in a child forked mid-malloc */
            free(p);
            _exit(0);
        }
        int status = 0;
        pid_t r = 0;
        for (int t = 0; t < 100 && (r = waitpid(pid, &status, WNOHANG)) == 0; t++) nap(10);
        if (r == 0) {
            printf("child %d is stuck in malloc; killing it\n", pid);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            ok++;
        }
    }
    stop = 1;
    pthread_join(b, NULL);
    printf("%d of %d children called malloc and exited: glibc re-initialises malloc's locks in "
           "the child\n",
           ok, CHILDREN);
    return ok == CHILDREN ? 0 : 1;
}

/* threads_lock_fixed: the malloc-lock slides done right. Everything the child needs (its argv) is
 * built before fork, and the child calls exec at once: no malloc, no lock, no other code. exec
 * replaces the whole address space, held locks included. Thread B still holds the lock while the
 * child runs; the child does not care. Marked lines differ from the slide.
 */
#define _GNU_SOURCE          /* added: #includes, the lock, thread B, and the parent's side */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t malloc_lock = PTHREAD_MUTEX_INITIALIZER;
static sem_t held, release;

static void nap(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void *thread_b(void *arg) {
    (void)arg;
    pthread_mutex_lock(&malloc_lock);
    printf("thread B (tid %d) holds the malloc lock\n", (int)gettid());
    sem_post(&held);
    sem_wait(&release); /* hold the lock until main says so */
    pthread_mutex_unlock(&malloc_lock);
    return NULL;
}

int main(void) { /* added: main, up to the slide's first line */
    setvbuf(stdout, NULL, _IONBF, 0);
    pthread_t b;
    sem_init(&held, 0, 0);
    sem_init(&release, 0, 0);
    pthread_create(&b, NULL, thread_b, NULL);
    sem_wait(&held);
    printf("thread A (pid %d) forks while thread B holds the lock\n", getpid());
    /* fixed: argv built before fork, in the parent */
    char *args[] = {"/bin/sh", "-c", "echo \"child $$: exec'd at once, a new program has no copy of the lock\"", NULL};
    // Imagine that this process is running multiple threads
    pid_t pid = fork();
    if (pid == 0) {
        execv(args[0], args);  /* fixed: exec at once (an absolute path: no PATH search) */
        _exit(127);            /* fixed: exec failed: _exit, nothing else */
    }
    if (pid == -1) { perror("fork"); return 1; } /* added: the parent's side */
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 20 && (r = waitpid(pid, &status, WNOHANG)) == 0; i++) nap(50);
    if (r == 0) { /* not expected: same guard as in threads_lock.c */
        printf("parent: child %d is stuck\n", pid);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    if (WIFEXITED(status))
        printf("parent: child %d exited with status %d while thread B still held the lock\n", pid,
               WEXITSTATUS(status));
    else
        printf("parent: child %d killed by signal %d\n", pid, WTERMSIG(status));
    sem_post(&release);
    pthread_join(b, NULL);
    return 0;
}

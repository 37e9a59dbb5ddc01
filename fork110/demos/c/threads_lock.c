/* threads_lock: the malloc-lock slides. Thread B holds a lock while thread A (main) forks. The
 * child is a copy of A only: the lock is copied as "held", and B, the only thread that would
 * release it, does not exist in the child, so the child's malloc waits for the lock forever.
 * my_malloc() stands in for malloc: it takes our own mutex as malloc takes its lock, which makes
 * the demo deterministic (glibc's real malloc re-initialises its locks in the child: see threads_lock_malloc).
 * The parent waits 1 s for the child, says it is stuck, then kills and reaps it. Marked lines are
 * not on the slide.
 */
#define _GNU_SOURCE          /* added: #includes, the lock, thread B, and the parent's side */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t malloc_lock = PTHREAD_MUTEX_INITIALIZER;
static sem_t held, release;

static void *my_malloc(size_t n) { /* malloc's shape: lock, allocate, unlock */
    pthread_mutex_lock(&malloc_lock);
    void *p = malloc(n);
    pthread_mutex_unlock(&malloc_lock);
    return p;
}

static void nap(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* The first line of /proc/<pid>/<file> that starts with key, without the key ("?" if none). */
static void proc_field(pid_t pid, const char *file, const char *key, char *out, size_t size) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    snprintf(out, size, "?");
    if (n <= 0) return;
    buf[n] = '\0';
    char *at = strstr(buf, key);
    if (at == NULL) return;
    at += strlen(key) + strspn(at + strlen(key), " \t");
    snprintf(out, size, "%.*s", (int)strcspn(at, "\n"), at);
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
    char threads[32], state[64], wchan[64];
    pthread_t b;
    sem_init(&held, 0, 0);
    sem_init(&release, 0, 0);
    pthread_create(&b, NULL, thread_b, NULL);
    sem_wait(&held);
    proc_field(getpid(), "status", "Threads:", threads, sizeof threads);
    printf("thread A (pid %d, Threads: %s) forks while thread B holds the lock\n", getpid(), threads);
    int num_args = 3;
    /* ---- the slide's code ---- */
    // Imagine that this process is running multiple threads
    pid_t pid = fork();
    if (pid == 0) {
        proc_field(getpid(), "status", "Threads:", threads, sizeof threads); /* added */
        printf("child %d (Threads: %s): calling malloc\n", getpid(), threads); /* added */
        const char** args = my_malloc(sizeof(char *) * num_args); /* added: my_malloc for malloc */
        args[0] = "echo"; args[1] = "child: got the lock"; args[2] = NULL; /* added */
        // Note: On execvp, all memory will be freed.
        execvp(args[0], (char *const *)args); /* added: the cast */
        // If execvp failed, free memory and exit.
        free(args);
        exit(1);
    } /* added: closing brace */
    /* ---- end of the slide's code; added: the parent's side ---- */
    if (pid == -1) { perror("fork"); return 1; }
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 20 && (r = waitpid(pid, &status, WNOHANG)) == 0; i++) nap(50);
    if (r == 0) {
        proc_field(pid, "status", "State:", state, sizeof state);
        proc_field(pid, "wchan", "", wchan, sizeof wchan);
        printf("parent: child %d is stuck (lock held by a thread that does not exist in the child)\n", pid);
        printf("parent: child %d state %s, waiting in %s\n", pid, state, wchan);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    if (WIFSIGNALED(status))
        printf("parent: child %d killed by signal %d and reaped\n", pid, WTERMSIG(status));
    else
        printf("parent: child %d exited with status %d\n", pid, WEXITSTATUS(status));
    sem_post(&release);
    pthread_join(b, NULL);
    free(my_malloc(16));
    printf("parent: thread B released the lock; my_malloc works again in the parent\n");
    return 0;
}

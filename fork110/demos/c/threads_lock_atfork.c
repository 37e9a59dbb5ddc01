/* threads_lock_atfork: the other fix, pthread_atfork. A "prepare" handler takes the lock before
 * fork (so fork waits until thread B has released it), and handlers in the parent and in the
 * child release it after fork. The child gets the lock in a known, free state and can allocate.
 * This is what glibc does for malloc's own locks. Marked lines differ from the slide.
 */
#define _GNU_SOURCE          /* added: #includes, the lock, thread B, and the parent's side */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t malloc_lock = PTHREAD_MUTEX_INITIALIZER;
static sem_t held;
static volatile int b_released;

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

static void take_lock(void) { pthread_mutex_lock(&malloc_lock); }   /* fixed: the handlers */
static void drop_lock(void) { pthread_mutex_unlock(&malloc_lock); }

static void *thread_b(void *arg) {
    (void)arg;
    pthread_mutex_lock(&malloc_lock);
    printf("thread B (tid %d) holds the malloc lock for 0.3 s\n", (int)gettid());
    sem_post(&held);
    nap(300);
    b_released = 1;
    pthread_mutex_unlock(&malloc_lock);
    return NULL;
}

int main(void) { /* added: main, up to the slide's first line */
    setvbuf(stdout, NULL, _IONBF, 0);
    pthread_atfork(take_lock, drop_lock, drop_lock); /* fixed: prepare, parent, child */
    pthread_t b;
    sem_init(&held, 0, 0);
    pthread_create(&b, NULL, thread_b, NULL);
    sem_wait(&held);
    printf("thread A (pid %d) forks while thread B holds the lock\n", getpid());
    int num_args = 3;
    // Imagine that this process is running multiple threads
    pid_t pid = fork();
    if (pid == 0) {
        const char** args = my_malloc(sizeof(char *) * num_args); /* added: my_malloc for malloc */
        args[0] = "echo"; args[1] = "child: my_malloc worked, exec'd echo"; args[2] = NULL; /* added */
        // Note: On execvp, all memory will be freed.
        execvp(args[0], (char *const *)args); /* added: the cast */
        // If execvp failed, free memory and exit.
        free(args);
        _exit(1); /* fixed: _exit, not exit, in a forked child */
    }
    if (pid == -1) { perror("fork"); return 1; } /* added: the parent's side */
    printf("parent: fork returned %s thread B released the lock\n", b_released ? "after" : "BEFORE");
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 20 && (r = waitpid(pid, &status, WNOHANG)) == 0; i++) nap(50);
    if (r == 0) { /* not expected: same guard as in threads_lock.c */
        printf("parent: child %d is stuck\n", pid);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    if (WIFEXITED(status))
        printf("parent: child %d exited with status %d\n", pid, WEXITSTATUS(status));
    else
        printf("parent: child %d killed by signal %d\n", pid, WTERMSIG(status));
    pthread_join(b, NULL);
    return 0;
}

/* zombies_fixed: reap children as they exit. A SIGCHLD handler calls waitpid(-1, WNOHANG) in a
 * loop (one SIGCHLD may stand for several exits) and records what it reaped; main only prints.
 * During the same 1 s sleep as in zombies.c, no child stays a zombie.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N 3

static volatile sig_atomic_t reaped;
static volatile pid_t reaped_pid[N];
static volatile int reaped_status[N];

static void on_sigchld(int sig) { /* async-signal-safe: waitpid and plain stores only */
    (void)sig;
    int saved = errno, status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0 && reaped < N) {
        reaped_pid[reaped] = pid;
        reaped_status[reaped] = status;
        reaped++;
    }
    errno = saved;
}

static void nap(long ms) { /* nanosleep is cut short by SIGCHLD: sleep the rest */
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static const char *state_of(pid_t pid, char *out, size_t size) { /* as in zombies.c */
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    snprintf(out, size, "gone");
    if (n <= 0) return out;
    buf[n] = '\0';
    char *at = strstr(buf, "State:");
    if (at) snprintf(out, size, "%.*s", (int)strcspn(at + 7, "\n"), at + 7);
    return out;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    pid_t kids[N];
    char st[64];
    printf("parent %d forks %d children; its SIGCHLD handler reaps them\n", getpid(), N);
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        if (kids[i] == -1) { perror("fork"); return 1; }
        if (kids[i] == 0) {
            printf("child %d exits with status %d\n", getpid(), i + 1);
            _exit(i + 1);
        }
    }
    printf("parent %d sleeps 1 s\n", getpid());
    nap(1000);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    while (reaped < N) sigsuspend(&old); /* not expected to wait: all exited during the sleep */
    sigprocmask(SIG_SETMASK, &old, NULL);
    for (int i = 0; i < N; i++)
        printf("handler reaped %d: exit status %d\n", reaped_pid[i], WEXITSTATUS(reaped_status[i]));
    for (int i = 0; i < N; i++)
        printf("child %d: state %s\n", kids[i], state_of(kids[i], st, sizeof st));
    return 0;
}

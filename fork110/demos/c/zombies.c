/* zombies: children that exit while their parent is not waiting stay in the process table as
 * zombies (state Z, "<defunct>" in ps) holding their pid and exit status, until the parent
 * reaps them with waitpid. Here they stay zombies for about 1 s. Not on the slides (the recap's
 * "failure to clean up").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N 3

static void nap(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* The State: line of /proc/<pid>/status ("Z (zombie)"), or "gone" if there is no such process. */
static const char *state_of(pid_t pid, char *out, size_t size) {
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
    pid_t kids[N];
    char st[64];
    printf("parent %d forks %d children and does not wait for them yet\n", getpid(), N);
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        if (kids[i] == -1) { perror("fork"); return 1; }
        if (kids[i] == 0) {
            printf("child %d exits with status %d\n", getpid(), i + 1);
            _exit(i + 1);
        }
    }
    for (int i = 0; i < N; i++) { /* WNOWAIT: wait until it has exited, but do not reap it */
        siginfo_t info;
        waitid(P_PID, (id_t)kids[i], &info, WEXITED | WNOWAIT);
    }
    for (int i = 0; i < N; i++)
        printf("child %d has exited; state %s\n", kids[i], state_of(kids[i], st, sizeof st));
    printf("parent %d sleeps 1 s; zombies: %d %d %d\n", getpid(), kids[0], kids[1], kids[2]);
    nap(1000);
    for (int i = 0; i < N; i++) {
        int status;
        pid_t r = waitpid(kids[i], &status, 0);
        printf("reaped %d: exit status %d; state now %s\n", r, WEXITSTATUS(status),
               state_of(kids[i], st, sizeof st));
    }
    return 0;
}

/* subprocess: CS110's subprocess by hand, the "higher level abstraction" the slides recommend.
 * subprocess(argv) makes a pipe for the child's stdout and an error pipe, forks, and in the child
 * rewires stdout (dup2) and execs. The error pipe is O_CLOEXEC: a successful exec closes it, so
 * the parent reads EOF; a failed exec writes errno into it first, so the parent learns why (what
 * Rust's Command and Python's subprocess do). Not on the slides as code.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    pid_t pid;    /* -1 if the program could not be started */
    int ingestfd; /* read the child's stdout here */
    int error;    /* errno of the failed fork/pipe/exec, else 0 */
    int via_pipe; /* 1 when the child reported error through the error pipe (exec failed) */
} subprocess_t;

subprocess_t subprocess(char *argv[]) {
    subprocess_t sp = {-1, -1, 0, 0};
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) == -1) { sp.error = errno; return sp; }
    if (pipe2(err, O_CLOEXEC) == -1) { sp.error = errno; close(out[0]); close(out[1]); return sp; }
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(out[1], STDOUT_FILENO) != -1) execvp(argv[0], argv);
        int e = errno; /* only reached if dup2 or execvp failed */
        ssize_t n = write(err[1], &e, sizeof e);
        (void)n;
        _exit(127);
    }
    int e = errno;
    close(out[1]);
    close(err[1]);
    if (pid == -1) { sp.error = e; close(out[0]); close(err[0]); return sp; }
    ssize_t n;
    while ((n = read(err[0], &e, sizeof e)) == -1 && errno == EINTR) {}
    close(err[0]);
    if (n == sizeof e) { /* exec failed: reap the child, report the errno */
        waitpid(pid, NULL, 0);
        close(out[0]);
        sp.error = e;
        sp.via_pipe = 1;
        return sp;
    }
    sp.pid = pid;
    sp.ingestfd = out[0];
    return sp;
}

static int run(char *argv[]) { /* run argv through subprocess(), print what it wrote */
    subprocess_t sp = subprocess(argv);
    if (sp.pid == -1) {
        printf("subprocess(%s) failed: %s (errno %d, %s)\n", argv[0], strerror(sp.error), sp.error,
               sp.via_pipe ? "reported through the error pipe" : "in the parent, before any child ran");
        return -1;
    }
    FILE *in = fdopen(sp.ingestfd, "r");
    char line[512];
    while (fgets(line, sizeof line, in)) printf("read from %s (pid %d): %s", argv[0], sp.pid, line);
    fclose(in);
    int status;
    waitpid(sp.pid, &status, 0);
    printf("%s (pid %d) exited with status %d\n", argv[0], sp.pid, WEXITSTATUS(status));
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", getpid());
    printf("main is pid %d\n", getpid());
    char *ps[] = {"ps", "--pid", pid, "-o", "pid= ppid= command=", NULL};
    int ok = run(ps);
    char *missing[] = {"no-such-program", NULL};
    run(missing);
    return ok == 0 ? 0 : 1;
}

/* fork_exec: why fork and exec are separate. Between them, the child changes its own setup, and
 * the program it execs inherits it: stdout rewired to a pipe (the parent reads it), an environment
 * variable set, SIGUSR1 blocked, the CPU affinity pinned to one core. The exec'd program (this
 * same file, run again with --report: a fresh program image) prints the four facts; the parent's
 * own are untouched. (Not /bin/sh: dash, Debian's sh, clears the blocked-signal mask at startup
 * and would hide change 3.) Not on the slides as code: the "Why separate fork and exec?" slide
 * lists these four customizations.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void show_self(const char *who) { /* the same four facts, for this process */
    char fd1[256] = "?", line[256];
    ssize_t n = readlink("/proc/self/fd/1", fd1, sizeof fd1 - 1);
    fd1[n > 0 ? n : 0] = '\0';
    const char *var = getenv("FORK110_DEMO");
    printf("%s: fd 1 -> %s\n%s: FORK110_DEMO=%s\n", who, fd1, who, var ? var : "");
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "Cpus_allowed_list:", 18))
            printf("%s: %s", who, line);
    if (f) fclose(f);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 2 && strcmp(argv[1], "--report") == 0) { /* the exec'd program */
        char who[64];
        snprintf(who, sizeof who, "exec'd program (pid %d)", getpid());
        show_self(who);
        return 0;
    }
    show_self("parent");
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) == -1) { perror("pipe2"); return 1; }
    cpu_set_t allowed, one;
    sched_getaffinity(0, sizeof allowed, &allowed);
    int cpu = 0; /* CPU 0, or the first CPU this process may use */
    while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &allowed)) cpu++;
    pid_t pid = fork();
    if (pid == -1) { perror("fork"); return 1; }
    if (pid == 0) {
        /* 1. rewire a file descriptor: stdout goes into the pipe (dup2 clears O_CLOEXEC on fd 1) */
        if (dup2(fds[1], STDOUT_FILENO) == -1) _exit(127);
        /* 2. change the environment */
        setenv("FORK110_DEMO", "set-between-fork-and-exec", 1);
        /* 3. block a signal (the blocked mask survives exec) */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);
        /* 4. pin to one CPU */
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(0, sizeof one, &one) == -1) perror("sched_setaffinity");
        execl("/proc/self/exe", argv[0], "--report", (char *)NULL);
        perror("execl /proc/self/exe");
        _exit(127);
    }
    close(fds[1]);
    printf("parent: forked child %d; it changes four things, then execs a program\n", pid);
    FILE *in = fdopen(fds[0], "r");
    char line[512];
    while (in && fgets(line, sizeof line, in)) printf("parent read from the pipe: %s", line);
    if (in) fclose(in);
    int status;
    waitpid(pid, &status, 0);
    printf("parent: child %d exited with status %d\n", pid, WEXITSTATUS(status));
    show_self("parent, after");
    return 0;
}

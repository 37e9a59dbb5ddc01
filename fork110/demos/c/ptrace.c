/* ptrace: what the pre_exec slide needs, in C. After fork, before exec, the child asks to be traced
 * (PTRACE_TRACEME; in Rust this call goes in the pre_exec function). Its exec then stops it with
 * SIGTRAP before the new program runs one instruction; the parent (the "debugger") sees the stop,
 * reads the instruction pointer, lets it continue (PTRACE_CONT) and sees it exit. Where ptrace is
 * not permitted (some containers), it says so and exits with status 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__aarch64__)
#include <elf.h>
#endif

static int read_ip(pid_t pid, unsigned long long *ip) { /* 0 on success */
#if defined(__x86_64__)
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) == -1) return -1;
    *ip = regs.rip;
    return 0;
#elif defined(__aarch64__)
    struct user_regs_struct regs;
    struct iovec iov = {&regs, sizeof regs};
    if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) == -1) return -1;
    *ip = regs.pc;
    return 0;
#else
    (void)pid; (void)ip;
    errno = ENOSYS;
    return -1;
#endif
}

static void print_mapping(pid_t pid, unsigned long long ip) { /* which file the ip is in */
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long lo, hi;
        char *file = strchr(line, '/');
        if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && lo <= ip && ip < hi && file) {
            printf("parent: the ip is in %s", file);
            break;
        }
    }
    if (f) fclose(f);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t pid = fork();
    if (pid == -1) { perror("fork"); return 1; }
    if (pid == 0) { /* what Rust's pre_exec function would do */
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1) {
            fprintf(stderr, "child %d: ptrace(PTRACE_TRACEME): %s\n", getpid(), strerror(errno));
            _exit(2);
        }
        execlp("echo", "echo", "hello from the traced child", (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        printf("ptrace is not permitted here (PTRACE_TRACEME failed; common in containers)\n");
        return 2;
    }
    if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP) {
        printf("parent: unexpected status 0x%x from child %d\n", status, pid);
        return 1;
    }
    ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)PTRACE_O_EXITKILL); /* dies with us */
    printf("parent: child %d stopped by SIGTRAP at exec\n", pid);
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(buf, sizeof buf, f))
        if (!strncmp(buf, "State:", 6)) printf("parent: child %d state %s", pid, buf + 6 + strspn(buf + 6, " \t"));
    if (f) fclose(f);
    unsigned long long ip;
    if (read_ip(pid, &ip) == 0) {
        printf("parent: instruction pointer 0x%llx (stopped before echo's first instruction)\n", ip);
        print_mapping(pid, ip);
    } else {
        printf("parent: ip unavailable on this machine\n");
    }
    usleep(300000); /* added: hold the stop 0.3 s, so a sampled tree shows the child in state t */
    ptrace(PTRACE_CONT, pid, NULL, NULL);
    waitpid(pid, &status, 0);
    if (WIFEXITED(status))
        printf("parent: child %d exited with status %d\n", pid, WEXITSTATUS(status));
    else
        printf("parent: child %d ended with status 0x%x\n", pid, status);
    return 0;
}

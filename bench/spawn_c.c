/*
 * spawn_c: the floor for bench/spawn.py.
 *
 * Usage: spawn_c K PROGRAM [ARG...]
 *
 * Starts PROGRAM K times with posix_spawn (posix_spawnp when PROGRAM has no
 * slash, so a bare name is searched on PATH), waits for each with waitpid,
 * and prints the mean wall-clock cost of one spawn+wait in microseconds,
 * timed after one untimed warm-up spawn (the Python cases run warm too).
 * The child inherits this process's environment and stdio, as
 * subprocess.run and Command.status() do. Exits 1 if a spawn fails or a
 * child does not exit with status 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int spawn_wait(const char *program, char **child_argv, int search_path)
{
    pid_t pid;
    int rc = search_path
        ? posix_spawnp(&pid, program, NULL, NULL, child_argv, environ)
        : posix_spawn(&pid, program, NULL, NULL, child_argv, environ);
    if (rc != 0) {
        fprintf(stderr, "posix_spawn %s: %s\n", program, strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("waitpid");
            return -1;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s: child did not exit with status 0 (wait status %#x)\n",
                program, status);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s K PROGRAM [ARG...]\n", argv[0]);
        return 2;
    }
    char *end = NULL;
    long k = strtol(argv[1], &end, 10);
    if (*end != '\0' || k < 1) {
        fprintf(stderr, "%s: K must be a positive integer, got %s\n", argv[0], argv[1]);
        return 2;
    }
    const char *program = argv[2];
    char **child_argv = &argv[2];
    int search_path = strchr(program, '/') == NULL;

    if (spawn_wait(program, child_argv, search_path) != 0) {
        return 1;
    }
    double start = now_us();
    for (long i = 0; i < k; i++) {
        if (spawn_wait(program, child_argv, search_path) != 0) {
            return 1;
        }
    }
    double elapsed = now_us() - start;
    printf("%.3f\n", elapsed / (double)k);
    return 0;
}

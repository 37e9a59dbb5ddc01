/* nested_forks_fixed: slide 2 done right, three processes. The parent forks child 1, which runs
 * do_stuff_proc1() and _exit()s; only then does the parent fork child 2, which runs
 * do_stuff_proc2() and _exit()s; the parent waits for both. No grandchild, no orphan.
 */
#include <errno.h>           /* added: #includes and helpers */
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) { /* added */
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void do_stuff_proc1(void) { /* added */
    printf("do_stuff_proc1 in pid %d (parent %d)\n", getpid(), getppid());
    nap(100);
}

static void do_stuff_proc2(void) { /* added */
    printf("do_stuff_proc2 in pid %d (parent %d)\n", getpid(), getppid());
    nap(100);
}

int main(int argc, char **argv) {
    (void)argc; (void)argv;                        /* added */
    setvbuf(stdout, NULL, _IONBF, 0);              /* added: one write per line */
    printf("main is pid %d\n", getpid());
    pid_t pid1 = fork();
    if (pid1 == -1) { perror("fork"); return 1; }  /* fixed: check for failure */
    if (pid1 == 0) {
        do_stuff_proc1();
        _exit(0);                                  /* fixed: the child ends here */
    }
    pid_t pid2 = fork();                           /* fixed: forked by the parent only */
    if (pid2 == -1) { perror("fork"); waitpid(pid1, NULL, 0); return 1; }
    if (pid2 == 0) {
        do_stuff_proc2();
        _exit(0);                                  /* fixed */
    }
    pid_t r1 = waitpid(pid1, NULL, 0);
    pid_t r2 = waitpid(pid2, NULL, 0);
    printf("main in pid %d: waitpid returned %d and %d; returning\n", getpid(), r1, r2);
    return 0;
}

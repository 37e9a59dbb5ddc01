/* nested_forks: slide 2, two forks in a row. The second fork runs in the parent AND in the first
 * child, so there are four processes: main, child 1, child 2, and a grandchild (child 1's child).
 * The grandchild has pid1 == 0 too, so do_stuff_proc1() runs twice; nobody waits for the
 * grandchild, and its parent (child 1) exits first, so it becomes an orphan: it prints its parent
 * again after 0.3 s and the parent is now the nearest subreaper (or init). Marked lines are not on
 * the slide.
 */
#include <errno.h>           /* added: #includes and helpers */
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t main_pid; /* added: to tell the grandchild from the children */

static void nap(long ms) { /* added */
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void do_stuff_proc1(void) { /* added */
    pid_t parent = getppid();
    printf("do_stuff_proc1 in pid %d (parent %d)\n", getpid(), parent);
    nap(100); /* the "stuff": 0.1 s of work, so a grandchild sees its parent still alive */
    if (parent != main_pid) { /* only the grandchild: outlive its parent to show the orphan */
        nap(300);
        printf("do_stuff_proc1 in pid %d: parent %d has exited, my parent is now %d (orphan)\n",
               getpid(), parent, getppid());
    }
}

static void do_stuff_proc2(void) { /* added */
    printf("do_stuff_proc2 in pid %d (parent %d)\n", getpid(), getppid());
    nap(100);
}

int main(int argc, char **argv) {
    (void)argc; (void)argv;                        /* added */
    setvbuf(stdout, NULL, _IONBF, 0);              /* added: one write per line */
    main_pid = getpid();                           /* added */
    printf("main is pid %d\n", main_pid);          /* added */
    pid_t pid1 = fork();
    pid_t pid2 = fork();
    if (pid1 == 0) {
        do_stuff_proc1();
        return 0;
    }                                              /* added: closing brace */
    if (pid2 == 0) {
        do_stuff_proc2();
        return 0;
    }                                              /* added: closing brace */
    pid_t r1 = waitpid(pid1, NULL, 0);             /* added: the NULL, 0 arguments and r1 = */
    pid_t r2 = waitpid(pid2, NULL, 0);             /* added: the NULL, 0 arguments and r2 = */
    printf("main in pid %d: waitpid returned %d and %d; returning\n", getpid(), r1, r2); /* added */
    return 0;                                      /* added */
}                                                  /* added: closing brace of main */

/* runaway_fixed: slide 1 done right. The parent makes exactly N children; each child runs
 * do_stuff() and then _exit(0)s, so it never falls back into the parent's loop; the parent then
 * waits for all of them. Marked lines are not on the slide.
 */
#include <stdio.h>           /* added: #includes */
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 5 /* added: how many children */

static void do_stuff(void) { /* added: the slide's do_stuff() only says who runs it */
    printf("do_stuff in pid %d (parent %d)\n", getpid(), getppid());
}

int main(int argc, char **argv) {
    (void)argc; (void)argv;                          /* added */
    setvbuf(stdout, NULL, _IONBF, 0);                /* added: one write per line */
    printf("runaway_fixed: the parent is pid %d\n", getpid());
    for (int i = 0; i < N; i++) {                    /* fixed: N rounds, not while (true) */
        pid_t pid = fork();
        if (pid == -1) {                             /* fixed: check for failure */
            perror("fork");
            break;
        }
        if (pid == 0) {
            do_stuff();
            _exit(0);                                /* fixed: the child ends here */
        }
    }
    int status;                                      /* fixed: wait for every child */
    pid_t pid;
    while ((pid = wait(&status)) > 0) {
        if (WIFEXITED(status))
            printf("parent %d reaped child %d: exit status %d\n", getpid(), pid, WEXITSTATUS(status));
        else
            printf("parent %d reaped child %d: status 0x%x\n", getpid(), pid, status);
    }
    printf("parent %d: all children reaped\n", getpid());
    return 0;
}

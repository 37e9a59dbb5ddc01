/* say_hello: slide 3, a function that forks and returns in the child. Returning from a function
 * that is not main does not end the process: the child returns to the caller and runs main's
 * remaining code, which was meant for the parent only. Marked lines are not on the slide.
 */
#include <stdio.h>           /* added: #includes */
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void sayHello(void) { /* added */
    printf("hello from pid %d (parent %d)\n", getpid(), getppid());
}

int createChildAndSayHello() {
    pid_t pid = fork();
    if (pid == 0) {
        sayHello();
        return 0;
    }                        /* added: closing brace */
    waitpid(pid, NULL, 0);   /* added: the NULL, 0 arguments */
    return 0;                /* added: the parent returns 0 as well */
}                            /* added: closing brace */

int main(void) {             /* added: a caller */
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("main starts in pid %d\n", getpid());
    createChildAndSayHello();
    printf("main continues in pid %d\n", getpid());
    printf("main about to return in pid %d\n", getpid());
    return 0;
}

/* say_hello_fixed: slide 3 done right. The child ends with _exit(0) instead of returning, so only
 * the parent comes back to main.
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
    if (pid == -1) { perror("fork"); return -1; } /* fixed: check for failure */
    if (pid == 0) {
        sayHello();
        _exit(0);            /* fixed: end the child; do not return into the caller */
    }
    waitpid(pid, NULL, 0);
    return 0;
}

int main(void) {             /* added: a caller */
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("main starts in pid %d\n", getpid());
    createChildAndSayHello();
    printf("main continues in pid %d\n", getpid());
    printf("main about to return in pid %d\n", getpid());
    return 0;
}

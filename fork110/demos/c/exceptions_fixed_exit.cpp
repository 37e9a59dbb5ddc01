/* exceptions_fixed_exit: createChild done right. In the child nothing is thrown: any failure
 * between fork and exec (dup2, execvp) is reported on stderr and the child _exit()s with status
 * 127, so no exception can carry the child back into the shell's loop. Marked lines differ from
 * the slide.
 */
#include <sys/types.h>       /* added: #includes, Exception, a small shell around createChild */
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

class Exception { /* added: stands in for stsh's STSHException */
  public:
    explicit Exception(const std::string& message) : message(message) {}
    const char* what() const { return message.c_str(); }
  private:
    std::string message;
};

/* fixed: what the child does when anything fails before exec: say so and _exit (no unwinding,
 * no atexit handlers, no flushing of stdio buffers copied from the parent). */
[[noreturn]] static void childFailed(const char* program, const char* call) {
    dprintf(STDERR_FILENO, "stsh child %d: %s %s: %s\n", getpid(), call, program, strerror(errno));
    _exit(127);
}

pid_t createChild(char **argv, int readFd, int writeFd) { /* added: char **argv (slide: char *argv) */
    pid_t pid = fork(); /* added: pid_t (slide: pid t) */
    if (pid == -1) { throw Exception("Call to fork process failed."); };
    if (pid == 0) { // In child
        if (dup2(readFd, STDIN_FILENO) < 0) {
            childFailed(argv[0], "dup2"); /* fixed: no throw in the child */
        }
        if (dup2(writeFd, STDOUT_FILENO) < 0) {
            childFailed(argv[0], "dup2"); /* fixed */
        }
        execvp(argv[0], argv);
        // If the child process gets here, it's because execvp failed
        childFailed(argv[0], "execvp"); /* fixed: report and _exit(127) */
    }
    return pid;
} /* added: closing brace */

/* added: one line from stdin, read a byte at a time with read(2) as shells do on a pipe (no
 * stdio buffer to duplicate at fork, so two shells really share the input). False at EOF. */
static bool readLine(std::string& line) {
    line.clear();
    char c;
    ssize_t n;
    while ((n = read(STDIN_FILENO, &c, 1)) == 1 && c != '\n') line += c;
    return n == 1 || !line.empty();
}

int main() { /* added: a shell loop in the style of the 2021 stsh starter */
    setvbuf(stdout, NULL, _IONBF, 0);
    std::string line;
    while (true) {
        printf("stsh[%d]> ", getpid());
        if (!readLine(line)) break;
        printf("%s\n", line.c_str());
        std::istringstream words(line);
        std::vector<std::string> args;
        for (std::string w; words >> w;) args.push_back(w);
        if (args.empty()) continue;
        std::vector<char*> argv;
        for (std::string& a : args) argv.push_back(&a[0]);
        argv.push_back(nullptr);
        try {
            pid_t pid = createChild(argv.data(), STDIN_FILENO, STDOUT_FILENO);
            int status;
            waitpid(pid, &status, 0);
            if (WIFEXITED(status))
                printf("stsh[%d]: job %d exited with status %d\n", getpid(), pid, WEXITSTATUS(status));
            else
                printf("stsh[%d]: job %d ended by signal %d\n", getpid(), pid, WTERMSIG(status));
        } catch (const Exception& e) {
            std::cerr << "stsh[" << getpid() << "] caught: " << e.what() << std::endl;
        }
    }
    printf("(end of input: stsh[%d] exits)\n", getpid());
    return 0;
}

/* exceptions_fixed_pid: the fix from the 2021 stsh starter. The shell saves its pid at start; the
 * catch block compares getpid() against it, so a child that threw (execvp failed) prints the
 * error and exits instead of becoming a second shell. createChild is unchanged from the slide.
 */
#include <sys/types.h>       /* added: #includes, Exception, a small shell around createChild */
#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
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

pid_t createChild(char **argv, int readFd, int writeFd) { /* added: char **argv (slide: char *argv) */
    pid_t pid = fork(); /* added: pid_t (slide: pid t) */
    if (pid == -1) { throw Exception("Call to fork process failed."); };
    if (pid == 0) { // In child
        if (dup2(readFd, STDIN_FILENO) < 0) {
            throw Exception("Call to dup2 failed");
        } /* added: closing brace */
        if (dup2(writeFd, STDOUT_FILENO) < 0) {
            throw Exception("Call to dup2 failed");
        } /* added: closing brace */
        execvp(argv[0], argv);
        // If the child process gets here, it's because execvp failed
        throw Exception("Call to execvp failed."); /* added: the semicolon */
    } /* added: closing brace */
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

static pid_t stshpid; /* added: the original shell's pid */

int main() { /* added: a shell loop in the style of the 2021 stsh starter */
    setvbuf(stdout, NULL, _IONBF, 0);
    stshpid = getpid();
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
            if (getpid() != stshpid) exit(0); /* fixed: the check, as on the slide */
        }
    }
    printf("(end of input: stsh[%d] exits)\n", getpid());
    return 0;
}

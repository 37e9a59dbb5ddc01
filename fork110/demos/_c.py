"""The C side of the demos: one completed C (or C++) program per slide snippet, and a compiler helper.

Each :class:`CProgram` pairs the snippet as the student saw it on the slides (``slide``, verbatim,
typos and OCR damage included) with a complete program in ``fork110/demos/c/`` that behaves as the
slide intends (``path``), and says in plain words what was added to complete the fragment
(``added``). Fixed versions are programs of their own whose ``fixes`` names the broken one.

>>> sorted(C_SOURCES)[:3]
['exceptions', 'exceptions_fixed_exit', 'exceptions_fixed_pid']
>>> C_SOURCES["say_hello_fixed"].fixes
'say_hello'

:func:`compile_c` builds one of them with the system compiler (``cc``, or ``c++`` for ``.cpp``)
under ``-Wall -Wextra -Werror``, caching the executable by source hash. Running them is the demo
framework's job: several must only ever run contained (``runaway`` is a fork bomb).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fork110._command import Command
from fork110._errors import Error, WaitTimeout
from fork110._stdio import Stdio

__all__ = ["CFLAGS", "C_DIR", "C_SOURCES", "CProgram", "CompileError", "compile_c", "compile_file"]

#: The folder that holds the programs.
C_DIR = Path(__file__).resolve().with_name("c")

#: Compiler flags for every program: they must build warning-free.
CFLAGS = ("-Wall", "-Wextra", "-Werror", "-O0", "-pthread")

#: Seconds a compilation may take before it is killed.
COMPILE_TIMEOUT = 120.0


@dataclass(frozen=True)
class CProgram:
    """One completed program: its name, the slide snippet it completes, its file, what was added.

    >>> p = C_SOURCES["say_hello"]
    >>> p.path.name, p.language, p.fixes
    ('say_hello.c', 'c', None)
    >>> "fork()" in p.slide and "sayHello();" in p.source
    True
    """

    name: str
    slide: str
    path: Path
    added: str
    fixes: str | None = None

    @property
    def language(self) -> str:
        """``"c"`` or ``"c++"``, from the file's suffix.

        >>> C_SOURCES["exceptions"].language
        'c++'
        """
        return "c++" if self.path.suffix == ".cpp" else "c"

    @property
    def source(self) -> str:
        """The completed program's text.

        >>> C_SOURCES["runaway"].source.count("/* added") > 5
        True
        """
        return self.path.read_text(encoding="utf-8")


class CompileError(Error, RuntimeError):
    """The compiler rejected a program (or ran out of time); the message carries its stderr.

    >>> str(CompileError(Path("x.c"), "x.c:1:1: error: expected ';'"))
    "compiling x.c failed:\\nx.c:1:1: error: expected ';'"
    """

    def __init__(self, path: Path, stderr: str) -> None:
        super().__init__(f"compiling {path.name} failed:\n{stderr}")
        self.path = path
        self.stderr = stderr


def compile_file(source: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path | None:
    """Compile one ``.c`` (with ``cc``) or ``.cpp`` (with ``c++``) file into ``out_dir``.

    Returns the executable's path, or None when that compiler is not on PATH. The executable is
    named ``<stem>-<hash>`` after the compiler, the flags and the source text, so an unchanged
    program is not rebuilt. Raises :class:`CompileError` with the compiler's output when it fails.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     bad = Path(d, "bad.c")
    ...     _ = bad.write_text("int main(void) { int unused; return 0; }\\n")
    ...     try:
    ...         compile_file(bad, d)
    ...     except CompileError as e:
    ...         print("unused" in e.stderr)
    ...     else:  # no compiler on this machine
    ...         print(True)
    True
    """
    src = Path(source)
    compiler = shutil.which("c++" if src.suffix == ".cpp" else "cc")
    if compiler is None:
        return None
    return build(src, compiler, CFLAGS, out_dir, COMPILE_TIMEOUT)


def build(
    src: Path,
    compiler: str,
    flags: tuple[str, ...] | list[str],
    out_dir: str | os.PathLike[str],
    timeout: float,
    in_scratch_dir: bool = False,
) -> Path:
    """Compile *src* with ``compiler flags -o <exe> src`` into ``out_dir``, once per compiler,
    flags and source text (the executable is ``<stem>-<hash>``; an unchanged program is not
    rebuilt). The compiler runs in its own process group, killed after *timeout* seconds; with
    *in_scratch_dir* it runs in a temporary directory (rustc leaves files in its cwd). Raises
    :class:`CompileError` with the compiler's output when it fails.

    >>> import tempfile
    >>> cc = shutil.which("cc")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ok = Path(d, "ok.c")
    ...     _ = ok.write_text("int main(void) { return 0; }\\n")
    ...     print(cc is None or build(ok, cc, CFLAGS, d, 60).name.startswith("ok-"))
    True
    """
    text = src.read_bytes()
    key = hashlib.sha256(repr((os.path.realpath(compiler), tuple(flags))).encode() + b"\0" + text)
    out_dir = Path(out_dir)
    exe = out_dir / f"{src.stem}-{key.hexdigest()[:16]}"
    if exe.is_file():
        return exe
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = exe.with_name(f"{exe.name}.tmp{os.getpid()}")
    with tempfile.TemporaryFile() as log, tempfile.TemporaryDirectory() as work:
        cmd = Command(compiler).args([*flags, "-o", str(tmp), str(src)]).process_group(0)
        if in_scratch_dir:
            cmd.current_dir(work)
        child = cmd.stdin(Stdio.null()).stdout(log).stderr(log).spawn()
        try:
            status = child.wait(timeout=timeout)
        except WaitTimeout:
            with contextlib.suppress(ProcessLookupError):
                child.kill_process_group(signal.SIGKILL)
            child.wait()
            status = None
        log.seek(0)
        message = log.read().decode(errors="replace")
    if status is None or not status.success():
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        why = f"{status}" if status is not None else f"timed out after {timeout:g} s"
        raise CompileError(src, message or why)
    os.replace(tmp, exe)
    return exe


def compile_c(name: str, out_dir: str | os.PathLike[str]) -> Path | None:
    """Compile the program ``C_SOURCES[name]`` into ``out_dir`` (see :func:`compile_file`).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     exe = compile_c("say_hello", d)
    ...     exe is None or (exe.name.startswith("say_hello-") and compile_c("say_hello", d) == exe)
    True
    >>> compile_c("nope", ".")
    Traceback (most recent call last):
    ...
    KeyError: "no C program named 'nope'; see C_SOURCES"
    """
    try:
        program = C_SOURCES[name]
    except KeyError:
        raise KeyError(f"no C program named {name!r}; see C_SOURCES") from None
    return compile_file(program.path, out_dir)


# --------------------------------------------------------------------------------------------------
# The slides' snippets, verbatim (the student saw these, typos and all)

_SLIDE_RUNAWAY = """\
int main(int argc, char **argv) {
    while (true) {
        pid_t pid = fork();
        if (pid == 0) {
            do_stuff();
"""

_SLIDE_NESTED = """\
int main(int argc, char **argv) {
    pid_t pid1 = fork();
    pid_t pid2 = fork();
    if (pid1 == 0) {
        do_stuff_proc1();
        return 0;
    if (pid2 == 0) {
        do_stuff_proc2();
        return 0;
    waitpid(pid1);
    waitpid(pid2);
"""

_SLIDE_SAY_HELLO = """\
int createChildAndSayHello() {
    pid_t pid = fork();
    if (pid == 0) {
        sayHello();
        return 0;
    waitpid(pid);
"""

_SLIDE_CREATE_CHILD = """\
pid_t createChild(char *argv, int readFd, int writeFd) {
    pid t pid = fork();
    if (pid == -1) { throw Exception("Call to fork process failed."); };
    if (pid == 0) { // In child
        if (dup2(readFd, STDIN_FILENO) < 0) {</pre>
            throw Exception("Call to dup2 failed");
        if (dup2(writeFd, STDOUT_FILENO) < 0) {
            throw Exception("Call to dup2 failed");
        execvp(argv[0], argv);
        // If the child process gets here, it's because execvp failed
        throw Exception("Call to execvp failed.")
    return pid;
"""

_SLIDE_STSH = """\
try {
  pipeline p(line);
  bool builtin = haddleBuiltin(p);
  if (!builtin) createJob(p);
} catch (const STSHException& e) {
  cerr << e.what() << endl;
  if (getpid() != stshpid) exit(0);
}</pre>
"""

_SLIDE_MALLOC = """\
// Imagine that this process is running multiple threads
pid_t pid = fork();
if (pid == 0) {
    const char** args = malloc(sizeof(char *) * num_args);
    // Note: On execvp, all memory will be freed.
    execvp(args[0], args);
    // If execvp failed, free memory and exit.
    free(args);
    exit(1);
"""

_SLIDE_ZOMBIES = """\
  - Failure to clean up (zombie processes)
    - Still a thing!
    - You could implement a struct with a Drop trait that calls wait()?
"""

_SLIDE_FORK_EXEC = """\
- Rewire file descriptors? Change some environment variables?
   Block signals? Pin a process to a particular CPU core (cache optimization)?
"""

_SLIDE_SUBPROCESS = """\
- Define/use a higher level abstraction to take care of common cases
  - Ex: "subprocess" (from CS110 assign3/lab3)
  - Like the Windows approach, but no need for the OS to cover all possible valid use cases
- Most of these abstractions allow you to redirect standard input/ output and provide a function that you want to be executed after fork and before exec.
"""

_SLIDE_PRE_EXEC = """\
use std::os::unix::process::CommandExt;
// Initialize Command
let cmd = Command::new("ls");
// Add pre-exec function
unsafe {
 cmd.pre exec(function to run);
   Spawn child process
let child = cmd.spawn()
"""


# --------------------------------------------------------------------------------------------------
# The programs

_COMMON = "#includes, (void)argc/(void)argv where -Wextra needs them, and unbuffered stdout so each line is one write"


def _p(name: str, slide: str, added: str, fixes: str | None = None, suffix: str = ".c") -> CProgram:
    return CProgram(name, slide, C_DIR / f"{name}{suffix}", " ".join(added.split()), fixes)


_PROGRAMS = [
    _p(
        "runaway",
        _SLIDE_RUNAWAY,
        f"""Closing braces for the if, the while loop and main. A do_stuff() that prints its pid and
        its parent's pid. The child does not exit: it falls back into the loop, as on the slide, so
        the processes double every round. A 0.1 s pause at the top of each round, so the doubling
        (1, 2, 4, 8, ... processes) can be watched. An error check after fork(): a process whose
        fork fails (EAGAIN at the run's fork budget) prints "pid N: fork: Resource temporarily
        unavailable" on stderr, stops forking and pause()s until the watchdog kills it (alarm(10)
        ends it anyway). A safety cap of 64 processes, counted in shared memory and checked before
        every fork, that fails the fork the same way with "(runaway.c's own safety cap)", so the
        program cannot take a machine down even if run uncontained. {_COMMON}.""",
    ),
    _p(
        "runaway_fixed",
        _SLIDE_RUNAWAY,
        f"""The fix: a for loop making exactly N = 5 children instead of while (true); each child
        calls _exit(0) right after do_stuff(), so it never falls back into the loop; fork() is
        checked for -1; the parent then waits for every child and prints each pid and exit status.
        As in runaway: do_stuff() printing its pid and parent pid; {_COMMON}.""",
        fixes="runaway",
    ),
    _p(
        "nested_forks",
        _SLIDE_NESTED,
        f"""Closing braces for both ifs and for main, and a final return 0. The missing arguments of
        waitpid: the slide's waitpid(pid1) and waitpid(pid2) become waitpid(pid1, NULL, 0) and
        waitpid(pid2, NULL, 0), and main prints what they returned. do_stuff_proc1() and
        do_stuff_proc2() print "do_stuff_proc1 in pid X (parent Y)" and then work 0.1 s. main saves
        its pid before the forks. The orphan made visible: the grandchild (child 1's child; it runs
        do_stuff_proc1 too, since its pid1 is 0 as well) is the one process whose parent is not
        main; it sleeps 0.3 s more and prints its parent again, which by then is the nearest
        subreaper (or init) because child 1 has returned. {_COMMON}.""",
    ),
    _p(
        "nested_forks_fixed",
        _SLIDE_NESTED,
        f"""The fix: three processes. The second fork comes after the first child's block, so only
        the parent runs it; each child _exit(0)s after its do_stuff instead of returning; both forks
        are checked for -1; waitpid gets all three arguments. As in nested_forks: do_stuff_proc1/2
        printing pid and parent pid; {_COMMON}.""",
        fixes="nested_forks",
    ),
    _p(
        "say_hello",
        _SLIDE_SAY_HELLO,
        f"""A closing brace for the if; the missing arguments of waitpid (waitpid(pid, NULL, 0));
        return 0 for the parent too (the slide stops at waitpid) and the closing brace of the
        function. A sayHello() that prints "hello from pid C (parent P)". A main that prints "main
        starts in pid P", calls createChildAndSayHello(), then prints "main continues in pid X" and
        "main about to return in pid X": the child prints both as well, because it returned into
        main. {_COMMON}.""",
    ),
    _p(
        "say_hello_fixed",
        _SLIDE_SAY_HELLO,
        f"""The fix: _exit(0) instead of return 0 in the child, and a check for fork() failing.
        As in say_hello: sayHello(), the same main; {_COMMON}.""",
        fixes="say_hello",
    ),
    _p(
        "exceptions",
        _SLIDE_CREATE_CHILD,
        """C++, as on the slide (throw). Corrections needed to compile: char **argv (the slide's
        char *argv is a typo: argv[0] and execvp need an array of strings), pid_t (slide: pid t),
        the stray </pre> after the first dup2 line removed, the missing semicolon after the last
        throw, closing braces for the two dup2 ifs, the child block and the function. Added:
        #includes; a small Exception class with what(), standing in for stsh's STSHException; a
        shell loop in the style of the 2021 stsh starter: it prints a prompt "stsh[pid]> ", reads a
        line from stdin (a byte at a time with read(2), as shells do on pipes, so fork copies no
        stdio buffer and the two shells really share the input), echoes it, splits it into words,
        calls createChild(argv, STDIN_FILENO, STDOUT_FILENO) inside try, waits for the job and prints
        its exit status; the catch prints "stsh[pid] caught: <what()>" on stderr and carries on. At
        end of input it prints "(end of input: stsh[pid] exits)". When execvp fails, the child's
        copy of this loop catches the exception and becomes a second shell. The slides' second,
        OCR-damaged copy of this snippet (readEd, STDIN FILENO, gots) is the same code.""",
        suffix=".cpp",
    ),
    _p(
        "exceptions_fixed_pid",
        _SLIDE_STSH,
        """The fix from the 2021 stsh starter (this slide): main saves stshpid = getpid() at start
        and the catch block ends with if (getpid() != stshpid) exit(0), so a child that threw prints
        the error and exits. The slide's try body (pipeline p(line), haddleBuiltin (sic), createJob)
        is this demo's createChild call and wait; e.what() gets a "stsh[pid] caught: " prefix;
        the </pre> is a slide artifact. createChild, Exception and the loop are as in exceptions.""",
        fixes="exceptions",
        suffix=".cpp",
    ),
    _p(
        "exceptions_fixed_exit",
        _SLIDE_CREATE_CHILD,
        """The fix exec-or-_exit: nothing is thrown in the child. A failed dup2 or execvp calls
        childFailed(), which prints "stsh child C: execvp <program>: <strerror>" on stderr and
        _exit(127)s (no unwinding, no atexit handlers, no flush of stdio buffers copied from the
        parent); the shell sees the job exit with status 127. Otherwise as exceptions (the same
        corrections of the slide: char **argv, pid_t, no </pre>, braces, #includes, the shell
        loop).""",
        fixes="exceptions",
        suffix=".cpp",
    ),
    _p(
        "threads_lock",
        _SLIDE_MALLOC,
        """Around the slide's code: a mutex malloc_lock and my_malloc() (lock, malloc, unlock)
        standing in for malloc and its internal lock, which makes the demo deterministic; thread B
        takes the lock, says so, and holds it until main lets it go (semaphores); main (thread A)
        waits until B holds it, prints its thread count (Threads: 2), then runs the slide's code. In
        the slide's code: my_malloc instead of malloc; num_args = 3 and the three args the slide
        leaves out (echo, a message, NULL); the (char *const *) cast execvp needs; the closing brace;
        the child prints its thread count (Threads: 1) before calling malloc. After it, the
        parent's side: it polls waitpid for 1 s, prints "parent: child C is stuck (lock held by a
        thread that does not exist in the child)" and the child's state and wait channel from /proc
        (S (sleeping), in a futex wait), kills it with SIGKILL and reaps it, then lets B release the
        lock and joins it. #includes and unbuffered stdout.""",
    ),
    _p(
        "threads_lock_fixed",
        _SLIDE_MALLOC,
        """The fix "exec at once": the child's argv (/bin/sh -c 'echo ... $$ ...') is built in the
        parent before fork, and the child calls execv at once (an absolute path, no PATH search) and
        _exit(127) if that fails: no malloc, no lock. The same thread B holding the lock and the same
        parent side as threads_lock; the child exits 0 while B still holds the lock.""",
        fixes="threads_lock",
    ),
    _p(
        "threads_lock_atfork",
        _SLIDE_MALLOC,
        """The fix with pthread_atfork(prepare, parent, child): prepare takes malloc_lock, so fork
        waits until thread B (which here holds it 0.3 s and then releases it by itself) is done;
        the parent and child handlers release it. The child then runs the slide's code with my_malloc
        (args filled and cast as in threads_lock) and execs echo; _exit(1) instead of exit(1) if the
        exec fails. The parent prints that fork returned after B released the lock, waits for the
        child (1 s guard) and prints its status.""",
        fixes="threads_lock",
    ),
    _p(
        "threads_lock_malloc",
        _SLIDE_MALLOC,
        """Not a completion but a check of the slide's claim with glibc's real malloc: thread B
        calls malloc and free in a tight loop while main forks 20 children that each call malloc
        and _exit(0), each waited for with a 1 s guard (a stuck one would be reported and killed).
        All 20 finish, because glibc takes malloc's locks before fork and re-initialises them in the
        child (rather than unlocking them); the hazard stays for every other lock (yours, your
        libraries').""",
    ),
    _p(
        "zombies",
        _SLIDE_ZOMBIES,
        """Not slide code (the recap's "failure to clean up"). The parent forks 3 children that
        print and _exit(1), _exit(2), _exit(3) at once; it waits until each has exited without
        reaping it (waitid with WNOWAIT), prints each child's state from /proc ("Z (zombie)"),
        sleeps 1 s listing the zombies' pids, then reaps each with waitpid and prints its exit
        status and that it is gone from the process table.""",
    ),
    _p(
        "zombies_fixed",
        _SLIDE_ZOMBIES,
        """The fix: a SIGCHLD handler (SA_RESTART | SA_NOCLDSTOP) that reaps with waitpid(-1,
        &status, WNOHANG) in a loop and records each pid and status (async-signal-safe: no stdio in
        the handler). The same 3 children and 1 s sleep as zombies; then main (SIGCHLD blocked,
        sigsuspend until all 3 are recorded) prints what the handler reaped and that each child is
        gone.""",
        fixes="zombies",
    ),
    _p(
        "fork_exec",
        _SLIDE_FORK_EXEC,
        """Not slide code: the four customizations this slide lists, done in the child between fork
        and exec: dup2 of a pipe onto stdout (the parent reads the child's output and prints it),
        setenv FORK110_DEMO, sigprocmask blocking SIGUSR1, sched_setaffinity to CPU 0 (or the first
        CPU the process may use). The exec'd program is this same binary run again with --report
        (execl of /proc/self/exe), a fresh program image that prints its fd 1 target, FORK110_DEMO,
        SigBlk and Cpus_allowed_list. Not /bin/sh -c: dash (Debian's sh) clears the blocked-signal
        mask at startup and would hide the third change. The parent prints the same four facts
        before and after: unchanged.""",
    ),
    _p(
        "subprocess",
        _SLIDE_SUBPROCESS,
        """Not slide code: CS110's subprocess by hand. subprocess_t {pid, ingestfd, error};
        subprocess(char *argv[]) makes an O_CLOEXEC pipe for the child's stdout and an O_CLOEXEC
        error pipe, then forks; the child dup2s the pipe onto stdout and calls execvp, and if that
        fails writes errno into the error pipe and _exit(127)s; the parent reads the error pipe: EOF
        means the exec succeeded, four bytes are the child's errno (the child is then reaped and
        the error returned). main runs ps --pid <its own pid> -o "pid= ppid= command=" (the slides'
        Rust example) through it, prints each line read and the exit status, then tries
        no-such-program and prints the error reported through the error pipe.""",
    ),
    _p(
        "ptrace",
        _SLIDE_PRE_EXEC,
        """Not C on the slides (the slide is Rust's pre_exec). fork; the child calls
        ptrace(PTRACE_TRACEME) (what the pre_exec function would do) and execs echo; the parent's
        waitpid sees it stopped by SIGTRAP at exec, prints its /proc state (t (tracing stop)),
        reads the instruction pointer (PTRACE_GETREGS rip on x86_64, PTRACE_GETREGSET pc on
        aarch64, "ip unavailable" elsewhere) and the file it points into (the dynamic loader), sets
        PTRACE_O_EXITKILL, continues the child with PTRACE_CONT and reports its exit. If
        PTRACE_TRACEME fails (EPERM in some containers) the child exits 2 and the parent prints
        "ptrace is not permitted here ..." and exits 2.""",
    ),
]

#: Every program by name.
C_SOURCES: dict[str, CProgram] = {p.name: p for p in _PROGRAMS}

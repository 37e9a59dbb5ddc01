//! ptrace: the slide's pre_exec, with the standard library only. ptrace and waitpid are declared
//! with extern "C" (no libc crate). The pre_exec closure asks to be traced; the exec then stops the
//! child with SIGTRAP. std's Child::wait() is waitpid(pid, 0): it returns at that stop, with
//! code() None and stopped_signal() Some(5), and caches it. A debugger therefore waits with its own
//! waitpid, as this program does after PTRACE_CONT.
use std::ffi::{c_int, c_long, c_void};
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{self, Command};
use std::thread::sleep;
use std::time::Duration;

extern "C" {
    fn ptrace(request: c_int, pid: c_int, addr: *mut c_void, data: *mut c_void) -> c_long;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
}
const PTRACE_TRACEME: c_int = 0;
const PTRACE_PEEKUSER: c_int = 3;
const PTRACE_CONT: c_int = 7;
const PTRACE_SETOPTIONS: c_int = 0x4200;
const PTRACE_O_EXITKILL: usize = 0x100000;

fn state_of(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("State:")).unwrap_or("gone").trim().to_string()
}

/// The file mapped at `ip` in the child, from /proc/<pid>/maps.
fn mapped_file(pid: u32, ip: u64) -> Option<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    maps.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        let (lo, hi) = f.next()?.split_once('-')?;
        let (lo, hi) = (u64::from_str_radix(lo, 16).ok()?, u64::from_str_radix(hi, 16).ok()?);
        let path = f.nth(4)?;
        (lo <= ip && ip < hi).then(|| path.to_string())
    })
}

#[cfg(target_arch = "x86_64")]
fn read_ip(pid: u32) -> Option<u64> {
    const RIP: usize = 16 * 8; // offsetof(struct user_regs_struct, rip)
    let word = unsafe { ptrace(PTRACE_PEEKUSER, pid as c_int, RIP as *mut c_void, std::ptr::null_mut()) };
    (word != -1).then_some(word as u64)
}

#[cfg(not(target_arch = "x86_64"))]
fn read_ip(_pid: u32) -> Option<u64> {
    None
}

fn main() {
    let mut cmd = Command::new("echo"); // the slide's `let cmd` must be `let mut cmd`
    cmd.arg("hello from the traced child");
    unsafe {
        cmd.pre_exec(|| {
            // Runs in the child between fork and exec: one system call, no allocation.
            if ptrace(PTRACE_TRACEME, 0, std::ptr::null_mut(), std::ptr::null_mut()) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            eprintln!("child: ptrace(PTRACE_TRACEME): {e}");
            println!("ptrace is not permitted here (PTRACE_TRACEME failed; common in containers)");
            process::exit(2);
        }
        Err(e) => {
            eprintln!("spawn: {e}");
            process::exit(1);
        }
    };
    let pid = child.id();
    let stop = child.wait().expect("wait"); // waitpid(pid, 0): returns at the stop
    println!(
        "parent: Child::wait() -> code() {:?}, stopped_signal() {:?}, success() {}",
        stop.code(),
        stop.stopped_signal(),
        stop.success()
    );
    if stop.stopped_signal() != Some(5) {
        println!("parent: unexpected status 0x{:x} from child {pid}", stop.into_raw());
        process::exit(1);
    }
    unsafe {
        ptrace(PTRACE_SETOPTIONS, pid as c_int, std::ptr::null_mut(), PTRACE_O_EXITKILL as *mut c_void);
    }
    println!("parent: child {pid} stopped by SIGTRAP at exec");
    println!("parent: child {pid} state {}", state_of(pid));
    match read_ip(pid) {
        Some(ip) => {
            println!("parent: instruction pointer 0x{ip:x} (stopped before echo's first instruction)");
            if let Some(file) = mapped_file(pid, ip) {
                println!("parent: the ip is in {file}");
            }
        }
        None => println!("parent: ip unavailable on this machine"),
    }
    sleep(Duration::from_millis(300)); // hold the stop so the tree (sampled every 50 ms) shows t
    let again = child.wait().expect("wait");
    println!(
        "parent: Child::wait() again -> stopped_signal() {:?}: the cached stop, not a new wait",
        again.stopped_signal()
    );
    unsafe {
        ptrace(PTRACE_CONT, pid as c_int, std::ptr::null_mut(), std::ptr::null_mut());
    }
    let mut status: c_int = 0;
    let got = unsafe { waitpid(pid as c_int, &mut status, 0) }; // the debugger's own wait
    let end = process::ExitStatus::from_raw(status);
    match (got, end.code()) {
        (p, Some(code)) if p == pid as c_int => println!("parent: child {pid} exited with status {code}"),
        _ => println!("parent: child {pid} ended with status {end}"),
    }
}

//! zombies_guard: the recap's "a struct with a Drop trait that calls wait()". std's Child has no
//! Drop, so the guard Reaped(Child) adds one: dropping the guard waits for the child. Each child
//! lives in a block; the end of the block drops its guard, which reaps it as soon as it exits: no
//! zombie is left.
use std::fs;
use std::process::{self, Child, Command};
use std::thread::sleep;
use std::time::Duration;

struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        // Waits until the child ends. (A guard for a child that might never end would kill()
        // first, or wait with a timeout, so that a drop cannot hang.)
        match self.0.wait() {
            Ok(status) => match status.code() {
                Some(code) => println!("Drop reaped {}: exit status {code}", self.0.id()),
                None => println!("Drop reaped {}: {status}", self.0.id()),
            },
            Err(e) => println!("Drop could not wait for {}: {e}", self.0.id()),
        }
    }
}

fn state_of(pid: u32) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "gone".to_string())
}

fn main() {
    println!("parent {} spawns 3 children, each held by a guard whose Drop waits", process::id());
    let mut pids = Vec::new();
    for i in 1..=3 {
        let script = format!("echo child $$ exits with status {i}; exit {i}");
        let guard = Reaped(Command::new("sh").args(["-c", &script]).spawn().expect("spawn"));
        pids.push(guard.0.id());
    } // the guard goes out of scope here: its Drop waits for the child
    println!("parent {} sleeps 1 s", process::id());
    sleep(Duration::from_secs(1));
    for pid in pids {
        println!("child {pid}: state {}", state_of(pid));
    }
}

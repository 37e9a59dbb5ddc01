//! zombies_drop: std's Child has no Drop. Three children are spawned and their Child values
//! dropped at once, without wait(): they exit (status 1, 2, 3) and stay zombies, because nothing in
//! this program will ever wait for them. The parent shows their state from /proc, sleeps 1 s, and
//! exits without waiting; whoever reaps orphans (init, or the nearest subreaper) reaps them then.
use std::fs;
use std::process::{self, Command};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The State: line of /proc/<pid>/status ("Z (zombie)"), or "gone".
fn state_of(pid: u32) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "gone".to_string())
}

fn main() {
    println!("parent {} spawns 3 children and drops each Child without wait()", process::id());
    let mut pids = Vec::new();
    for i in 1..=3 {
        let script = format!("echo child $$ exits with status {i}; exit {i}");
        let child = Command::new("sh").args(["-c", &script]).spawn().expect("spawn");
        pids.push(child.id());
        drop(child); // Child has no Drop impl: this neither waits nor kills
    }
    for &pid in &pids {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !state_of(pid).starts_with('Z') && Instant::now() < deadline {
            sleep(Duration::from_millis(10));
        }
        println!("child {pid} has exited; state {}", state_of(pid));
    }
    let list: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    println!("parent {} sleeps 1 s; zombies: {}", process::id(), list.join(" "));
    sleep(Duration::from_secs(1));
    for &pid in &pids {
        println!("child {pid}: state {}", state_of(pid));
    }
    println!("parent {} exits without waiting for them", process::id());
}

//! spawn_rust: Rust's std::process as a peer for bench/spawn.py.
//!
//! Usage: spawn_rust status|output K PROGRAM [ARG...]
//!
//! Runs `Command::new(PROGRAM).args(ARGS).status()` (or `.output()`) K times,
//! building a fresh Command each time as a caller would, and prints the mean
//! wall-clock cost of one call in microseconds. Exits 1 if a call fails or
//! the child does not exit successfully. One untimed warm-up call comes first
//! (the Python cases run warm too).

use std::env;
use std::process::{exit, Command};
use std::time::Instant;

fn run_once(mode: &str, program: &str, args: &[String]) -> Result<(), String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let status = match mode {
        "status" => cmd.status(),
        "output" => cmd.output().map(|out| out.status),
        _ => return Err(format!("unknown mode {mode:?}; expected status or output")),
    }
    .map_err(|err| format!("{program}: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program}: {status}"))
    }
}

fn main() {
    let argv: Vec<String> = env::args().collect();
    if argv.len() < 4 {
        eprintln!("usage: {} status|output K PROGRAM [ARG...]", argv[0]);
        exit(2);
    }
    let mode = argv[1].as_str();
    let k: u32 = match argv[2].parse() {
        Ok(k) if k > 0 => k,
        _ => {
            eprintln!("{}: K must be a positive integer, got {}", argv[0], argv[2]);
            exit(2);
        }
    };
    let program = argv[3].as_str();
    let args = &argv[4..];

    let call = |program: &str| {
        if let Err(msg) = run_once(mode, program, args) {
            eprintln!("{msg}");
            exit(1);
        }
    };
    call(program);
    let start = Instant::now();
    for _ in 0..k {
        call(program);
    }
    let per_call = start.elapsed().as_secs_f64() * 1e6 / f64::from(k);
    println!("{per_call:.3}");
}

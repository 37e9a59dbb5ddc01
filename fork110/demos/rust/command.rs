//! command: the slides' `ps --pid` example with std::process::Command, run three ways (output,
//! status, spawn + wait), then a pipe into a child's stdin, then a program that does not exist.
//! The standard library only. Each line says which way it came, so the three can be compared.
use std::io::{self, Write};
use std::process::{self, Command, Stdio};

fn main() -> io::Result<()> {
    let pid = process::id();
    println!("main is pid {pid}");
    let mut ps = Command::new("ps");
    ps.args(["--pid", &pid.to_string(), "-o", "pid= ppid= command="]);

    // output(): stdin is null, stdout and stderr are pipes read to their ends; waits.
    let out = ps.output()?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("read from ps via output(): {line}");
    }
    println!("ps via output(): {}", out.status);
    let fd0 = Command::new("readlink").arg("/proc/self/fd/0").output()?;
    println!("a child's stdin under output(): {}", String::from_utf8_lossy(&fd0.stdout).trim());

    // status(): all three streams inherited, so ps writes straight to our stdout; waits.
    let status = ps.status()?;
    println!("ps via status(): {status}");

    // spawn(): returns at once; we read the pipe, then must wait.
    let mut child = ps.stdout(Stdio::piped()).spawn()?;
    let mut text = String::new();
    io::Read::read_to_string(child.stdout.as_mut().expect("piped"), &mut text)?;
    for line in text.lines() {
        println!("read from ps via spawn() (pid {}): {line}", child.id());
    }
    let status = child.wait()?;
    println!("ps via spawn() + wait() (pid {}): {status}", child.id());

    // A pipe into the child's stdin (CS110's supplyfd): write, close (drop), read the answer.
    let mut tr = Command::new("tr")
        .args(["a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut supply = tr.stdin.take().expect("piped");
    supply.write_all(b"hello through a pipe\n")?;
    drop(supply); // closes our end: tr reads end of file and finishes
    let got = tr.wait_with_output()?;
    let answer = String::from_utf8_lossy(&got.stdout);
    println!("read back from tr via stdin pipe: {}", answer.trim_end());
    println!("tr via spawn() + wait_with_output(): {}", got.status);

    // A program that is not there: output() returns the error, it does not panic or exit 127.
    match Command::new("no-such-program").output() {
        Ok(out) => println!("no-such-program ran?! {}", out.status),
        Err(e) => println!(
            "Command::new(\"no-such-program\").output() returned Err: kind {:?}, errno {}",
            e.kind(),
            e.raw_os_error().unwrap_or(0)
        ),
    }
    Ok(())
}

// A Rust implementation that panics on every document (exit 101, "thread 'main'
// panicked at" on stderr). With CRASH_SAYS_ERROR=1 it first logs an `error:` line.
use std::env;
use std::fs;

fn convert(path: &str) -> String {
    let data = fs::read(path).expect("readable document");
    if env::var("CRASH_SAYS_ERROR").as_deref() == Ok("1") {
        eprintln!("error: cannot convert {}", path);
    }
    let cells: Vec<u32> = Vec::new();
    cells[data.len() % 7 + 1].to_string()
}

fn main() {
    let path = env::args().nth(1).expect("a path");
    println!("{}", convert(&path));
}

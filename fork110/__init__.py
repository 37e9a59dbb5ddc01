"""fork110: a Rust-faithful process API and live, contained demonstrations of fork's pitfalls."""

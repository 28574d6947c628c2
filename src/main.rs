//! ingestd: the command line decides what this process is (the supervisor,
//! a worker, a one-shot command); `cli` does the rest.

fn main() -> std::process::ExitCode {
    ingestd::cli::main()
}

//! `remediation-undo [--dry-run] [--force] FILE|-`: puts a remediated resource back as it was before
//! the fix, from the message that reported it (see `docs/undo.md`).

fn main() -> std::process::ExitCode {
    remediation::undo::cli::main()
}

fn main() -> std::process::ExitCode {
    yiwei::cli::main()
}

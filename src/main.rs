fn main() -> std::process::ExitCode {
    git_agents::cli::main()
}

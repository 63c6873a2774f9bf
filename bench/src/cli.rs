use std::process::ExitCode;

/// A bench's `main`: usage errors exit with 2, a failed run with 1.
pub fn run_main<O>(
    bench: &str,
    options: Result<O, String>,
    run: impl FnOnce(&O) -> Result<(), String>,
) -> ExitCode {
    let options = match options {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    // Errors return through `run`, so its guards are dropped before the exit.
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{bench} bench failed: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The value of option `name`, taken from `args`: a positive whole number.
pub fn positive(
    args: &mut impl Iterator<Item = String>,
    name: &str,
    usage: &str,
) -> Result<u64, String> {
    let value = args
        .next()
        .ok_or_else(|| format!("{name} needs a value\n\n{usage}"))?;
    value
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{name}: {value:?} is not a positive whole number"))
}

/// What to say about an argument that is no option: `-h`/`--help` asks for the usage.
pub fn not_an_option(arg: &str, usage: &str) -> String {
    match arg {
        "-h" | "--help" => usage.to_string(),
        other => format!("unknown argument {other:?}\n\n{usage}"),
    }
}

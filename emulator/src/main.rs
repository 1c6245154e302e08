//! `iotjobs-emulator`: a local AWS IoT endpoint. See `iotjobs-emulator --help`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(iotjobs_emulator::cli::run(args));
}

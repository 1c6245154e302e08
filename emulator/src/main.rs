//! iotjobs-emulator: a local AWS IoT endpoint.
fn main() {}

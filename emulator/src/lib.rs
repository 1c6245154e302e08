//! iotjobs-emulator: a local AWS IoT endpoint (placeholder, filled in by issue 3).

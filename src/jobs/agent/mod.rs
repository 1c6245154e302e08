//! The job agent: runs each job of a thing through its handler to one final status, once.

pub mod machine;

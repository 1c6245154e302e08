//! The process-wide runtime thread and the callback thread.

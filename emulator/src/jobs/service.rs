//! Jobs service wiring (placeholder).
use crate::broker::Shared;

#[derive(Default)]
pub struct JobsService {}

impl JobsService {
    pub fn new() -> JobsService {
        JobsService {}
    }
}

pub(crate) fn is_jobs_topic(t: &str) -> bool {
    t.starts_with("$aws/things/") && t.split('/').nth(3) == Some("jobs")
}

pub(crate) fn on_request(shared: &Shared, _client: &str, _topic: &str, _payload: &[u8]) {
    let _ = (&shared.jobs, shared.deliver_to("", "", bytes::Bytes::new()));
}

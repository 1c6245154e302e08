//! Control port (placeholder).
use crate::broker::Shared;
use std::sync::Arc;

pub(crate) async fn serve(_shared: Arc<Shared>, _l: std::net::TcpListener) {}

//! Pure Jobs state machine (placeholder).

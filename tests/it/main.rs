//! Integration tests (placeholder while the server is being assembled).

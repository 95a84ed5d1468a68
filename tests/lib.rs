//! End-to-end tests live in `cli/`; this library is empty.

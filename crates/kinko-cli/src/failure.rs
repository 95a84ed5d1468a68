//! What a command run ends in, besides success; `main` turns it into
//! the exit code of CLI.md.

/// What a command run ends in, besides success.
pub enum Failure {
    /// A core error: its kind decides the exit code.
    Core(kinko_core::Error),
    /// Something at the edge (terminal, stdout, arguments).
    Edge(anyhow::Error),
    /// The command already printed what was wrong; exit with this code.
    Exit(u8),
}

impl From<kinko_core::Error> for Failure {
    fn from(e: kinko_core::Error) -> Self {
        Failure::Core(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Edge(e)
    }
}

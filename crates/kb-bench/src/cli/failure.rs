//! Why a command did not succeed, and the exit code that says so.

use std::fmt;

/// A command that did not succeed. The variant decides the exit code; the error chain is the
/// one-line message printed after `kernbench: error: `.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The user asked for something that cannot be done: bad flags or sizes, unreadable or
    /// ill-shaped input files, a machine config that does not load, blocks that do not fit. Exit 2.
    BadInput(anyhow::Error),
    /// The run finished but its result failed the check against the host reference. Exit 1.
    CheckFailed(anyhow::Error),
    /// The simulator failed on input it should have handled: a bug below the command line.
    /// Exit 1, like a failed check: the run failed, not the request.
    Internal(anyhow::Error),
}

impl Failure {
    /// A [`Failure::BadInput`] with `message`.
    pub(crate) fn bad_input(message: impl fmt::Display + fmt::Debug + Send + Sync + 'static) -> Failure {
        Failure::BadInput(anyhow::Error::msg(message))
    }

    /// The process exit code: 2 for bad input, 1 otherwise.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Failure::BadInput(_) => 2,
            Failure::CheckFailed(_) | Failure::Internal(_) => 1,
        }
    }

    /// The message on one line: the error chain joined by `: `, every run of white space (the line
    /// breaks of a TOML parser's excerpt, say) folded into one space.
    pub(crate) fn one_line(&self) -> String {
        let (Failure::BadInput(error) | Failure::CheckFailed(error) | Failure::Internal(error)) = self;
        let text = format!("{error:#}");
        let prefix = if matches!(self, Failure::Internal(_)) { "internal error: " } else { "" };
        let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
        format!("{prefix}{folded}")
    }
}

/// Sorts an error into a [`Failure`] at the call that made it.
pub(crate) trait Classify<T> {
    /// The error is the user's: [`Failure::BadInput`].
    fn bad_input(self) -> Result<T, Failure>;
    /// The error is the simulator's: [`Failure::Internal`].
    fn internal(self) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> Classify<T> for Result<T, E> {
    fn bad_input(self) -> Result<T, Failure> {
        self.map_err(|e| Failure::BadInput(e.into()))
    }

    fn internal(self) -> Result<T, Failure> {
        self.map_err(|e| Failure::Internal(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::Failure;

    #[test]
    fn exit_codes_follow_the_design() {
        assert_eq!(Failure::bad_input("x").exit_code(), 2);
        assert_eq!(Failure::CheckFailed(anyhow::anyhow!("x")).exit_code(), 1);
        assert_eq!(Failure::Internal(anyhow::anyhow!("x")).exit_code(), 1);
    }

    #[test]
    fn messages_are_one_line_with_their_chain() {
        let e = anyhow::anyhow!("invalid TOML\n  |\n1 | x =\n  |    ^").context("machine.toml");
        assert_eq!(Failure::BadInput(e).one_line(), "machine.toml: invalid TOML | 1 | x = | ^");
        assert_eq!(Failure::Internal(anyhow::anyhow!("boom")).one_line(), "internal error: boom");
    }
}

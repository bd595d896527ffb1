//! The command lines of the binaries that drive browsers (the e2e runner, the benchmarks): flags with their value in
//! the next argument or after `=`.

/// One argument: the flag, or the whole argument when it is not `--name=value`.
pub(crate) struct Arg {
    /// `--name` of `--name=value`, else the argument as given.
    pub flag: String,
    /// `value` of `--name=value`.
    inline: Option<String>,
    /// The argument as given.
    pub raw: String,
}

/// The arguments, one [`Arg`] at a time.
pub(crate) struct Args<I> {
    rest: I,
}

impl<I: Iterator<Item = String>> Args<I> {
    /// Reads `args` (without the program name).
    pub fn new(args: impl IntoIterator<Item = String, IntoIter = I>) -> Self {
        Args { rest: args.into_iter() }
    }

    /// The next argument.
    pub fn next(&mut self) -> Option<Arg> {
        let raw = self.rest.next()?;
        let (flag, inline) = match raw.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
            _ => (raw.clone(), None),
        };
        Some(Arg { flag, inline, raw })
    }

    /// The value of the flag `arg`: after its `=`, or the next argument.
    pub fn value(&mut self, arg: &Arg) -> Result<String, String> {
        arg.inline.clone().or_else(|| self.rest.next()).ok_or(format!("{} needs a value", arg.flag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_inline_or_next() {
        let mut args = Args::new(["--skip=a", "--skip", "b", "name", "--skip"].map(String::from));
        let first = args.next().unwrap();
        assert_eq!((first.flag.as_str(), args.value(&first).unwrap().as_str()), ("--skip", "a"));
        let second = args.next().unwrap();
        assert_eq!(args.value(&second).unwrap(), "b");
        let plain = args.next().unwrap();
        assert_eq!((plain.flag.as_str(), plain.raw.as_str()), ("name", "name"));
        let last = args.next().unwrap();
        assert_eq!(args.value(&last).unwrap_err(), "--skip needs a value");
        assert!(args.next().is_none());
    }
}

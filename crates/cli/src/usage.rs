//! Usage errors as the docker CLI prints them (cobra + pflag, docker 28), with `strata` for
//! `docker`: a wrong number of arguments is `strata: 'strata tag' requires 2 arguments`, the
//! command's usage line and a pointer to `--help`, exit 1; a bad flag (`unknown flag: --bogus`,
//! `flag needs an argument: --filter`, `invalid argument "x" for "-f, --filter" flag: …`) the same
//! block without the prefix, exit 125. clap parses; this module only renders its errors.
//!
//! The usage lines and argument rules are docker's, recorded from its CLI (`docker CMD --help`,
//! `docker CMD` with too few and too many arguments); the footers keep docker's exact words,
//! including the `SRun` its "at most" message prints.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// How many arguments a command takes (cobra's `Exact`, `Min`, `Max`, `NoArgs`, `Range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Args {
    Exact(usize),
    AtLeast(usize),
    AtMost(usize),
    None,
    Range(usize, usize),
}

/// Usage (after `strata <path> `) and argument rule, by command path.
const COMMANDS: &[(&str, &str, Args)] = &[
    ("pull", "[OPTIONS] NAME[:TAG|@DIGEST]", Args::Exact(1)),
    ("push", "[OPTIONS] NAME[:TAG]", Args::Exact(1)),
    ("images", "[OPTIONS] [REPOSITORY[:TAG]]", Args::AtMost(1)),
    (
        "inspect",
        "[OPTIONS] NAME|ID [NAME|ID...]",
        Args::AtLeast(1),
    ),
    (
        "tag",
        "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
        Args::Exact(2),
    ),
    ("history", "[OPTIONS] IMAGE", Args::Exact(1)),
    ("rmi", "[OPTIONS] IMAGE [IMAGE...]", Args::AtLeast(1)),
    ("info", "[OPTIONS]", Args::None),
    ("search", "[OPTIONS] TERM", Args::Exact(1)),
    ("login", "[OPTIONS] [SERVER]", Args::AtMost(1)),
    ("logout", "[SERVER]", Args::AtMost(1)),
    (
        "run",
        "[OPTIONS] IMAGE [COMMAND] [ARG...]",
        Args::AtLeast(1),
    ),
    (
        "create",
        "[OPTIONS] IMAGE [COMMAND] [ARG...]",
        Args::AtLeast(1),
    ),
    (
        "start",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        Args::AtLeast(1),
    ),
    (
        "stop",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        Args::AtLeast(1),
    ),
    (
        "restart",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        Args::AtLeast(1),
    ),
    (
        "kill",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        Args::AtLeast(1),
    ),
    ("wait", "CONTAINER [CONTAINER...]", Args::AtLeast(1)),
    ("rm", "[OPTIONS] CONTAINER [CONTAINER...]", Args::AtLeast(1)),
    ("ps", "[OPTIONS]", Args::None),
    ("logs", "[OPTIONS] CONTAINER", Args::Exact(1)),
    (
        "exec",
        "[OPTIONS] CONTAINER COMMAND [ARG...]",
        Args::AtLeast(2),
    ),
    (
        "import",
        "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
        Args::AtLeast(1),
    ),
    ("export", "[OPTIONS] CONTAINER", Args::Exact(1)),
    (
        "commit",
        "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
        Args::Range(1, 2),
    ),
    ("image pull", "[OPTIONS] NAME[:TAG|@DIGEST]", Args::Exact(1)),
    ("image push", "[OPTIONS] NAME[:TAG]", Args::Exact(1)),
    ("image ls", "[OPTIONS] [REPOSITORY[:TAG]]", Args::AtMost(1)),
    (
        "image inspect",
        "[OPTIONS] IMAGE [IMAGE...]",
        Args::AtLeast(1),
    ),
    (
        "image tag",
        "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
        Args::Exact(2),
    ),
    ("image history", "[OPTIONS] IMAGE", Args::Exact(1)),
    (
        "image import",
        "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
        Args::AtLeast(1),
    ),
    ("image rm", "[OPTIONS] IMAGE [IMAGE...]", Args::AtLeast(1)),
    ("image prune", "[OPTIONS]", Args::None),
    ("image mount", "IMAGE", Args::Exact(1)),
    ("image unmount", "IMAGE", Args::Exact(1)),
    ("system df", "[OPTIONS]", Args::None),
    ("system info", "[OPTIONS]", Args::None),
    ("system prune", "[OPTIONS]", Args::None),
    ("system check", "[OPTIONS]", Args::None),
    (
        "manifest annotate",
        "[OPTIONS] MANIFEST_LIST MANIFEST",
        Args::Exact(2),
    ),
    (
        "manifest create",
        "MANIFEST_LIST MANIFEST [MANIFEST...]",
        Args::AtLeast(2),
    ),
    (
        "manifest inspect",
        "[OPTIONS] [MANIFEST_LIST] MANIFEST",
        Args::Range(1, 2),
    ),
    ("manifest push", "[OPTIONS] MANIFEST_LIST", Args::Exact(1)),
    (
        "manifest rm",
        "MANIFEST_LIST [MANIFEST_LIST...]",
        Args::AtLeast(1),
    ),
    (
        "container run",
        "[OPTIONS] IMAGE [COMMAND] [ARG...]",
        Args::AtLeast(1),
    ),
    (
        "container create",
        "[OPTIONS] IMAGE [COMMAND] [ARG...]",
        Args::AtLeast(1),
    ),
    (
        "container start",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        Args::AtLeast(1),
    ),
    (
        "container stop",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        Args::AtLeast(1),
    ),
    (
        "container restart",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        Args::AtLeast(1),
    ),
    (
        "container kill",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        Args::AtLeast(1),
    ),
    (
        "container wait",
        "CONTAINER [CONTAINER...]",
        Args::AtLeast(1),
    ),
    (
        "container rm",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        Args::AtLeast(1),
    ),
    ("container ls", "[OPTIONS]", Args::None),
    ("container logs", "[OPTIONS] CONTAINER", Args::Exact(1)),
    (
        "container exec",
        "[OPTIONS] CONTAINER COMMAND [ARG...]",
        Args::AtLeast(2),
    ),
    (
        "container inspect",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        Args::AtLeast(1),
    ),
    ("container prune", "[OPTIONS]", Args::None),
    ("container export", "[OPTIONS] CONTAINER", Args::Exact(1)),
    (
        "container commit",
        "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
        Args::Range(1, 2),
    ),
    ("registry serve", "[OPTIONS]", Args::None),
    ("registry gc", "[OPTIONS]", Args::None),
    ("registry repo set", "[OPTIONS] NAME", Args::Exact(1)),
];

/// A rendered usage error: what to print on stderr and the exit code.
pub struct Rendered {
    pub text: String,
    pub code: u8,
}

/// The subcommand path named by `argv` (canonical names, aliases resolved), as far as it goes.
fn command_path(root: &clap::Command, argv: &[String]) -> Vec<String> {
    let mut cmd = root;
    let mut path = Vec::new();
    let mut args = argv.iter().skip(1);
    while let Some(a) = args.next() {
        if a == "--root" || a == "--config" {
            args.next();
            continue;
        }
        if a.starts_with('-') {
            continue;
        }
        match cmd.find_subcommand(a) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                cmd = sub;
                if !cmd.has_subcommands() {
                    break;
                }
            }
            None => break,
        }
    }
    path
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "argument" } else { "arguments" }
}

/// Renders clap's error `e` for `argv` as the docker CLI would; `None` for help and version
/// output and anything docker has no words for (clap's own text is printed then).
pub fn render(root: &clap::Command, argv: &[String], e: &clap::Error) -> Option<Rendered> {
    let path = command_path(root, argv);
    let name = format!("strata {}", path.join(" "));
    let entry = COMMANDS.iter().find(|(p, _, _)| *p == path.join(" "));
    let usage = |footer: &str| match entry {
        Some((_, u, _)) => {
            format!("\nUsage:  {name} {u}\n\n{footer}'{name} --help' for more information\n")
        }
        None => format!("\nUsage:  {name}\n\n{footer}'{name} --help' for more information\n"),
    };
    let arg_count = |rule: Args| {
        let (what, footer) = match rule {
            Args::Exact(n) => (format!("requires {n} {}", plural(n)), "Run "),
            Args::AtLeast(n) => (format!("requires at least {n} {}", plural(n)), "See "),
            Args::AtMost(n) => (format!("requires at most {n} {}", plural(n)), "SRun "),
            Args::None => ("accepts no arguments".to_string(), "Run "),
            Args::Range(a, b) => (
                format!("requires at least {a} and at most {b} {}", plural(b)),
                "Run ",
            ),
        };
        Rendered {
            text: format!("strata: '{name}' {what}\n{}", usage(footer)),
            code: 1,
        }
    };
    let flag = |msg: String| Rendered {
        text: format!("{msg}\n{}", usage("Run ")),
        code: 125,
    };
    let context = |kind: ContextKind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => None,
        ErrorKind::InvalidSubcommand => {
            let bad = context(ContextKind::InvalidSubcommand).unwrap_or_default();
            let text = if path.is_empty() {
                format!(
                    "strata: unknown command: strata {bad}\n\nRun 'strata --help' for more information\n"
                )
            } else {
                format!(
                    "strata: unknown command: {name} {bad}\n\nUsage:  {name}\n\nRun '{name} --help' for more information\n"
                )
            };
            Some(Rendered { text, code: 1 })
        }
        ErrorKind::MissingRequiredArgument
        | ErrorKind::TooFewValues
        | ErrorKind::TooManyValues
        | ErrorKind::WrongNumberOfValues => entry.map(|(_, _, rule)| arg_count(*rule)),
        ErrorKind::UnknownArgument => {
            let arg = context(ContextKind::InvalidArg).unwrap_or_default();
            if let Some(long) = arg.strip_prefix("--") {
                let long = long.split('=').next().unwrap_or(long);
                Some(flag(format!("unknown flag: --{long}")))
            } else if let Some(short) = arg.strip_prefix('-') {
                let c = short.chars().next().unwrap_or('-');
                let typed = argv
                    .iter()
                    .rev()
                    .find(|a| a.starts_with('-') && !a.starts_with("--") && a.contains(c))
                    .cloned()
                    .unwrap_or(arg.clone());
                Some(flag(format!("unknown shorthand flag: '{c}' in {typed}")))
            } else {
                entry.map(|(_, _, rule)| arg_count(*rule))
            }
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation | ErrorKind::NoEquals => {
            let arg = context(ContextKind::InvalidArg).unwrap_or_default();
            let value = context(ContextKind::InvalidValue).unwrap_or_default();
            let (short, long) = flag_names(root, &path, &arg);
            if value.is_empty() && e.kind() == ErrorKind::InvalidValue {
                // Which spelling was typed decides docker's words.
                let typed_short =
                    short.is_some_and(|s| argv.iter().rev().any(|a| a == &format!("-{s}")));
                return Some(flag(match (typed_short, short, &long) {
                    (true, Some(s), _) => format!("flag needs an argument: '{s}' in -{s}"),
                    (_, _, Some(l)) => format!("flag needs an argument: --{l}"),
                    _ => format!("flag needs an argument: {arg}"),
                }));
            }
            let shown = match (short, &long) {
                (Some(s), Some(l)) => format!("-{s}, --{l}"),
                (None, Some(l)) => format!("--{l}"),
                (Some(s), None) => format!("-{s}"),
                (None, None) => arg.clone(),
            };
            let reason = std::error::Error::source(e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "invalid value".to_string());
            Some(flag(format!(
                "invalid argument \"{value}\" for \"{shown}\" flag: {reason}"
            )))
        }
        _ => None,
    }
}

/// The short and long names of the flag clap describes as `arg` (`--filter <filter>`,
/// `-f <filter>`) in the command at `path`.
fn flag_names(root: &clap::Command, path: &[String], arg: &str) -> (Option<char>, Option<String>) {
    let mut cmd = root;
    for p in path {
        match cmd.find_subcommand(p) {
            Some(sub) => cmd = sub,
            None => break,
        }
    }
    let word = arg.split([' ', '=']).next().unwrap_or(arg);
    cmd.get_arguments()
        .chain(root.get_arguments())
        .find(|a| {
            a.get_long().is_some_and(|l| word == format!("--{l}"))
                || a.get_short().is_some_and(|s| word == format!("-{s}"))
        })
        .map(|a| (a.get_short(), a.get_long().map(str::to_string)))
        .unwrap_or((None, None))
}

/// Docker's `--filter` value check at parse time (`filters.ParseFlag`): `name=value`.
pub fn filter_arg(s: &str) -> Result<String, String> {
    if s.contains('=') {
        Ok(s.to_string())
    } else {
        Err("bad format of filter (expected name=value)".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn rendered(args: &[&str]) -> Option<(String, u8)> {
        let argv: Vec<String> = std::iter::once("strata")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        let root = crate::Cli::command();
        let e = root.clone().try_get_matches_from(&argv).err()?;
        render(&root, &argv, &e).map(|r| (r.text, r.code))
    }

    #[test]
    fn argument_counts_read_as_docker_28_prints_them() {
        for (args, want) in [
            (
                &["tag", "a"][..],
                "strata: 'strata tag' requires 2 arguments\n\nUsage:  strata tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\nRun 'strata tag --help' for more information\n",
            ),
            (
                &["rmi"][..],
                "strata: 'strata rmi' requires at least 1 argument\n\nUsage:  strata rmi [OPTIONS] IMAGE [IMAGE...]\n\nSee 'strata rmi --help' for more information\n",
            ),
            (
                &["images", "a", "b"][..],
                "strata: 'strata images' requires at most 1 argument\n\nUsage:  strata images [OPTIONS] [REPOSITORY[:TAG]]\n\nSRun 'strata images --help' for more information\n",
            ),
            (
                &["--root", "/x", "image", "list", "a", "b"][..],
                "strata: 'strata image ls' requires at most 1 argument\n\nUsage:  strata image ls [OPTIONS] [REPOSITORY[:TAG]]\n\nSRun 'strata image ls --help' for more information\n",
            ),
            (
                &["pull"][..],
                "strata: 'strata pull' requires 1 argument\n\nUsage:  strata pull [OPTIONS] NAME[:TAG|@DIGEST]\n\nRun 'strata pull --help' for more information\n",
            ),
        ] {
            assert_eq!(rendered(args), Some((want.to_string(), 1)), "{args:?}");
        }
    }

    #[test]
    fn flag_errors_exit_125_with_pflag_words() {
        for (args, first) in [
            (&["images", "--bogus"][..], "unknown flag: --bogus"),
            (&["images", "-x"][..], "unknown shorthand flag: 'x' in -x"),
            (
                &["images", "--filter"][..],
                "flag needs an argument: --filter",
            ),
            (&["images", "-f"][..], "flag needs an argument: 'f' in -f"),
            (
                &["images", "--filter", "dangling"][..],
                "invalid argument \"dangling\" for \"-f, --filter\" flag: bad format of filter (expected name=value)",
            ),
        ] {
            let (text, code) = rendered(args).unwrap_or_else(|| panic!("{args:?}"));
            assert_eq!(code, 125, "{args:?}");
            assert_eq!(text.lines().next(), Some(first), "{args:?}");
            assert!(
                text.ends_with("\nUsage:  strata images [OPTIONS] [REPOSITORY[:TAG]]\n\nRun 'strata images --help' for more information\n"),
                "{text}"
            );
        }
    }

    #[test]
    fn unknown_commands() {
        assert_eq!(
            rendered(&["bogus"]).unwrap().0,
            "strata: unknown command: strata bogus\n\nRun 'strata --help' for more information\n"
        );
        assert!(rendered(&["--help"]).is_none());
    }

    #[test]
    fn every_command_has_a_usage_line() {
        fn walk(cmd: &clap::Command, path: &mut Vec<String>, missing: &mut Vec<String>) {
            for sub in cmd
                .get_subcommands()
                .filter(|s| s.get_name() != "help" && !s.is_hide_set())
            {
                path.push(sub.get_name().to_string());
                if sub.has_subcommands() {
                    walk(sub, path, missing);
                } else if !COMMANDS.iter().any(|(p, _, _)| *p == path.join(" ")) {
                    missing.push(path.join(" "));
                }
                path.pop();
            }
        }
        let mut missing = Vec::new();
        walk(&crate::Cli::command(), &mut Vec::new(), &mut missing);
        assert!(missing.is_empty(), "no usage line for {missing:?}");
    }
}

//! `--change` / `-c` of `import` and `commit`: Dockerfile instructions applied to an image's
//! runtime config, with Docker's rules. Allowed: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
//! STOPSIGNAL, USER, VOLUME, WORKDIR (ONBUILD too, kept as text). CMD, ENTRYPOINT and VOLUME
//! take a JSON array (exec form) or, for CMD/ENTRYPOINT, a shell command run by `/bin/sh -c`.
//! ENTRYPOINT clears a CMD inherited from before the changes (as in a Dockerfile), unless a CMD
//! was also given in the changes.

use oci_model::image_config::ContainerConfig;
use oci_model::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;

/// Applies `changes` (one instruction each) to `config`, in order.
pub fn apply_changes(config: &mut ContainerConfig, changes: &[String]) -> Result<()> {
    let mut cmd_set = false;
    for change in changes {
        // Like Docker's parser, the changes are lines of one Dockerfile: a change spanning
        // several lines is several instructions.
        for line in change.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (word, rest) = match line.find(char::is_whitespace) {
                Some(i) => (&line[..i], line[i..].trim()),
                None => (line, ""),
            };
            apply_one(config, &word.to_ascii_lowercase(), word, rest, &mut cmd_set)?;
        }
    }
    Ok(())
}

fn needs_args(word: &str, rest: &str) -> Result<()> {
    if rest.is_empty() {
        return Err(Error::invalid(format!(
            "{} requires at least one argument",
            word.to_ascii_uppercase()
        )));
    }
    Ok(())
}

fn apply_one(
    config: &mut ContainerConfig,
    lower: &str,
    word: &str,
    rest: &str,
    cmd_set: &mut bool,
) -> Result<()> {
    let env = config.env.clone().unwrap_or_default();
    match lower {
        "cmd" => {
            config.cmd = Some(exec_or_shell(rest));
            *cmd_set = true;
        }
        "entrypoint" => {
            let parsed = exec_or_shell(rest);
            // `ENTRYPOINT []` or `ENTRYPOINT ""` clears it.
            config.entrypoint = if parsed.is_empty() || (parsed.len() == 3 && parsed[2].is_empty())
            {
                None
            } else {
                Some(parsed)
            };
            if !*cmd_set {
                config.cmd = None;
            }
        }
        "env" => {
            needs_args(word, rest)?;
            let pairs = name_values(word, rest, &env)?;
            let env = config.env.get_or_insert_with(Vec::new);
            for (k, v) in pairs {
                let entry = format!("{k}={v}");
                match env
                    .iter_mut()
                    .find(|e| e.split('=').next() == Some(k.as_str()))
                {
                    Some(e) => *e = entry,
                    None => env.push(entry),
                }
            }
        }
        "label" => {
            needs_args(word, rest)?;
            let pairs = name_values(word, rest, &env)?;
            let labels = config.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in pairs {
                labels.insert(k, v);
            }
        }
        "expose" => {
            needs_args(word, rest)?;
            let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in words(rest, &env)? {
                for port in expand_port(&p)? {
                    ports.insert(port, Value::Object(Default::default()));
                }
            }
        }
        "volume" => {
            needs_args(word, rest)?;
            let list = match json_array(rest) {
                Some(v) => v,
                None => words(rest, &env)?,
            };
            let volumes = config.volumes.get_or_insert_with(BTreeMap::new);
            for v in list {
                let v = v.trim().to_string();
                if v.is_empty() {
                    return Err(Error::invalid(
                        "VOLUME specified can not be an empty string",
                    ));
                }
                volumes.insert(v, Value::Object(Default::default()));
            }
        }
        "workdir" => {
            needs_args(word, rest)?;
            let dir = unquote_one(rest, &env)?;
            let joined = if dir.starts_with('/') {
                dir
            } else {
                format!(
                    "{}/{dir}",
                    config
                        .working_dir
                        .as_deref()
                        .unwrap_or("")
                        .trim_end_matches('/')
                )
            };
            config.working_dir = Some(clean_path(&joined));
        }
        "user" => {
            needs_args(word, rest)?;
            config.user = Some(unquote_one(rest, &env)?);
        }
        "stopsignal" => {
            needs_args(word, rest)?;
            let sig = unquote_one(rest, &env)?;
            if !valid_signal(&sig) {
                return Err(Error::invalid(format!("Invalid signal: {sig}")));
            }
            config.stop_signal = Some(sig);
        }
        "onbuild" => {
            needs_args(word, rest)?;
            let (inner, inner_rest) = match rest.find(char::is_whitespace) {
                Some(i) => (&rest[..i], rest[i..].trim()),
                None => (rest, ""),
            };
            let inner_up = inner.to_ascii_uppercase();
            if matches!(inner_up.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(Error::invalid(format!(
                    "{inner_up} isn't allowed as an ONBUILD trigger"
                )));
            }
            config
                .on_build
                .get_or_insert_with(Vec::new)
                .push(format!("{inner_up} {inner_rest}").trim_end().to_string());
        }
        _ => {
            return Err(Error::invalid(format!(
                "{lower} is not a valid change command"
            )));
        }
    }
    Ok(())
}

/// A JSON array of strings, if `s` is one.
fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(s).ok()
}

/// Exec form (JSON array) or shell form (`/bin/sh -c <s>`).
fn exec_or_shell(s: &str) -> Vec<String> {
    match json_array(s) {
        Some(v) => v,
        None => vec!["/bin/sh".into(), "-c".into(), s.to_string()],
    }
}

/// Splits on unquoted whitespace, removing quotes and backslash escapes and expanding
/// `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alternative}` from `env` (not inside single
/// quotes, not after a backslash), as Docker's shell-word processing does.
fn words(s: &str, env: &[String]) -> Result<Vec<String>> {
    process(s, env, true)
}

/// One word: like [`words`] but whitespace is kept.
fn unquote_one(s: &str, env: &[String]) -> Result<String> {
    Ok(process(s, env, false)?.concat())
}

fn lookup<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

fn process(s: &str, env: &[String], split: bool) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if split && c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                in_word = true;
                match chars.next() {
                    Some(n) if quote.is_none() || n == '"' || n == '\\' || n == '$' => cur.push(n),
                    Some(n) => {
                        cur.push('\\');
                        cur.push(n);
                    }
                    None => cur.push('\\'),
                }
            }
            (_, '$') => {
                in_word = true;
                if chars.peek() == Some(&'{') {
                    chars.next();
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(ch) => inner.push(ch),
                            None => {
                                return Err(Error::invalid(format!(
                                    "missing '}}' in substitution: {s}"
                                )));
                            }
                        }
                    }
                    let (name, modifier) = match inner.find(':') {
                        Some(i) => (&inner[..i], Some(&inner[i..])),
                        None => (inner.as_str(), None),
                    };
                    let value = lookup(env, name);
                    match modifier {
                        None => cur.push_str(value.unwrap_or("")),
                        Some(m) if m.starts_with(":-") => match value.filter(|v| !v.is_empty()) {
                            Some(v) => cur.push_str(v),
                            None => cur.push_str(&m[2..]),
                        },
                        Some(m) if m.starts_with(":+") => {
                            if value.is_some_and(|v| !v.is_empty()) {
                                cur.push_str(&m[2..]);
                            }
                        }
                        Some(m) => {
                            return Err(Error::invalid(format!(
                                "unsupported modifier ({m}) in substitution: {s}"
                            )));
                        }
                    }
                } else {
                    let mut name = String::new();
                    while let Some(&ch) = chars.peek() {
                        if ch.is_ascii_alphanumeric() || ch == '_' {
                            name.push(ch);
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    if name.is_empty() {
                        cur.push('$');
                    } else {
                        cur.push_str(lookup(env, &name).unwrap_or(""));
                    }
                }
            }
            (_, c) => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if quote.is_some() {
        return Err(Error::invalid(format!("unexpected end of statement: {s}")));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// `key=value …` pairs, or the legacy `key value with spaces` form (one pair).
fn name_values(word: &str, rest: &str, env: &[String]) -> Result<Vec<(String, String)>> {
    let ws = words(rest, env)?;
    let first_has_eq = ws.first().is_some_and(|w| w.contains('='));
    if !first_has_eq {
        // Legacy form: the first word is the name, the rest of the line the value.
        let (name, value) = match rest.find(char::is_whitespace) {
            Some(i) => (&rest[..i], rest[i..].trim()),
            None => {
                return Err(Error::invalid(format!(
                    "{} must have two arguments",
                    word.to_ascii_uppercase()
                )));
            }
        };
        return Ok(vec![(name.to_string(), unquote_one(value, env)?)]);
    }
    let mut out = Vec::new();
    for w in ws {
        let Some((k, v)) = w.split_once('=') else {
            return Err(Error::invalid(format!(
                "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
            )));
        };
        if k.is_empty() {
            return Err(Error::invalid(format!(
                "{} names can not be blank",
                word.to_ascii_uppercase()
            )));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// `80` → `80/tcp`; `8000-8002/udp` → three ports.
fn expand_port(p: &str) -> Result<Vec<String>> {
    let (range, proto) = match p.split_once('/') {
        Some((r, proto)) => (r, proto.to_ascii_lowercase()),
        None => (p, "tcp".to_string()),
    };
    let bad = || Error::invalid(format!("Invalid containerPort: {range}"));
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let n = range.parse::<u16>().map_err(|_| bad())?;
            (n, n)
        }
    };
    if hi < lo {
        return Err(Error::invalid(format!(
            "Invalid range specified for port: {range}"
        )));
    }
    Ok((lo..=hi).map(|n| format!("{n}/{proto}")).collect())
}

/// Lexical `path.Clean` for absolute paths.
fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

fn valid_signal(s: &str) -> bool {
    if let Ok(n) = s.parse::<u32>() {
        return n > 0 && n <= 64;
    }
    let name = s.strip_prefix("SIG").unwrap_or(s).to_ascii_uppercase();
    const NAMES: &[&str] = &[
        "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT",
        "KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM",
        "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
    ];
    if NAMES.contains(&name.as_str()) {
        return true;
    }
    // RTMIN, RTMIN+n, RTMAX-n
    let rt = |base: &str| {
        name.strip_prefix(base).is_some_and(|r| {
            r.is_empty()
                || r[1..].parse::<u32>().is_ok() && (r.starts_with('+') || r.starts_with('-'))
        })
    };
    rt("RTMIN") || rt("RTMAX")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> ContainerConfig {
        let mut c = ContainerConfig::default();
        apply_changes(
            &mut c,
            &changes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        c
    }

    fn err(changes: &[&str]) -> String {
        let mut c = ContainerConfig::default();
        apply_changes(
            &mut c,
            &changes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap_err()
        .message
    }

    #[test]
    fn forms_as_docker_applies_them() {
        // The same set of changes as a `docker import` against dockerd gave.
        let c = applied(&[
            r#"CMD ["/bin/sh","-c","echo hi"]"#,
            "ENV A=1 B=2",
            "WORKDIR /w",
            "EXPOSE 80/tcp 90",
            "LABEL x=y",
            "USER nobody",
            "VOLUME /data",
            "ENTRYPOINT echo",
        ]);
        assert_eq!(c.cmd.unwrap(), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "echo"]);
        assert_eq!(c.env.unwrap(), ["A=1", "B=2"]);
        assert_eq!(c.working_dir.as_deref(), Some("/w"));
        assert_eq!(
            c.exposed_ports.unwrap().keys().collect::<Vec<_>>(),
            ["80/tcp", "90/tcp"]
        );
        assert_eq!(c.labels.unwrap()["x"], "y");
        assert_eq!(c.user.as_deref(), Some("nobody"));
        assert!(c.volumes.unwrap().contains_key("/data"));
    }

    #[test]
    fn entrypoint_clears_an_earlier_cmd_only() {
        let mut c = ContainerConfig {
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        apply_changes(&mut c, &["ENTRYPOINT [\"/bin/echo\"]".into()]).unwrap();
        assert_eq!(c.cmd, None);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/echo"]);
    }

    #[test]
    fn env_quotes_legacy_form_and_replacement() {
        let mut c = ContainerConfig {
            env: Some(vec!["PATH=/bin".into(), "A=old".into()]),
            ..Default::default()
        };
        apply_changes(
            &mut c,
            &[
                r#"ENV A="two words" B=x\ y"#.into(),
                "env LEGACY some value".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            c.env.unwrap(),
            ["PATH=/bin", "A=two words", "B=x y", "LEGACY=some value"]
        );
    }

    #[test]
    fn workdir_relative_expose_range_volume_json_stopsignal() {
        let c = applied(&[
            "WORKDIR /a",
            "WORKDIR b/../c",
            "EXPOSE 7000-7002/UDP",
            r#"VOLUME ["/v1", "/v2"]"#,
            "STOPSIGNAL SIGINT",
        ]);
        assert_eq!(c.working_dir.as_deref(), Some("/a/c"));
        assert_eq!(
            c.exposed_ports.unwrap().keys().collect::<Vec<_>>(),
            ["7000/udp", "7001/udp", "7002/udp"]
        );
        assert_eq!(
            c.volumes.unwrap().keys().collect::<Vec<_>>(),
            ["/v1", "/v2"]
        );
        assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
    }

    #[test]
    fn variables_expand_as_dockerd_expanded_them() {
        // The values dockerd 20.10 gave for these changes.
        let c = applied(&[
            "ENV A=1",
            r#"ENV B=$A/x C=${A}y D="$A z""#,
            "WORKDIR /$A",
            "LABEL l=$A",
            r"ENV E=\$A F='$A' G=${NOPE:-dflt} H=${A:+alt}",
        ]);
        assert_eq!(
            c.env.unwrap(),
            [
                "A=1", "B=1/x", "C=1y", "D=1 z", "E=$A", "F=$A", "G=dflt", "H=alt"
            ]
        );
        assert_eq!(c.working_dir.as_deref(), Some("/1"));
        assert_eq!(c.labels.unwrap()["l"], "1");
    }

    #[test]
    fn errors_worded_as_docker() {
        assert_eq!(err(&["FOO bar"]), "foo is not a valid change command");
        assert_eq!(err(&["RUN x"]), "run is not a valid change command");
        assert_eq!(err(&["ENV"]), "ENV requires at least one argument");
        assert_eq!(err(&["EXPOSE abc"]), "Invalid containerPort: abc");
        assert_eq!(err(&["STOPSIGNAL NOPE"]), "Invalid signal: NOPE");
        assert!(err(&["ENV A=\"open"]).contains("unexpected end of statement"));
    }
}

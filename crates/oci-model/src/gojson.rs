//! JSON exactly as Go's `encoding/json` writes it, for output that must match Docker's byte for
//! byte: string escapes (`<`, `>`, `&` as `\u003c`… when HTML escaping is on, as `json.Marshal`
//! does; U+2028/U+2029 always; `\b \f \n \r \t` short), float formatting, compact values in
//! their own key order, and `json.Compact` / `json.Indent` over raw bytes (which keep numbers and
//! escapes as they were). One implementation for every caller: templates, `history`/`system df`
//! JSON, `manifest inspect`.

use std::fmt::Write as _;

/// The input was not one valid JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson;

fn push_u(out: &mut String, c: char) {
    let _ = write!(out, "\\u{:04x}", c as u32);
}

/// A JSON string literal; `html` also escapes `<`, `>` and `&` (`json.Marshal`'s default).
pub fn write_string(out: &mut String, s: &str, html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '<' | '>' | '&' if html => push_u(out, c),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{2028}' | '\u{2029}' => push_u(out, c),
            c if (c as u32) < 0x20 => push_u(out, c),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// [`write_string`] with HTML escaping, as `json.Marshal` writes strings.
pub fn write_string_html(out: &mut String, s: &str) {
    write_string(out, s, true)
}

/// A float64 as encoding/json writes it: `f` format, `e` below 1e-6 or from 1e21 (`1e-7`, not
/// `1e-07`; `1e+21`).
pub fn float(f: f64) -> String {
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if e.starts_with('-') => format!("{m}e{e}"),
            Some((m, e)) => format!("{m}e+{e}"),
            None => s,
        }
    } else {
        format!("{f}")
    }
}

/// A serde value, compact, in its own key order.
pub fn write_value(out: &mut String, v: &serde_json::Value, html: bool) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) => out.push_str(&float(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_string(out, s, html),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, x, html);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k, html);
                out.push(':');
                write_value(out, x, html);
            }
            out.push('}');
        }
    }
}

/// `json.Marshal` of a serde value (HTML escaping on), in its own key order.
pub fn marshal(v: &serde_json::Value) -> String {
    let mut s = String::new();
    write_value(&mut s, v, true);
    s
}

/// Go's `json.Compact` with HTML escaping (what `json.Marshal` does to a `MarshalJSON` result):
/// insignificant whitespace removed, `<`, `>`, `&`, U+2028, U+2029 written as `\u…` escapes.
/// The input must be one JSON value (it is checked).
pub fn compact_html(out: &mut String, src: &[u8]) -> Result<(), NotJson> {
    let text = std::str::from_utf8(src).map_err(|_| NotJson)?;
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|_| NotJson)?;
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        }
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                push_u(out, c);
            }
            c => out.push(c),
        }
    }
    Ok(())
}

/// Go's `json.Indent(dst, src, prefix, indent)` over one JSON value: whitespace before and
/// inside the value dropped, whitespace after it kept; each element on its own line with
/// `prefix` and `indent` × depth; `": "` after keys; empty `{}` and `[]` stay as they are.
/// Everything else — key order, numbers, string escapes — is copied byte for byte.
pub fn indent(src: &[u8], prefix: &str, indent: &str) -> Result<String, NotJson> {
    let text = std::str::from_utf8(src).map_err(|_| NotJson)?;
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|_| NotJson)?;
    let is_ws = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
    let body = text.trim_start_matches(is_ws);
    let value = body.trim_end_matches(is_ws);
    let trailing = &body[value.len()..];
    let mut out = String::with_capacity(text.len() * 2);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(prefix);
        for _ in 0..depth {
            out.push_str(indent);
        }
    };
    let mut depth = 0usize;
    let mut need_indent = false;
    let mut in_string = false;
    let mut escaped = false;
    for c in value.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if is_ws(c) {
            continue;
        }
        let closes = c == '}' || c == ']';
        if need_indent && !closes {
            need_indent = false;
            depth += 1;
            newline(&mut out, depth);
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                need_indent = true;
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            '}' | ']' => {
                if need_indent {
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push_str(trailing);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indent_matches_go_layout() {
        let src = br#"  {"b":1,"a":[ ],"c":{},"d":[1.50,2e3,{"x":"y, \"z\": [w]"}],"e":true}"#;
        let want = "{\n\t\"b\": 1,\n\t\"a\": [],\n\t\"c\": {},\n\t\"d\": [\n\t\t1.50,\n\t\t2e3,\n\t\t{\n\t\t\t\"x\": \"y, \\\"z\\\": [w]\"\n\t\t}\n\t],\n\t\"e\": true\n}";
        assert_eq!(indent(src, "", "\t").unwrap(), want);
    }

    #[test]
    fn indent_keeps_trailing_whitespace_and_prefix() {
        assert_eq!(
            indent(b"\n {\"a\" : [1, 2]}\n", ">", "  ").unwrap(),
            "{\n>  \"a\": [\n>    1,\n>    2\n>  ]\n>}\n"
        );
        assert_eq!(indent(b"\"<x>\" ", "", "\t").unwrap(), "\"<x>\" ");
    }

    #[test]
    fn indent_refuses_invalid_json() {
        assert!(indent(b"{\"a\":", "", "\t").is_err());
        assert!(indent(b"{} {}", "", "\t").is_err());
    }

    #[test]
    fn compact_escapes_html_like_go() {
        let mut out = String::new();
        compact_html(
            &mut out,
            "{ \"a\" : \"<b> & \u{2028}\",\n \"n\": 1.0 }".as_bytes(),
        )
        .unwrap();
        assert_eq!(out, r#"{"a":"\u003cb\u003e \u0026 \u2028","n":1.0}"#);
    }

    #[test]
    fn strings_are_escaped_like_go() {
        let mut out = String::new();
        write_string(&mut out, "a\"\\\n\t\u{1}\u{8}<&>é", true);
        assert_eq!(out, r#""a\"\\\n\t\u0001\b\u003c\u0026\u003eé""#);
    }

    #[test]
    fn floats_and_values_like_go() {
        assert_eq!(float(1e21), "1e+21");
        assert_eq!(float(1e-7), "1e-7");
        assert_eq!(float(0.5), "0.5");
        assert_eq!(float(100.0), "100");
        let v = serde_json::json!({"b": [1, 2.5, null, true], "a": "<x>\u{2028}"});
        assert_eq!(
            marshal(&v),
            r#"{"b":[1,2.5,null,true],"a":"\u003cx\u003e\u2028"}"#
        );
        let mut plain = String::new();
        write_value(&mut plain, &v, false);
        assert_eq!(plain, r#"{"b":[1,2.5,null,true],"a":"<x>\u2028"}"#);
    }
}

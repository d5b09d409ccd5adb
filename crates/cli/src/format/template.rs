//! Docker's format layer (docker/cli `templates/templates.go` and `cli/command/formatter`) on the
//! `gotmpl` engine: the `table` / `json` / raw format keys, Docker's template functions, the
//! header pass of table mode, and Go-like printing of typed structs for `inspect --format`.
//!
//! Go prints a struct with `%v` as `{a b}` and a map as `map[k:v]`; gotmpl only has maps. A typed
//! struct is therefore a [`Value::Map`] keyed by Go field names plus two hidden keys (they start
//! with NUL, so no template field name can reach them) holding the struct's precomputed `%v` text
//! and its JSON encoding. Every printing action of a template gets a hidden last pipeline stage
//! that swaps such a map for its `%v` text, and `json` emits the stored JSON.

use gotmpl::parse::{CommandNode, Expr, ListNode, Node, PipeNode};
use gotmpl::{MissingKey, Template, Value, ValueFunc};
use oci_model::gojson;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A parsed `--format` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// `table` (None: the command's default table) or `table TEMPLATE`.
    Table(Option<String>),
    /// `json`: one `{{json .}}` object per line.
    Json,
    /// Any other string: a Go template executed once per row. (`raw` also lands here as
    /// `Raw("raw")`; commands that have a raw format check for it before parsing.)
    Raw(String),
}

const TABLE_KEY: &str = "table";

/// docker/cli `preFormat`: spaces trimmed, literal `\t` and `\n` turned into tab and newline.
fn pre_format(s: &str) -> String {
    s.trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n")
}

impl Format {
    pub fn parse(s: &str) -> Format {
        if let Some(rest) = s.strip_prefix(TABLE_KEY) {
            let t = pre_format(rest);
            if t.is_empty() {
                Format::Table(None)
            } else {
                Format::Table(Some(t))
            }
        } else if s == "json" {
            Format::Json
        } else {
            Format::Raw(pre_format(s))
        }
    }

    pub fn is_table(&self) -> bool {
        matches!(self, Format::Table(_))
    }

    /// Whether the template text contains `needle` (docker/cli `Format.Contains`).
    pub fn contains(&self, needle: &str) -> bool {
        match self {
            Format::Table(Some(t)) | Format::Raw(t) => t.contains(needle),
            _ => false,
        }
    }
}

/// A template that failed to parse (`template parsing error: …`) or to execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// Parse failure; Display gives Docker's full line `template parsing error: template: :1: …`.
    Parse(String),
    /// Execution failure, Go-style `template: …` text.
    Exec(String),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Parse(m) => write!(f, "template parsing error: {m}"),
            TemplateError::Exec(m) => write!(f, "template parsing error: {m}"),
        }
    }
}

impl std::error::Error for TemplateError {}

impl From<TemplateError> for oci_model::Error {
    fn from(e: TemplateError) -> Self {
        oci_model::Error::invalid(e.to_string())
    }
}

fn parse_error(e: gotmpl::TemplateError) -> TemplateError {
    use gotmpl::TemplateError as G;
    match e {
        // Go's parse errors carry the line only: `template: <name>:<line>: <msg>`.
        G::Parse { line, message, .. } | G::Lex { line, message, .. } => {
            let message = match message.strip_prefix("undefined function: ") {
                Some(f) => format!("function {f:?} not defined"),
                None => message,
            };
            TemplateError::Parse(format!("template: :{line}: {message}"))
        }
        G::UndefinedFunction(f) => {
            TemplateError::Parse(format!("template: :1: function {f:?} not defined"))
        }
        other => TemplateError::Parse(format!("template: {other}")),
    }
}

fn exec_error(e: gotmpl::TemplateError) -> TemplateError {
    use gotmpl::TemplateError as G;
    let msg = match e {
        G::MissingKey { key } => format!("map has no entry for key {key:?}"),
        G::Exec(m) => m,
        other => other.to_string(),
    };
    TemplateError::Exec(format!("template: :1: {msg}"))
}

// ---------------------------------------------------------------------------------------------
// Typed structs

const STRUCT_V: &str = "\0v";
const STRUCT_JSON: &str = "\0json";
const PRINT_FN: &str = "\0print";

/// Builds a Go struct value: fields in declaration order, each with its Go name (for template
/// access and `%v`) and its JSON name (`None` = not serialized, as `json:"-"`). The JSON is Go's
/// encoding of the struct, which the caller provides as written by the daemon (field order kept).
pub fn go_struct(fields: Vec<(&str, Value)>, json: &serde_json::Value) -> Value {
    let mut v = String::from("{");
    for (i, (_, f)) in fields.iter().enumerate() {
        if i > 0 {
            v.push(' ');
        }
        go_fmt_into(&mut v, f);
    }
    v.push('}');
    let mut m: BTreeMap<Arc<str>, Value> = fields
        .into_iter()
        .map(|(k, val)| (Arc::from(k), val))
        .collect();
    m.insert(Arc::from(STRUCT_V), Value::String(v.into()));
    m.insert(
        Arc::from(STRUCT_JSON),
        Value::String(go_json_of_serde(json).into()),
    );
    Value::Map(Arc::new(m))
}

fn struct_part<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v.field(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// Go's `fmt` `%v` of a value (a nested nil prints `<nil>`).
pub fn go_fmt(v: &Value) -> String {
    let mut s = String::new();
    go_fmt_into(&mut s, v);
    s
}

fn go_fmt_into(out: &mut String, v: &Value) {
    use std::fmt::Write;
    match v {
        Value::Map(m) => {
            if let Some(s) = struct_part(v, STRUCT_V) {
                out.push_str(s);
                return;
            }
            out.push_str("map[");
            for (i, (k, val)) in m.iter().filter(|(k, _)| !k.starts_with('\0')).enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                go_fmt_into(out, val);
            }
            out.push(']');
        }
        Value::List(l) => {
            out.push('[');
            for (i, val) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                go_fmt_into(out, val);
            }
            out.push(']');
        }
        Value::Float(f) => out.push_str(&go_float_v(*f)),
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// `%v` of a float64 (`%g` with the shortest representation; exponent from 1e21).
fn go_float_v(f: f64) -> String {
    let a = f.abs();
    if a != 0.0 && !(1e-4..1e21).contains(&a) {
        go_exp(f)
    } else {
        format!("{f}")
    }
}

fn go_exp(f: f64) -> String {
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((m, e)) if e.starts_with('-') => {
            let digits = &e[1..];
            format!("{m}e-{digits:0>2}")
        }
        Some((m, e)) => format!("{m}e+{e:0>2}"),
        None => s,
    }
}

// ---------------------------------------------------------------------------------------------
// JSON, as Go's encoder with SetEscapeHTML(false) (the escapes: `oci_model::gojson`)

fn go_json_into(out: &mut String, v: &Value) -> Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) => out.push_str(&n.to_string()),
        Value::Uint(n) => out.push_str(&n.to_string()),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!("json: unsupported value: {}", go_float_v(*f)));
            }
            out.push_str(&gojson::float(*f))
        }
        Value::String(s) => gojson::write_string(out, s, false),
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_into(out, x)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            if let Some(s) = struct_part(v, STRUCT_JSON) {
                out.push_str(s);
                return Ok(());
            }
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                gojson::write_string(out, k, false);
                out.push(':');
                go_json_into(out, x)?;
            }
            out.push('}');
        }
        Value::Function(_) => return Err("json: unsupported type: func".into()),
    }
    Ok(())
}

/// Go's JSON encoding of a gotmpl value (map keys sorted, as Go sorts map keys).
pub fn go_json(v: &Value) -> Result<String, String> {
    let mut s = String::new();
    go_json_into(&mut s, v)?;
    Ok(s)
}

/// Compact JSON of a serde value in its own key order, escaped as Go's encoder without HTML
/// escaping does.
pub fn go_json_of_serde(v: &serde_json::Value) -> String {
    let mut s = String::new();
    gojson::write_value(&mut s, v, false);
    s
}

/// A formatter row (docker/cli's `SubContext`): a map whose `{{json .}}` is Go's `json.Marshal`
/// of the row's map (sorted keys, HTML characters escaped, as its MarshalJSON does).
pub fn context_row(v: &serde_json::Value) -> Value {
    let Value::Map(m) = from_json(v) else {
        return from_json(v);
    };
    let mut json = String::from("{");
    for (i, (k, x)) in m.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        gojson::write_string(&mut json, k, true);
        json.push(':');
        match x {
            Value::String(t) => gojson::write_string(&mut json, t, true),
            other => {
                let _ = go_json_into(&mut json, other);
            }
        }
    }
    json.push('}');
    let mut m = (*m).clone();
    m.insert(Arc::from(STRUCT_JSON), Value::String(json.into()));
    Value::Map(Arc::new(m))
}

/// A serde_json value as template data (objects become maps: `map[k:v]`, sorted keys).
pub fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::Uint(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        serde_json::Value::String(s) => Value::String(s.as_str().into()),
        serde_json::Value::Array(a) => Value::List(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => Value::Map(Arc::new(
            o.iter()
                .map(|(k, x)| (Arc::from(k.as_str()), from_json(x)))
                .collect(),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Functions (docker/cli templates.go)

fn exec_err(m: String) -> gotmpl::TemplateError {
    gotmpl::TemplateError::Exec(m)
}

fn arity(name: &str, args: &[Value], want: usize) -> gotmpl::Result<()> {
    if args.len() != want {
        return Err(exec_err(format!(
            "wrong number of args for {name}: want {want} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn string_arg(args: &[Value], i: usize) -> gotmpl::Result<&str> {
    match &args[i] {
        Value::String(s) => Ok(s),
        Value::Nil => Err(exec_err("invalid value; expected string".into())),
        other => Err(exec_err(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        ))),
    }
}

fn int_arg(args: &[Value], i: usize) -> gotmpl::Result<i64> {
    match &args[i] {
        Value::Int(n) => Ok(*n),
        Value::Uint(n) => i64::try_from(*n).map_err(|_| exec_err("integer overflow".into())),
        Value::Nil => Err(exec_err("invalid value; expected int".into())),
        other => Err(exec_err(format!(
            "wrong type for value; expected int; got {}",
            other.type_name()
        ))),
    }
}

fn s(v: impl Into<Arc<str>>) -> Value {
    Value::String(v.into())
}

/// strings.Title: the first letter of every word (after a separator) in title case.
pub fn go_title(input: &str) -> String {
    fn is_separator(c: char) -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphanumeric() {
            return false;
        }
        c.is_whitespace()
    }
    let mut prev = ' ';
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        if is_separator(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// strings.Split.
pub fn go_split(src: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return src.chars().map(String::from).collect();
    }
    src.split(sep).map(String::from).collect()
}

/// `pad`: spaces around a non-empty string.
pub fn go_pad(src: &str, prefix: i64, suffix: i64) -> String {
    if src.is_empty() {
        return String::new();
    }
    let p = " ".repeat(prefix.max(0) as usize);
    let q = " ".repeat(suffix.max(0) as usize);
    format!("{p}{src}{q}")
}

/// `truncate`: the first `n` bytes (kept on a character boundary) when `len >= n`.
pub fn go_truncate(src: &str, n: i64) -> String {
    let n = n.max(0) as usize;
    if src.len() < n {
        return src.to_string();
    }
    let mut end = n;
    while !src.is_char_boundary(end) {
        end -= 1;
    }
    src[..end].to_string()
}

fn basic_functions() -> BTreeMap<String, ValueFunc> {
    let mut m: BTreeMap<String, ValueFunc> = BTreeMap::new();
    m.insert(
        "json".into(),
        Arc::new(|a: &[Value]| {
            arity("json", a, 1)?;
            go_json(&a[0]).map(|j| s(j.trim())).map_err(exec_err)
        }),
    );
    m.insert(
        "split".into(),
        Arc::new(|a: &[Value]| {
            arity("split", a, 2)?;
            let parts = go_split(string_arg(a, 0)?, string_arg(a, 1)?);
            Ok(Value::List(parts.into_iter().map(s).collect()))
        }),
    );
    m.insert(
        "join".into(),
        Arc::new(|a: &[Value]| {
            arity("join", a, 2)?;
            let sep = string_arg(a, 1)?;
            match &a[0] {
                Value::List(l) => {
                    let mut parts = Vec::with_capacity(l.len());
                    for x in l.iter() {
                        match x {
                            Value::String(v) => parts.push(v.to_string()),
                            other => {
                                return Err(exec_err(format!(
                                    "wrong type for value; expected []string; got []{}",
                                    other.type_name()
                                )));
                            }
                        }
                    }
                    Ok(s(parts.join(sep)))
                }
                Value::Nil => Ok(s("")),
                other => Err(exec_err(format!(
                    "wrong type for value; expected []string; got {}",
                    other.type_name()
                ))),
            }
        }),
    );
    m.insert(
        "title".into(),
        Arc::new(|a: &[Value]| {
            arity("title", a, 1)?;
            Ok(s(go_title(string_arg(a, 0)?)))
        }),
    );
    m.insert(
        "lower".into(),
        Arc::new(|a: &[Value]| {
            arity("lower", a, 1)?;
            Ok(s(string_arg(a, 0)?.to_lowercase()))
        }),
    );
    m.insert(
        "upper".into(),
        Arc::new(|a: &[Value]| {
            arity("upper", a, 1)?;
            Ok(s(string_arg(a, 0)?.to_uppercase()))
        }),
    );
    m.insert(
        "pad".into(),
        Arc::new(|a: &[Value]| {
            arity("pad", a, 3)?;
            Ok(s(go_pad(string_arg(a, 0)?, int_arg(a, 1)?, int_arg(a, 2)?)))
        }),
    );
    m.insert(
        "truncate".into(),
        Arc::new(|a: &[Value]| {
            arity("truncate", a, 2)?;
            Ok(s(go_truncate(string_arg(a, 0)?, int_arg(a, 1)?)))
        }),
    );
    m.insert(PRINT_FN.into(), Arc::new(print_stage));
    m
}

/// The hidden last stage of every printing action: a typed struct prints as its `%v`.
fn print_stage(a: &[Value]) -> gotmpl::Result<Value> {
    match a.last() {
        Some(v @ Value::Map(m)) => match struct_part(v, STRUCT_V) {
            Some(txt) => Ok(s(txt)),
            None if m.keys().any(|k| k.starts_with('\0')) => Ok(s(go_fmt(v))),
            None => Ok(v.clone()),
        },
        Some(Value::List(l)) if l.iter().any(|x| struct_part(x, STRUCT_V).is_some()) => {
            Ok(s(go_fmt(&a[a.len() - 1])))
        }
        Some(v) => Ok(v.clone()),
        None => Ok(Value::Nil),
    }
}

/// docker/cli `HeaderFunctions`: the same names, each returning its first argument.
fn header_functions() -> BTreeMap<String, ValueFunc> {
    let mut m: BTreeMap<String, ValueFunc> = BTreeMap::new();
    for name in [
        "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
    ] {
        m.insert(
            name.into(),
            Arc::new(|a: &[Value]| Ok(a.first().cloned().unwrap_or(Value::Nil))),
        );
    }
    m.insert(PRINT_FN.into(), Arc::new(print_stage));
    m
}

// ---------------------------------------------------------------------------------------------
// Parsing and executing

const NAME: &str = "strata";

/// Go's text/template builtins; gotmpl resolves functions at run time, Go at parse time.
const BUILTINS: &[&str] = &[
    "and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "or",
    "print", "printf", "println", "slice", "urlquery",
];

fn check_funcs_list(l: &ListNode, known: &BTreeMap<String, ValueFunc>) -> Result<(), String> {
    l.nodes.iter().try_for_each(|n| check_funcs_node(n, known))
}

fn check_funcs_pipe(p: &PipeNode, known: &BTreeMap<String, ValueFunc>) -> Result<(), String> {
    for c in &p.commands {
        for a in &c.args {
            check_funcs_expr(a, known)?;
        }
    }
    Ok(())
}

fn check_funcs_expr(e: &Expr, known: &BTreeMap<String, ValueFunc>) -> Result<(), String> {
    match e {
        Expr::Identifier(_, name)
            if !known.contains_key(name.as_str()) && !BUILTINS.contains(&name.as_str()) =>
        {
            Err(name.to_string())
        }
        Expr::Pipe(_, p) => check_funcs_pipe(p, known),
        Expr::Chain(_, inner, _) => check_funcs_expr(inner, known),
        _ => Ok(()),
    }
}

fn check_funcs_node(n: &Node, known: &BTreeMap<String, ValueFunc>) -> Result<(), String> {
    match n {
        Node::Action(a) => check_funcs_pipe(&a.pipe, known),
        Node::If(b) | Node::Range(b) | Node::With(b) => {
            check_funcs_pipe(&b.pipe, known)?;
            check_funcs_list(&b.body, known)?;
            match &b.else_body {
                Some(e) => check_funcs_list(e, known),
                None => Ok(()),
            }
        }
        Node::Template(t) => match &t.pipe {
            Some(p) => check_funcs_pipe(p, known),
            None => Ok(()),
        },
        Node::List(l) => check_funcs_list(l, known),
        Node::Define(d) => check_funcs_list(&d.body, known),
        _ => Ok(()),
    }
}

fn add_print_stage_list(list: &mut ListNode) {
    for n in &mut list.nodes {
        add_print_stage(n);
    }
}

fn add_print_stage(n: &mut Node) {
    match n {
        Node::Action(a) if a.pipe.decl.is_empty() => {
            let pos = a.pipe.pos;
            a.pipe.commands.push(CommandNode {
                pos,
                args: vec![Expr::Identifier(pos, PRINT_FN.into())],
            });
        }
        Node::If(b) | Node::Range(b) | Node::With(b) => {
            add_print_stage_list(&mut b.body);
            if let Some(e) = &mut b.else_body {
                add_print_stage_list(e);
            }
        }
        Node::List(l) => add_print_stage_list(l),
        Node::Define(d) => add_print_stage_list(&mut d.body),
        _ => {}
    }
}

/// A parsed template with Docker's functions.
pub struct Parsed {
    tmpl: Template,
}

fn build(
    src: &str,
    funcs: BTreeMap<String, ValueFunc>,
    mk: MissingKey,
) -> Result<Parsed, TemplateError> {
    let known = funcs.clone();
    let t = Template::new(NAME)
        .funcs(funcs)
        .missing_key(mk)
        .parse(src)
        .map_err(parse_error)?;
    let names: Vec<String> = t.templates().into_iter().map(String::from).collect();
    let mut trees: Vec<(String, ListNode)> = Vec::new();
    for name in names {
        if let Some(tree) = t.lookup(&name) {
            if let Err(f) = check_funcs_list(tree, &known) {
                return Err(TemplateError::Parse(format!(
                    "template: :{}: function {f:?} not defined",
                    tree.pos.line.max(1)
                )));
            }
            let mut tree = tree.clone();
            add_print_stage_list(&mut tree);
            trees.push((name, tree));
        }
    }
    let mut t = t;
    if !trees.iter().any(|(n, _)| n == NAME) {
        // An empty body: nothing registered under the template's own name.
        trees.push((
            NAME.to_string(),
            ListNode {
                pos: gotmpl::parse::Pos::new(0, 1),
                nodes: vec![],
            },
        ));
    }
    for (name, tree) in trees {
        t = t.add_parse_tree(&name, tree);
    }
    Ok(Parsed { tmpl: t })
}

impl Parsed {
    /// Parses with Docker's functions (missing map keys print `<no value>`).
    pub fn new(src: &str) -> Result<Parsed, TemplateError> {
        build(src, basic_functions(), MissingKey::Invalid)
    }

    /// Parses with Docker's functions; a missing map key is an error (inspect's fallback pass).
    pub fn strict(src: &str) -> Result<Parsed, TemplateError> {
        build(src, basic_functions(), MissingKey::Error)
    }

    fn header(src: &str) -> Result<Parsed, TemplateError> {
        build(src, header_functions(), MissingKey::Invalid)
    }

    /// Appends one execution to `out`. On error `out` keeps the partial output (as Go's writer).
    pub fn execute_into(&self, out: &mut String, data: &Value) -> Result<(), TemplateError> {
        self.tmpl
            .execute_template_fmt(out, NAME, data)
            .map_err(exec_error)
    }

    pub fn execute(&self, data: &Value) -> Result<String, TemplateError> {
        let mut s = String::new();
        self.execute_into(&mut s, data)?;
        Ok(s)
    }
}

/// The template text of a table format (after `table `); `default_table` may carry the prefix.
fn table_source(t: &Option<String>, default_table: &str) -> String {
    match t {
        Some(t) => t.clone(),
        None => match Format::parse(default_table) {
            Format::Table(Some(d)) | Format::Raw(d) => d,
            Format::Table(None) | Format::Json => String::new(),
        },
    }
}

/// Renders `rows` as docker/cli's formatter does: table mode prints the header row (the same
/// template over `headers` with the header functions) and aligns cells with tabwriter; json mode
/// prints `{{json .}}` per row; raw mode executes the template once per row. A newline follows
/// every execution.
pub fn render(
    format: &Format,
    default_table: &str,
    headers: &[(&str, &str)],
    rows: &[serde_json::Value],
) -> Result<String, TemplateError> {
    // The hidden JSON text of a row only matters to `json`; skip building it otherwise (it is
    // most of the cost of a plain `--format '{{.ID}}'` over 1,000 rows).
    let needs_json = matches!(format, Format::Json) || format.contains("json");
    let values: Vec<Value> = if needs_json {
        rows.iter().map(context_row).collect()
    } else {
        rows.iter().map(from_json).collect()
    };
    render_values(format, default_table, headers, &values)
}

/// [`render`] over template values (e.g. typed structs built with [`go_struct`]).
pub fn render_values(
    format: &Format,
    default_table: &str,
    headers: &[(&str, &str)],
    rows: &[Value],
) -> Result<String, TemplateError> {
    let src = match format {
        Format::Table(t) => table_source(t, default_table),
        Format::Json => "{{json .}}".to_string(),
        Format::Raw(t) => t.clone(),
    };
    let tmpl = Parsed::new(&src)?;
    let mut body = String::new();
    for r in rows {
        tmpl.execute_into(&mut body, r)?;
        body.push('\n');
    }
    if !format.is_table() {
        return Ok(body);
    }
    let header_map = Value::Map(Arc::new(
        headers
            .iter()
            .map(|(k, v)| (Arc::from(*k), s(*v)))
            .collect(),
    ));
    let mut text = String::new();
    // Go ignores the header pass's error and keeps what it wrote.
    if let Ok(h) = Parsed::header(&src) {
        let _ = h.execute_into(&mut text, &header_map);
    }
    text.push('\n');
    text.push_str(&body);
    Ok(super::table::tabwrite(&text))
}

/// One execution of `template` (already pre-processed) against a JSON value, no newline added.
pub fn render_one(template: &str, value: &serde_json::Value) -> Result<String, TemplateError> {
    Parsed::new(template)?.execute(&from_json(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(t: &str, v: serde_json::Value) -> String {
        render_one(t, &v).unwrap()
    }

    #[test]
    fn format_keys() {
        assert_eq!(Format::parse("table"), Format::Table(None));
        assert_eq!(Format::parse("table  "), Format::Table(None));
        assert_eq!(
            Format::parse("table {{.ID}}\\t{{.Tag}}"),
            Format::Table(Some("{{.ID}}\t{{.Tag}}".into()))
        );
        assert_eq!(Format::parse("json"), Format::Json);
        assert_eq!(
            Format::parse(" {{.ID}}\\n "),
            Format::Raw("{{.ID}}\n".into())
        );
        assert_eq!(Format::parse("raw"), Format::Raw("raw".into()));
        assert!(Format::parse("table {{.Digest}}").contains("{{.Digest}}"));
    }

    #[test]
    fn json_function_is_go_encoder_without_html_escaping() {
        assert_eq!(
            one(
                "{{json .}}",
                json!({"b": "<none>&", "a": [1, 2.5, null, true]})
            ),
            r#"{"a":[1,2.5,null,true],"b":"<none>&"}"#
        );
        assert_eq!(
            one("{{json .S}}", json!({"S": "a\"b\n\u{1}\u{2028}"})),
            r#""a\"b\n\u0001\u2028""#
        );
    }

    #[test]
    fn json_round_trips_through_serde() {
        let v =
            json!({"Containers": "N/A", "ID": "abc", "Size": "1.2MB", "n": -3, "x": {"y": [1]}});
        let out = one("{{json .}}", v.clone());
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn string_functions() {
        let v = json!({"S": "hello big-world_x", "E": "", "L": ["a", "b"]});
        assert_eq!(one("{{title .S}}", v.clone()), "Hello Big-World_x");
        assert_eq!(
            one("{{upper .S}}|{{lower \"AbC\"}}", v.clone()),
            "HELLO BIG-WORLD_X|abc"
        );
        assert_eq!(one("{{join .L \", \"}}", v.clone()), "a, b");
        assert_eq!(one("{{split \"a:b:c\" \":\"}}", v.clone()), "[a b c]");
        assert_eq!(one("{{index (split \"a:b\" \":\") 1}}", v.clone()), "b");
        assert_eq!(one("{{split \"ab\" \"\"}}", v.clone()), "[a b]");
        assert_eq!(
            one("[{{pad .E 1 2}}][{{pad \"x\" 1 2}}]", v.clone()),
            "[][ x  ]"
        );
        assert_eq!(
            one(
                "{{truncate .S 5}}|{{truncate \"ab\" 5}}|{{truncate \"ab\" 2}}",
                v.clone()
            ),
            "hello|ab|ab"
        );
        assert_eq!(one("{{println .S}}", v.clone()), "hello big-world_x\n");
        assert_eq!(one("{{.Missing}}", v.clone()), "<no value>");
        assert_eq!(go_truncate("héllo", 2), "h");
    }

    #[test]
    fn function_errors() {
        let e = render_one("{{lower 3}}", &json!({})).unwrap_err();
        assert!(matches!(e, TemplateError::Exec(_)), "{e:?}");
        let e = render_one("{{join}}", &json!({})).unwrap_err();
        assert!(
            e.to_string().contains("wrong number of args for join"),
            "{e}"
        );
    }

    #[test]
    fn parse_errors_are_dockers() {
        assert_eq!(
            render_one("{{.X", &json!({})).unwrap_err().to_string(),
            "template parsing error: template: :1: unclosed action"
        );
        assert_eq!(
            render_one("{{nofunc .}}", &json!({}))
                .unwrap_err()
                .to_string(),
            "template parsing error: template: :1: function \"nofunc\" not defined"
        );
    }

    const DEFAULT: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}";
    const HEADERS: &[(&str, &str)] = &[
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("ID", "IMAGE ID"),
        ("CreatedSince", "CREATED"),
        ("Size", "SIZE"),
    ];

    fn rows() -> Vec<serde_json::Value> {
        vec![
            json!({"Repository": "debian", "Tag": "bookworm", "ID": "4eacea30377a", "CreatedSince": "8 days ago", "Size": "124MB"}),
            json!({"Repository": "<none>", "Tag": "<none>", "ID": "0123456789ab", "CreatedSince": "", "Size": "0B"}),
        ]
    }

    #[test]
    fn default_table_with_header() {
        let out = render(&Format::Table(None), DEFAULT, HEADERS, &rows()).unwrap();
        assert_eq!(
            out,
            "REPOSITORY   TAG        IMAGE ID       CREATED      SIZE\n\
             debian       bookworm   4eacea30377a   8 days ago   124MB\n\
             <none>       <none>     0123456789ab   N/A          0B\n"
        );
        let empty = render(&Format::Table(None), DEFAULT, HEADERS, &[]).unwrap();
        assert_eq!(empty, "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n");
    }

    #[test]
    fn custom_table_header_uses_identity_functions() {
        let f = Format::parse("table {{lower .Repository}}\\t{{truncate .Tag 3}}\\t{{.Nope}}");
        let out = render(&f, DEFAULT, HEADERS, &rows()[..1]).unwrap();
        assert_eq!(
            out,
            "REPOSITORY   TAG       <no value>\ndebian       boo       <no value>\n"
        );
    }

    #[test]
    fn json_and_raw_modes() {
        let out = render(&Format::Json, DEFAULT, HEADERS, &rows()[..1]).unwrap();
        assert_eq!(
            out,
            "{\"CreatedSince\":\"8 days ago\",\"ID\":\"4eacea30377a\",\"Repository\":\"debian\",\"Size\":\"124MB\",\"Tag\":\"bookworm\"}\n"
        );
        // A row's `{{json .}}` is its MarshalJSON: HTML characters escaped, as Docker prints.
        let out = render(&Format::Json, DEFAULT, HEADERS, &rows()[1..]).unwrap();
        assert!(
            out.contains("\"Repository\":\"\\u003cnone\\u003e\""),
            "{out}"
        );
        let out = render(
            &Format::parse("{{json .Tag}}|{{.}}"),
            DEFAULT,
            HEADERS,
            &rows()[1..],
        )
        .unwrap();
        assert!(
            out.starts_with("\"<none>\"|map[CreatedSince: ID:0123456789ab "),
            "{out}"
        );
        let out = render(
            &Format::parse("{{.ID}}: {{.Tag}}"),
            DEFAULT,
            HEADERS,
            &rows(),
        )
        .unwrap();
        assert_eq!(out, "4eacea30377a: bookworm\n0123456789ab: <none>\n");
        let e = render(&Format::parse("{{.ID"), DEFAULT, HEADERS, &rows()).unwrap_err();
        assert!(matches!(e, TemplateError::Parse(_)));
    }

    #[test]
    fn typed_structs_print_like_go() {
        let rootfs_json = json!({"Type": "layers", "Layers": ["sha256:a", "sha256:b"]});
        let rootfs = go_struct(
            vec![
                ("Type", s("layers")),
                (
                    "Layers",
                    Value::List(vec![s("sha256:a"), s("sha256:b")].into()),
                ),
            ],
            &rootfs_json,
        );
        let labels = from_json(&json!({"z": "1", "a": "2"}));
        let top = go_struct(
            vec![
                ("ID", s("sha256:x")),
                ("RootFS", rootfs),
                ("Labels", labels),
            ],
            &json!({}),
        );
        let p = Parsed::new("{{.RootFS}}|{{json .RootFS}}|{{.RootFS.Layers}}|{{.Labels}}|{{range .RootFS.Layers}}<{{.}}>{{end}}|{{with .RootFS}}{{.}}{{end}}").unwrap();
        assert_eq!(
            p.execute(&top).unwrap(),
            "{layers [sha256:a sha256:b]}|{\"Type\":\"layers\",\"Layers\":[\"sha256:a\",\"sha256:b\"]}|[sha256:a sha256:b]|map[a:2 z:1]|<sha256:a><sha256:b>|{layers [sha256:a sha256:b]}"
        );
        let strict = Parsed::strict("{{.Id}}").unwrap();
        assert!(strict.execute(&top).is_err());
        assert_eq!(
            go_fmt(&Value::List(vec![top.clone()].into()))
                .chars()
                .next(),
            Some('[')
        );
    }

    #[test]
    fn go_float_v_formats() {
        assert_eq!(go_float_v(1.5), "1.5");
        assert_eq!(go_float_v(1e21), "1e+21");
        assert_eq!(go_float_v(1e-5), "1e-05");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: std::env::var("STRATA_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
            failure_persistence: None,
            ..Default::default()
        })]

        /// Fuzz target: any `--format` text against a row never panics; it renders or fails with
        /// a template error.
        #[test]
        fn any_template_renders_or_fails_cleanly(
            t in proptest::prop_oneof![
                proptest::arbitrary::any::<String>(),
                proptest::string::string_regex(
                    r#"(\{\{|\}\}|\.|[A-Za-z]{1,8}| |"[a-z:]*"|\||json|join|table|upper|lower|title|split|println|printf|range|end|if|else|with|len|index|pad|truncate|\$x|:=|\(|\)|[0-9]){0,24}"#
                ).unwrap(),
            ],
        ) {
            let row = json!({"Repository": "a", "Tag": "b", "ID": "c", "Size": 3, "Labels": {"k": "v"}, "List": [1, 2]});
            if let Ok(p) = Parsed::new(&t) {
                let _ = p.execute(&from_json(&row));
            }
            let _ = Format::parse(&t);
        }
    }
}

//! Label selectors: the `labelSelector` query syntax (`a=b,c in (x,y),!d`)
//! with kube-apiserver's parse errors, and metav1.LabelSelector objects
//! (`matchLabels` / `matchExpressions`) for controllers.

use crate::validation::field_error::{aggregate_errors, FieldError};
use crate::validation::names::{is_label_key, is_valid_label_value};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;

/// A selector that could not be parsed or built; the message is the one the
/// API server puts in its 400 response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LabelSelectorError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// The operator's name in apimachinery (`in`, `=`, `!`, `gt`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One `key op values` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    op: Operator,
    values: Vec<String>,
}

fn json_list(values: Option<&[String]>) -> Value {
    match values {
        None => Value::Null,
        Some(v) => Value::Array(v.iter().cloned().map(Value::String).collect()),
    }
}

impl Requirement {
    /// Builds and validates a requirement as `labels.NewRequirement` does.
    /// `values: None` stands for a nil list (printed `null` in errors).
    pub fn new(
        key: &str,
        op: Operator,
        values: Option<Vec<String>>,
    ) -> Result<Requirement, LabelSelectorError> {
        let mut errs = Vec::new();
        let msgs = is_label_key(key);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid("key", key, msgs.join("; ")));
        }
        let vals = values.as_deref().unwrap_or(&[]);
        let shown = || json_list(values.as_deref());
        match op {
            Operator::In | Operator::NotIn => {
                if vals.is_empty() {
                    errs.push(FieldError::invalid(
                        "values",
                        shown(),
                        "for 'in', 'notin' operators, values set can't be empty",
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if vals.len() != 1 {
                    errs.push(FieldError::invalid(
                        "values",
                        shown(),
                        "exact-match compatibility requires one single value",
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !vals.is_empty() {
                    errs.push(FieldError::invalid(
                        "values",
                        shown(),
                        "values set must be empty for exists and does not exist",
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if vals.len() != 1 {
                    errs.push(FieldError::invalid(
                        "values",
                        shown(),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in vals.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(FieldError::invalid(
                            format!("values[{i}]"),
                            v.as_str(),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
        }
        for (i, v) in vals.iter().enumerate() {
            let msgs = is_valid_label_value(v);
            if !msgs.is_empty() {
                errs.push(FieldError::invalid(
                    format!("values[{i}][{key}]"),
                    v.as_str(),
                    msgs.join("; "),
                ));
            }
        }
        if !errs.is_empty() {
            return Err(LabelSelectorError(aggregate_errors(&errs)));
        }
        Ok(Requirement {
            key: key.to_string(),
            op,
            values: vals.to_vec(),
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.op
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether a label set satisfies this requirement.
    pub fn matches(&self, lookup: &dyn Fn(&str) -> Option<String>) -> bool {
        match self.op {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                lookup(&self.key).is_some_and(|v| self.values.contains(&v))
            }
            Operator::NotIn | Operator::NotEquals => {
                lookup(&self.key).is_none_or(|v| !self.values.contains(&v))
            }
            Operator::Exists => lookup(&self.key).is_some(),
            Operator::DoesNotExist => lookup(&self.key).is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(have) = lookup(&self.key).and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let [want] = self.values.as_slice() else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.op == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let sep = match self.op {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(sep)?;
        let paren = matches!(self.op, Operator::In | Operator::NotIn);
        if paren {
            f.write_str("(")?;
        }
        let mut vals = self.values.clone();
        vals.sort();
        f.write_str(&vals.join(","))?;
        if paren {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed label selector. `Default` is "everything".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// Matches every object.
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// Matches no object (a nil metav1.LabelSelector).
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses the query-string syntax. An empty string selects everything.
    pub fn parse(selector: &str) -> Result<Self, LabelSelectorError> {
        let mut p = Parser::new(selector);
        let mut reqs = p.parse()?;
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements: reqs,
            nothing: false,
        })
    }

    /// `key=value` for every entry, unvalidated (a Service's
    /// `spec.selector`, a ReplicationController's selector). An empty map
    /// selects everything.
    pub fn from_map(map: &Map<String, Value>) -> Self {
        let mut reqs: Vec<Requirement> = map
            .iter()
            .filter_map(|(k, v)| {
                Some(Requirement {
                    key: k.clone(),
                    op: Operator::Equals,
                    values: vec![v.as_str()?.to_string()],
                })
            })
            .collect();
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector {
            requirements: reqs,
            nothing: false,
        }
    }

    /// From a metav1.LabelSelector object, as `LabelSelectorAsSelector`:
    /// `null` (or an absent selector) selects nothing, `{}` everything.
    pub fn from_label_selector(sel: Option<&Value>) -> Result<Self, LabelSelectorError> {
        let Some(sel) = sel.filter(|v| !v.is_null()) else {
            return Ok(Self::nothing());
        };
        let labels = sel.get("matchLabels").and_then(Value::as_object);
        let exprs = sel.get("matchExpressions").and_then(Value::as_array);
        if labels.map_or(0, Map::len) + exprs.map_or(0, Vec::len) == 0 {
            return Ok(Self::everything());
        }
        let mut reqs = Vec::new();
        for (k, v) in labels.into_iter().flatten() {
            let v = v.as_str().unwrap_or_default().to_string();
            reqs.push(Requirement::new(k, Operator::Equals, Some(vec![v]))?);
        }
        for e in exprs.into_iter().flatten() {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let op_name = e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let op = match op_name {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(LabelSelectorError(format!(
                        "{} is not a valid label selector operator",
                        crate::validation::field_error::go_quote(other)
                    )))
                }
            };
            let values: Option<Vec<String>> = e
                .get("values")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().unwrap_or_default().to_string())
                        .collect()
                });
            reqs.push(Requirement::new(key, op, values)?);
        }
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements: reqs,
            nothing: false,
        })
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True when it selects everything.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    pub fn matches_nothing(&self) -> bool {
        self.nothing
    }

    /// Matches against a label map (string values; others are ignored).
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        let lookup = |k: &str| labels.get(k).and_then(Value::as_str).map(str::to_string);
        self.matches_with(&lookup)
    }

    /// Matches against a `metadata.labels` value (absent or null = no labels).
    pub fn matches_value(&self, labels: Option<&Value>) -> bool {
        match labels.and_then(Value::as_object) {
            Some(m) => self.matches(m),
            None => self.matches(&Map::new()),
        }
    }

    /// Matches an object by its `metadata.labels`.
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.matches_value(obj.pointer("/metadata/labels"))
    }

    /// Matches with any label lookup.
    pub fn matches_with(&self, lookup: &dyn Fn(&str) -> Option<String>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(lookup))
    }

    /// The value a label must have for this selector to match, if any.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.op, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    /// The canonical form (`a=b,c in (x,y)`), sorted by key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

impl std::str::FromStr for LabelSelector {
    type Err = LabelSelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LabelSelector::parse(s)
    }
}

// ---------------------------------------------------------------------------
// Lexer and parser (the grammar and messages of apimachinery's labels
// package).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Error,
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::ClosedPar,
        "," => Tok::Comma,
        "!" => Tok::DoesNotExist,
        "==" => Tok::DoubleEquals,
        "=" => Tok::Equals,
        ">" => Tok::GreaterThan,
        "in" => Tok::In,
        "<" => Tok::LessThan,
        "!=" => Tok::NotEquals,
        "notin" => Tok::NotIn,
        "(" => Tok::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// The next byte, 0 at the end (a NUL byte also reads as the end).
    fn read(&mut self) -> u8 {
        match self.s.as_bytes().get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn scan_id_or_keyword(&mut self) -> (Tok, String) {
        let start = self.pos;
        loop {
            let c = self.read();
            if c == 0 {
                break;
            }
            if is_special(c) || is_whitespace(c) {
                self.unread();
                break;
            }
        }
        let end = if self.pos > start && self.s.as_bytes().get(self.pos - 1) == Some(&0) {
            self.pos - 1
        } else {
            self.pos
        };
        let lit = String::from_utf8_lossy(&self.s.as_bytes()[start..end]).into_owned();
        match keyword(&lit) {
            Some(t) => (t, lit),
            None => (Tok::Identifier, lit),
        }
    }

    fn scan_special(&mut self) -> (Tok, String) {
        let mut buf = String::new();
        let mut last: Option<(Tok, String)> = None;
        loop {
            let c = self.read();
            if c == 0 {
                break;
            }
            if is_special(c) {
                buf.push(c as char);
                if let Some(t) = keyword(&buf) {
                    last = Some((t, buf.clone()));
                } else if last.is_some() {
                    self.unread();
                    break;
                }
            } else {
                self.unread();
                break;
            }
        }
        match last {
            Some(t) => t,
            None => (Tok::Error, format!("error expected: keyword found '{buf}'")),
        }
    }

    fn lex(&mut self) -> (Tok, String) {
        let mut c = self.read();
        while is_whitespace(c) {
            c = self.read();
        }
        if c == 0 {
            return (Tok::End, String::new());
        }
        self.unread();
        if is_special(c) {
            self.scan_special()
        } else {
            self.scan_id_or_keyword()
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Tok, String)>,
    pos: usize,
}

fn err<T>(msg: String) -> Result<T, LabelSelectorError> {
    Err(LabelSelectorError(msg))
}

impl Parser {
    fn new(s: &str) -> Self {
        let mut lexer = Lexer { s, pos: 0 };
        let mut items = Vec::new();
        loop {
            let item = lexer.lex();
            let end = item.0 == Tok::End;
            items.push(item);
            if end {
                break;
            }
        }
        Parser { items, pos: 0 }
    }

    fn item(&self, at: usize, ctx: Ctx) -> (Tok, String) {
        let (tok, lit) = self
            .items
            .get(at)
            .cloned()
            .unwrap_or((Tok::End, String::new()));
        let tok = match (ctx, tok) {
            (Ctx::Values, Tok::In | Tok::NotIn) => Tok::Identifier,
            (_, t) => t,
        };
        (tok, lit)
    }

    fn lookahead(&self, ctx: Ctx) -> (Tok, String) {
        self.item(self.pos, ctx)
    }

    fn consume(&mut self, ctx: Ctx) -> (Tok, String) {
        let it = self.item(self.pos, ctx);
        self.pos += 1;
        it
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, LabelSelectorError> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    let r = self.parse_requirement().map_err(|e| {
                        LabelSelectorError(format!("unable to parse requirement: {}", e.0))
                    })?;
                    reqs.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::End => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::End => return Ok(reqs),
                _ => {
                    return err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ))
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, LabelSelectorError> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = op {
            return Requirement::new(&key, op, Some(Vec::new()));
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(&key, op, Some(values.into_iter().collect()))
    }

    fn parse_key_and_infer_operator(
        &mut self,
    ) -> Result<(String, Option<Operator>), LabelSelectorError> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        if tok == Tok::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Tok::Identifier {
            return err(format!("found '{lit}', expected: identifier"));
        }
        let msgs = is_label_key(&lit);
        if !msgs.is_empty() {
            return err(FieldError::invalid("<nil>", lit.as_str(), msgs.join("; ")).to_string());
        }
        let (t, _) = self.lookahead(Ctx::Values);
        if (t == Tok::End || t == Tok::Comma) && op != Some(Operator::DoesNotExist) {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, LabelSelectorError> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        Ok(match tok {
            Tok::In => Operator::In,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::GreaterThan => Operator::GreaterThan,
            Tok::LessThan => Operator::LessThan,
            Tok::NotIn => Operator::NotIn,
            Tok::NotEquals => Operator::NotEquals,
            _ => {
                return err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ))
            }
        })
    }

    fn parse_values(&mut self) -> Result<BTreeSet<String>, LabelSelectorError> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Tok::OpenPar {
            return err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        match tok {
            Tok::Identifier | Tok::Comma => {
                let s = self.parse_identifiers_list()?;
                let (t, _) = self.consume(Ctx::Values);
                if t != Tok::ClosedPar {
                    return err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, LabelSelectorError> {
        let mut s = BTreeSet::new();
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Tok::Identifier => {
                    s.insert(lit);
                    let (t2, l2) = self.lookahead(Ctx::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(s),
                        _ => return err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if s.is_empty() {
                        s.insert(String::new());
                    }
                    let (t2, _) = self.lookahead(Ctx::Values);
                    if t2 == Tok::ClosedPar {
                        s.insert(String::new());
                        return Ok(s);
                    }
                    if t2 == Tok::Comma {
                        s.insert(String::new());
                    }
                }
                _ => return err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<BTreeSet<String>, LabelSelectorError> {
        let (tok, _) = self.lookahead(Ctx::Values);
        if tok == Tok::End || tok == Tok::Comma {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Tok::Identifier {
            return Ok(BTreeSet::from([lit]));
        }
        err(format!("found '{lit}', expected: identifier"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn parses_and_matches() {
        let s = LabelSelector::parse("app=web, tier in (front,back),!legacy,env!=prod,x").unwrap();
        assert_eq!(
            s.to_string(),
            "app=web,env!=prod,!legacy,tier in (back,front),x"
        );
        assert!(s.matches(&labels(json!({"app": "web", "tier": "front", "x": ""}))));
        assert!(!s.matches(&labels(json!({"app": "web", "tier": "front"}))));
        assert!(!s.matches(&labels(
            json!({"app": "web", "tier": "front", "x": "1", "legacy": "y"})
        )));
        assert!(!s.matches(&labels(json!({"app": "web", "tier": "mid", "x": "1"}))));
        assert!(!s.matches(&labels(
            json!({"app": "web", "tier": "front", "x": "1", "env": "prod"})
        )));
        let s = LabelSelector::parse("a==b,c notin (d),e>3,f<2").unwrap();
        assert!(s.matches(&labels(json!({"a": "b", "e": "4", "f": "1"}))));
        assert!(!s.matches(&labels(json!({"a": "b", "c": "d", "e": "4", "f": "1"}))));
        assert!(LabelSelector::parse("").unwrap().is_empty());
        assert!(LabelSelector::parse("a=")
            .unwrap()
            .matches(&labels(json!({"a": ""}))));
        assert_eq!(
            LabelSelector::parse("a in (x)")
                .unwrap()
                .requires_exact_match("a"),
            Some("x")
        );
    }

    #[test]
    fn parse_errors() {
        let e = |s: &str| LabelSelector::parse(s).unwrap_err().to_string();
        assert_eq!(
            e("a in (x"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(e("a,"), "found '', expected: identifier after ','");
        assert_eq!(
            e("=a"),
            "found '=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            e("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            e("a in x"),
            "unable to parse requirement: found 'x' expected: '('"
        );
        assert_eq!(e("a=b c"), "found 'c', expected: ',' or 'end of string'");
        assert_eq!(e("!a=b"), "found '=', expected: ',' or 'end of string'");
        assert_eq!(
            e("a@b=c"),
            "unable to parse requirement: <nil>: Invalid value: \"a@b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert_eq!(
            e("a=b@c"),
            "unable to parse requirement: values[0][a]: Invalid value: \"b@c\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
        assert_eq!(e("a>x"), "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer");
        assert_eq!(
            e("a=(b)"),
            "unable to parse requirement: found '(', expected: identifier"
        );
        assert!(LabelSelector::parse("a in ()").is_ok());
        assert!(LabelSelector::parse("a in (,b)").is_ok());
        assert_eq!(
            e("a in (b,"),
            "unable to parse requirement: found '', expected: ',', or identifier"
        );
    }

    #[test]
    fn from_metav1() {
        let s = LabelSelector::from_label_selector(Some(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "old", "operator": "DoesNotExist"}
            ]
        })))
        .unwrap();
        assert!(s.matches(&labels(json!({"app": "web", "tier": "a"}))));
        assert!(!s.matches(&labels(json!({"app": "web", "tier": "a", "old": "1"}))));
        assert!(LabelSelector::from_label_selector(None)
            .unwrap()
            .matches_nothing());
        assert!(!LabelSelector::from_label_selector(None)
            .unwrap()
            .matches(&Map::new()));
        assert!(LabelSelector::from_label_selector(Some(&json!({})))
            .unwrap()
            .is_empty());
        let e = LabelSelector::from_label_selector(Some(&json!({
            "matchExpressions": [{"key": "a", "operator": "Foo"}]
        })))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"Foo\" is not a valid label selector operator"
        );
        let e = LabelSelector::from_label_selector(Some(&json!({
            "matchExpressions": [{"key": "a", "operator": "In", "values": []}]
        })))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        );
        let e = LabelSelector::from_label_selector(Some(&json!({
            "matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]
        })))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"
        );
    }
}

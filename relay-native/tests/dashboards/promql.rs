//! The metric names a PromQL expression reads: a small lexer, enough for the dashboard's
//! and the rules' expressions. Strings, label matchers, range selectors and grouping label
//! lists are skipped; a name followed by `(` is a function or an aggregation; what is left
//! that is not a keyword is a metric name.

use std::collections::BTreeSet;

/// Binary-operator keywords and modifiers: never metric names.
const KEYWORDS: [&str; 10] = [
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end",
];

/// Modifiers followed by a list of label names in parentheses.
const GROUPING: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Aggregation operators, which may take their grouping before their argument.
const AGGREGATIONS: [&str; 12] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

/// Every metric name `expr` selects. Errors: an unterminated string or bracket, a Grafana
/// variable left in, or a `__name__` matcher (which hides the name from this check).
pub fn metric_names(expr: &str) -> Result<BTreeSet<String>, String> {
    let c: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while let Some(&ch) = c.get(i) {
        match ch {
            '"' | '\'' | '`' => i = skip_string(&c, i)?,
            '{' => {
                let end = skip_to(&c, i, '}')?;
                let inside: String = c.get(i..end).unwrap_or_default().iter().collect();
                if inside.contains("__name__") {
                    return Err(format!("a __name__ matcher in {expr}"));
                }
                i = end;
            }
            '[' => i = skip_to(&c, i, ']')?,
            '#' => {
                while c.get(i).is_some_and(|&x| x != '\n') {
                    i += 1;
                }
            }
            '$' => return Err(format!("a variable is left in {expr}")),
            _ if ch.is_ascii_digit()
                || (ch == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                while c
                    .get(i)
                    .is_some_and(|x| x.is_ascii_alphanumeric() || *x == '.')
                {
                    i += 1;
                }
            }
            _ if ch.is_ascii_alphabetic() || ch == '_' || ch == ':' => {
                let start = i;
                while c
                    .get(i)
                    .is_some_and(|x| x.is_ascii_alphanumeric() || *x == '_' || *x == ':')
                {
                    i += 1;
                }
                let word: String = c.get(start..i).unwrap_or_default().iter().collect();
                let mut next = i;
                while c.get(next).is_some_and(|x| x.is_whitespace()) {
                    next += 1;
                }
                let rest: String = c.get(next..).unwrap_or_default().iter().collect();
                let grouped = AGGREGATIONS.contains(&word.as_str())
                    && (rest.starts_with("by") || rest.starts_with("without"));
                let call = c.get(next) == Some(&'(') || grouped;
                if GROUPING.contains(&word.as_str()) {
                    if call {
                        i = skip_to(&c, next, ')')?;
                    }
                } else if !call && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    Ok(names)
}

/// From an opening quote at `i`: the index after its closing quote.
fn skip_string(c: &[char], i: usize) -> Result<usize, String> {
    let quote = c.get(i).copied().unwrap_or('"');
    let mut j = i + 1;
    while let Some(&x) = c.get(j) {
        if x == '\\' && quote != '`' {
            j += 2;
            continue;
        }
        if x == quote {
            return Ok(j + 1);
        }
        j += 1;
    }
    Err(format!("unterminated string from {i}"))
}

/// From an opening bracket at `i`: the index after `close`, strings inside skipped.
fn skip_to(c: &[char], i: usize, close: char) -> Result<usize, String> {
    let mut j = i + 1;
    while let Some(&x) = c.get(j) {
        match x {
            '"' | '\'' | '`' => j = skip_string(c, j)?,
            '$' => return Err("a variable is left in".into()),
            _ if x == close => return Ok(j + 1),
            _ => j += 1,
        }
    }
    Err(format!("no {close} after {i}"))
}

#[test]
fn names_are_found_and_the_rest_is_skipped() {
    let names = |e: &str| metric_names(e).unwrap().into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"sum by (reason, code) (rate(a_total{x="b(c) d_total", y=~'e}'}[5m])) > on (job) group_left (f) 0.9 * g:rec and bool h offset 5m"#
        ),
        ["a_total", "g:rec", "h"]
    );
    assert_eq!(
        names("(x - time()) / 86400 > 1e3 or sum(y) without (inst) unless up"),
        ["up", "x", "y"]
    );
    assert_eq!(
        names("histogram_quantile(0.9, sum by (le) (rate(l_bucket[1m])))"),
        ["l_bucket"]
    );
    assert!(metric_names(r#"x{a="b}"#).is_err(), "unterminated");
    assert!(
        metric_names("rate(x[$__rate_interval])").is_err(),
        "variable"
    );
    assert!(metric_names(r#"{__name__="x"}"#).is_err(), "hidden name");
}

//! Provisional name checks (to be replaced by the full module).
fn check(s: &str, max: usize, label: bool) -> Vec<String> {
    let ok = !s.is_empty()
        && s.len() <= max
        && s.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (!label && c == '.')
        })
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        vec![]
    } else {
        vec![format!("a lowercase RFC 1123 {} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", if label {"label"} else {"subdomain"})]
    }
}
pub fn is_dns1123_label(s: &str) -> Vec<String> {
    check(s, 63, true)
}
pub fn is_dns1123_subdomain(s: &str) -> Vec<String> {
    check(s, 253, false)
}
pub fn is_dns1035_label(s: &str) -> Vec<String> {
    check(s, 63, true)
}
pub fn is_qualified_name(s: &str) -> Vec<String> {
    if s.is_empty() {
        vec!["name part must be non-empty".into()]
    } else {
        vec![]
    }
}
pub fn is_valid_label_value(_s: &str) -> Vec<String> {
    vec![]
}

//! `application/x-www-form-urlencoded` bodies (the WHATWG URL standard's
//! form encoding; HTML forms POST it): `name=value` pairs joined by `&`,
//! `+` for a space and `%XX` escapes. A pure function over the body the
//! HTTP session already bounded (`http::MAX_BODY`), with its own cap on
//! the number of fields.

/// Most fields read from one form; the pages send at most a dozen.
pub const MAX_FIELDS: usize = 32;

/// The fields of a form body, decoded, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Parses `body`; `None` when it is not a form (a bad escape, bytes
    /// that are not UTF-8, or more than [`MAX_FIELDS`] fields).
    pub fn parse(body: &[u8]) -> Option<Form> {
        let text = std::str::from_utf8(body).ok()?;
        let mut fields = Vec::new();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            if fields.len() == MAX_FIELDS {
                return None;
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            fields.push((
                crate::http::percent_decode(name, true)?,
                crate::http::percent_decode(value, true)?,
            ));
        }
        Some(Form(fields))
    }

    /// The first value of `name`, or "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The value of `name` trimmed.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).trim()
    }

    /// Whether a checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_decoded() {
        let f = Form::parse(b"user=a%40b.example&pw=x+y%2B&empty=&flag").unwrap();
        assert_eq!(f.get("user"), "a@b.example");
        assert_eq!(f.get("pw"), "x y+");
        assert_eq!(f.get("empty"), "");
        assert!(f.checked("pw") && !f.checked("flag") && !f.checked("none"));
    }

    #[test]
    fn bad_forms_refused() {
        assert!(Form::parse(b"a=%zz").is_none());
        assert!(Form::parse(b"a=%ff").is_none());
        let many = "a=1&".repeat(MAX_FIELDS + 1);
        assert!(Form::parse(many.as_bytes()).is_none());
        assert_eq!(Form::parse(b"").unwrap(), Form::default());
    }
}

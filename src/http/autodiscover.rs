//! Outlook's POX autodiscover ("Autodiscover for Exchange", the
//! `outlook/requestschema/2006` request and `responseschema/2006a`
//! answer) for IMAP, POP3 and SMTP accounts: Outlook POSTs the address to
//! `/autodiscover/autodiscover.xml` on the domain or on
//! `autodiscover.DOMAIN` and gets the servers back.
//!
//! The request body is bounded by the HTTP layer (`MAX_BODY`); only the
//! `EMailAddress` element's text is taken from it, by a plain search: no
//! XML parser, so no DTD, no entity expansion and no depth to bound.

use super::autoconfig::{Endpoints, Security, xml_escape};

const RESPONSE_NS: &str = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
const OUTLOOK_NS: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// The text of the request's `EMailAddress` element (any namespace
/// prefix), with XML's predefined entities decoded.
pub fn email_address(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let mut rest = text;
    while let Some(i) = rest.find("EMailAddress") {
        let before = rest[..i].chars().next_back();
        let after = &rest[i + "EMailAddress".len()..];
        rest = after;
        // A start tag: `<EMailAddress>` or `<p:EMailAddress>`.
        if matches!(before, Some('<' | ':')) && after.starts_with('>') {
            let value = &after[1..];
            let end = value.find('<')?;
            return unescape(value[..end].trim());
        }
    }
    None
}

/// XML's five predefined entities (XML 1.0 §4.6); any other `&` is refused.
fn unescape(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let (entity, tail) = rest[i + 1..].split_once(';')?;
        out.push(match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => return None,
        });
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

/// The POX answer for `address`: one `Protocol` per enabled endpoint.
pub fn response(address: &str, endpoints: &Endpoints) -> String {
    let login = xml_escape(address);
    let host = xml_escape(&endpoints.hostname);
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Autodiscover xmlns=\"{RESPONSE_NS}\">\n\
         \x20 <Response xmlns=\"{OUTLOOK_NS}\">\n\
         \x20   <Account>\n\
         \x20     <AccountType>email</AccountType>\n\
         \x20     <Action>settings</Action>\n"
    );
    for e in endpoints.incoming.iter().chain(&endpoints.outgoing) {
        let encryption = match e.security {
            Security::Implicit => "SSL",
            Security::StartTls => "TLS",
        };
        xml.push_str(&format!(
            "      <Protocol>\n\
             \x20       <Type>{}</Type>\n\
             \x20       <Server>{host}</Server>\n\
             \x20       <Port>{}</Port>\n\
             \x20       <LoginName>{login}</LoginName>\n\
             \x20       <DomainRequired>off</DomainRequired>\n\
             \x20       <SPA>off</SPA>\n\
             \x20       <SSL>on</SSL>\n\
             \x20       <Encryption>{encryption}</Encryption>\n\
             \x20       <AuthRequired>on</AuthRequired>\n\
             \x20     </Protocol>\n",
            e.protocol.to_ascii_uppercase(),
            e.port
        ));
    }
    xml.push_str("    </Account>\n  </Response>\n</Autodiscover>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_address_from_the_request() {
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>al&amp;ice@example.org</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#;
        assert_eq!(email_address(body).as_deref(), Some("al&ice@example.org"));
        let prefixed = b"<a:Request><a:EMailAddress> bob@example.org </a:EMailAddress></a:Request>";
        assert_eq!(email_address(prefixed).as_deref(), Some("bob@example.org"));
        assert_eq!(email_address(b"<EMailAddress>x&ent;</EMailAddress>"), None);
        assert_eq!(email_address(b"<EMailAddress>unterminated"), None);
        assert_eq!(email_address(b"no such element"), None);
    }
}

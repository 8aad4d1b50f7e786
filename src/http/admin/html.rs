//! The pages' HTML: every value written through [`esc`] (HTML-escaped,
//! so a user name or a remote server's error text cannot become markup),
//! one layout with the navigation, and the style sheet, inline (one
//! request per page; no script at all: every change is a form POST).

use std::fmt::Write as _;

/// The style sheet, in every page (about 1 KB).
const CSS: &str = "body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#f6f6f4}\
header{background:#234;color:#fff;padding:.5em 1em}header a{color:#cde;margin-right:1em}\
main{padding:1em;max-width:60em}h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}\
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
form.row{display:inline}input,select,button{font:inherit;margin:.15em}\
input[type=text],input[type=password]{width:14em}textarea{width:100%;height:5em}\
fieldset{background:#fff;border:1px solid #ccc;margin:.8em 0}\
pre{background:#fff;border:1px solid #ccc;padding:.5em;overflow:auto;white-space:pre-wrap}\
.flash{background:#dfd;border:1px solid #8b8;padding:.5em}.error{background:#fdd;border-color:#b88}\
.bar{display:inline-block;width:8em;height:.7em;background:#ddd}.bar i{display:block;height:100%;background:#58a}";

/// Writes `text` HTML-escaped (element content and quoted attribute values).
pub fn esc(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `text` escaped, as a new string (for `format!` arguments).
pub fn e(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    esc(&mut out, text);
    out
}

/// The navigation: (path, label); the operator sees all, a mail user only
/// their own page.
const ADMIN_NAV: &[(&str, &str)] = &[
    ("/admin", "Status"),
    ("/admin/users", "Users"),
    ("/admin/domains", "Domains & aliases"),
    ("/admin/fetch", "Fetch"),
    ("/admin/queue", "Queue"),
    ("/admin/dns", "DKIM & DNS"),
    ("/admin/certs", "Certificates"),
    ("/admin/backup", "Backup"),
    ("/admin/me", "Password"),
];
const USER_NAV: &[(&str, &str)] = &[("/admin/me", "My account")];

/// Who the page is for: picks the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    None,
    Admin,
    User,
}

/// A whole page: head, navigation, the flash line of the last change, then
/// what `body` writes; `csrf` goes into the log-out form.
pub fn page(
    title: &str,
    nav: Nav,
    csrf: &str,
    flash: Option<&str>,
    body: impl FnOnce(&mut String),
) -> Vec<u8> {
    let mut out = String::with_capacity(8 << 10);
    out.push_str("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>");
    out.push_str("<meta name=viewport content=\"width=device-width,initial-scale=1\"><title>");
    esc(&mut out, title);
    let _ = write!(
        out,
        " · smolmail</title><style>{CSS}</style></head><body><header>"
    );
    let links = match nav {
        Nav::None => &[][..],
        Nav::Admin => ADMIN_NAV,
        Nav::User => USER_NAV,
    };
    out.push_str("<b>smolmail</b> ");
    for (path, label) in links {
        let _ = write!(out, "<a href=\"{path}\">{label}</a>");
    }
    if nav != Nav::None {
        form_open(&mut out, "/admin/logout", csrf, "row");
        out.push_str("<button>Log out</button></form>");
    }
    out.push_str("</header><main><h1>");
    esc(&mut out, title);
    out.push_str("</h1>");
    if let Some(text) = flash {
        let class = if text.starts_with("error") {
            "flash error"
        } else {
            "flash"
        };
        let _ = write!(out, "<p class=\"{class}\" id=flash>");
        esc(&mut out, text);
        out.push_str("</p>");
    }
    body(&mut out);
    out.push_str("</main></body></html>");
    out.into_bytes()
}

/// `<form method=post action=PATH>` with the session's CSRF token.
pub fn form_open(out: &mut String, action: &str, csrf: &str, class: &str) {
    let _ = write!(
        out,
        "<form method=post action=\"{}\" class=\"{class}\"><input type=hidden name=csrf value=\"{}\">",
        e(action),
        e(csrf)
    );
}

/// A one-button form posting `op` (and a hidden `key` = `value`).
pub fn button(
    out: &mut String,
    action: &str,
    csrf: &str,
    op: &str,
    hidden: &[(&str, &str)],
    label: &str,
) {
    form_open(out, action, csrf, "row");
    let _ = write!(out, "<input type=hidden name=op value=\"{}\">", e(op));
    for (name, value) in hidden {
        let _ = write!(
            out,
            "<input type=hidden name=\"{}\" value=\"{}\">",
            e(name),
            e(value)
        );
    }
    let _ = write!(out, "<button>{}</button></form>", e(label));
}

/// A labelled text input.
pub fn input(out: &mut String, label: &str, name: &str, kind: &str, placeholder: &str) {
    let _ = write!(
        out,
        "<label>{} <input type={kind} name=\"{}\" placeholder=\"{}\"></label> ",
        e(label),
        e(name),
        e(placeholder)
    );
}

/// A preformatted block of escaped text (the CLI's own output).
pub fn pre(out: &mut String, text: &str) {
    out.push_str("<pre>");
    esc(out, text);
    out.push_str("</pre>");
}

/// A usage bar and its figures: `9.8K of 10M (1%)`.
pub fn usage(out: &mut String, used: u64, quota: u64) {
    let size = crate::admin::show_size;
    match quota {
        0 => {
            let _ = write!(out, "{} (no quota)", size(used));
        }
        q => {
            let pct = used.saturating_mul(100) / q;
            let _ = write!(
                out,
                "<span class=bar><i style=\"width:{}%\"></i></span> {} of {} ({pct}%)",
                pct.min(100),
                size(used),
                size(q)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        assert_eq!(
            e("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        let html = String::from_utf8(page("<t>", Nav::Admin, "c\"", Some("<i>"), |o| {
            esc(o, "<script>")
        }))
        .unwrap();
        assert!(!html.contains("<script>") && !html.contains("<i>") && !html.contains("<t>"));
        assert!(html.contains("&lt;i&gt;") && html.contains("&lt;script&gt;"));
        assert!(html.contains("value=\"c&quot;\""));
    }
}

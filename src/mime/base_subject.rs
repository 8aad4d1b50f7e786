//! The base subject of RFC 5256 §2.1, which SORT SUBJECT orders by and
//! THREAD groups by: the subject with reply and forward markers ("Re:",
//! "Fwd:", "[fwd: ...]", "(fwd)") and leading "[list]" tags taken off,
//! whitespace collapsed. The caller has already decoded RFC 2047 words.
//!
//! Whether anything marking a reply or forward was removed is kept too:
//! THREAD=REFERENCES §4 step 5 treats such a message as a follow-up.

/// The base subject and whether the subject marked a reply or forward.
pub fn base_subject(decoded: &str) -> (String, bool) {
    // Step 1: tabs and line breaks are spaces, runs of spaces one space.
    let mut s = String::with_capacity(decoded.len());
    for c in decoded.chars() {
        let c = if c == '\t' || c == '\r' || c == '\n' {
            ' '
        } else {
            c
        };
        if c == ' ' && s.ends_with(' ') {
            continue;
        }
        s.push(c);
    }
    let mut s = s.as_str();
    let mut reply = false;
    loop {
        // Step 2: trailing "(fwd)" and whitespace, repeatedly.
        loop {
            let t = s.trim_end_matches(' ');
            if let Some(head) = strip_suffix_ci(t, "(fwd)") {
                reply = true;
                s = head;
            } else {
                s = t;
                break;
            }
        }
        // Steps 3 to 5: leaders and blobs until neither matches. Every
        // leading blob goes in one pass (each but a last one standing
        // alone): when strip_leaders found no refwd after the blob chain,
        // none follows any suffix of it either, and rechecking it after
        // each single blob made `[][][]...x` quadratic.
        loop {
            let before = s.len();
            s = strip_leaders(s, &mut reply);
            while let Some(rest) = strip_blob(s)
                && !rest.is_empty()
            {
                s = rest;
            }
            if s.len() == before {
                break;
            }
        }
        // Step 6: "[fwd: ...]" wraps a forwarded subject; unwrap, redo.
        if s.len() >= 6
            && s.is_char_boundary(5)
            && s[..5].eq_ignore_ascii_case("[fwd:")
            && s.ends_with(']')
        {
            reply = true;
            s = &s[5..s.len() - 1];
            continue;
        }
        return (s.to_string(), reply);
    }
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    (s.is_char_boundary(cut) && s[cut..].eq_ignore_ascii_case(suffix)).then(|| &s[..cut])
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP`: the text after it, if one opens `s`.
fn strip_blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find([']', '['])?;
    if rest.as_bytes()[end] != b']' {
        return None;
    }
    Some(rest[end + 1..].trim_start_matches(' '))
}

/// Step 3: every `subj-leader = (*subj-blob subj-refwd) / WSP` at the start.
fn strip_leaders<'a>(mut s: &'a str, reply: &mut bool) -> &'a str {
    loop {
        if let Some(rest) = s.strip_prefix(' ') {
            s = rest;
            continue;
        }
        match refwd_after_blobs(s) {
            Some(rest) => {
                *reply = true;
                s = rest;
            }
            None => return s,
        }
    }
}

/// `*subj-blob subj-refwd`, `subj-refwd = ("re" / ("fw" ["d"])) *WSP
/// [subj-blob] ":"`: the text after it, if it opens `s`.
fn refwd_after_blobs(s: &str) -> Option<&str> {
    let mut t = s;
    loop {
        if let Some(rest) = refwd(t) {
            return Some(rest);
        }
        t = strip_blob(t)?;
    }
}

fn refwd(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let word = if b.len() >= 3 && b[..3].eq_ignore_ascii_case(b"fwd") {
        3
    } else if b.len() >= 2
        && (b[..2].eq_ignore_ascii_case(b"fw") || b[..2].eq_ignore_ascii_case(b"re"))
    {
        2
    } else {
        return None;
    };
    let mut t = s[word..].trim_start_matches(' ');
    if let Some(rest) = t.strip_prefix(':') {
        return Some(rest);
    }
    t = strip_blob(t)?;
    t.strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::base_subject;

    fn base(s: &str) -> String {
        base_subject(s).0
    }

    #[test]
    fn rfc5256_2_1_reply_and_forward_markers_are_removed() {
        assert_eq!(base_subject("Re: hello"), ("hello".into(), true));
        assert_eq!(base_subject("hello"), ("hello".into(), false));
        assert_eq!(base("RE: Re: re: hello"), "hello");
        assert_eq!(base("Fwd: Fw: hello (fwd)"), "hello");
        assert_eq!(base("Re [2]: hello"), "hello");
        assert_eq!(base("[list] Re: hello"), "hello");
        assert_eq!(base("Re: [list] hello"), "hello");
        assert_eq!(base("[Fwd: Re: hello]"), "hello");
        assert!(base_subject("[fwd: hello]").1);
        assert_eq!(base("  hello \t  world  "), "hello world");
        assert_eq!(base("hello (fwd) (FWD)"), "hello");
        assert_eq!(base("Re:"), "");
        assert_eq!(base(""), "");
    }

    #[test]
    fn rfc5256_2_1_step_4_keeps_a_blob_that_is_the_whole_subject() {
        assert_eq!(base_subject("[list]"), ("[list]".into(), false));
        assert_eq!(base("[a][b] x"), "x");
        assert_eq!(base("Re: [list]"), "[list]");
        // Not a reply marker: the word is not followed by ':'.
        assert_eq!(base_subject("Reply all"), ("Reply all".into(), false));
        assert_eq!(base("[unclosed hello"), "[unclosed hello");
    }

    #[test]
    fn non_ascii_subjects_do_not_panic() {
        assert_eq!(base("Re: Grüße (fwd)"), "Grüße");
        assert_eq!(base("[fwdé]"), "[fwdé]");
        assert_eq!(base("ré: x"), "ré: x");
    }

    #[test]
    fn many_blobs_are_stripped_in_linear_time() {
        let subject = "[]".repeat(32 * 1024) + "x";
        let started = std::time::Instant::now();
        assert_eq!(base(&subject), "x");
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(2), "{took:?}");
        assert_eq!(base("[a] [b]"), "[b]");
        assert_eq!(base("[a][b] Re: [c] x"), "x");
    }
}

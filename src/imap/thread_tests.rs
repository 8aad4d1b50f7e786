//! Tests of `thread_algo` against the rules of RFC 5256 §4 and §5.

use super::thread_algo::{self, Msgs};

/// A message as a test writes it.
struct Spec {
    n: u32,
    sent: i64,
    reply: bool,
    subject: String,
    id: Option<String>,
    refs: Vec<String>,
}

fn msg(n: u32, sent: i64, subject: &str, id: &str, refs: &[&str]) -> Spec {
    let (base, reply) = crate::mime::base_subject(subject);
    Spec {
        n,
        sent,
        reply,
        subject: base.to_uppercase(),
        id: (!id.is_empty()).then(|| id.to_string()),
        refs: refs.iter().map(|r| r.to_string()).collect(),
    }
}

fn all(specs: &[Spec]) -> Msgs {
    let mut msgs = Msgs::with_capacity(specs.len());
    for m in specs {
        msgs.push(
            m.n,
            m.n,
            m.sent,
            m.reply,
            m.subject.as_bytes(),
            m.id.as_deref().map(str::as_bytes),
            m.refs.iter(),
        );
    }
    msgs
}

fn references(specs: &[Spec], refs: bool) -> String {
    thread_algo::references(&all(specs), refs)
}

fn ordered_subject(specs: &[Spec]) -> String {
    thread_algo::ordered_subject(&all(specs))
}

#[test]
fn rfc5256_4_references_links_replies_into_one_thread() {
    let m = [
        msg(1, 10, "a", "a", &[]),
        msg(2, 20, "Re: a", "b", &["a"]),
        msg(3, 30, "Re: a", "c", &["a", "b"]),
        msg(4, 40, "other", "d", &[]),
        msg(5, 25, "Re: a", "e", &["a"]),
    ];
    assert_eq!(references(&m, false), "(1 (2 3)(5))(4)");
}

#[test]
fn rfc5256_4_step_3_dummies_are_pruned_or_kept_for_siblings() {
    // The common parent was never seen: a dummy root holds both.
    let two = [
        msg(1, 10, "x", "a", &["gone"]),
        msg(2, 20, "y", "b", &["gone"]),
    ];
    assert_eq!(references(&two, false), "((1)(2))");
    // A single child of a missing parent is promoted to the root.
    let one = [msg(1, 10, "x", "a", &["gone"]), msg(2, 5, "y", "b", &[])];
    assert_eq!(references(&one, false), "(2)(1)");
    // Below the root a dummy always gives way to its children.
    let deep = [
        msg(1, 10, "x", "a", &[]),
        msg(2, 20, "x", "b", &["a", "gone"]),
        msg(3, 30, "x", "c", &["a", "gone"]),
    ];
    assert_eq!(references(&deep, false), "(1 (2)(3))");
}

#[test]
fn rfc5256_4_step_5_roots_with_one_base_subject_are_gathered() {
    // A reply joins the original under it.
    let reply = [
        msg(1, 10, "hello", "a", &[]),
        msg(2, 20, "Re: hello", "b", &[]),
    ];
    assert_eq!(references(&reply, false), "(1 2)");
    // Two originals share a new dummy.
    let twins = [msg(1, 10, "hello", "a", &[]), msg(2, 20, "hello", "b", &[])];
    assert_eq!(references(&twins, false), "((1)(2))");
    // An empty subject gathers nothing.
    let empty = [msg(1, 10, "", "a", &[]), msg(2, 20, "", "b", &[])];
    assert_eq!(references(&empty, false), "(1)(2)");
    // REFS does not look at subjects.
    assert_eq!(references(&reply, true), "(1)(2)");
}

#[test]
fn rfc5256_4_step_1_loops_and_duplicate_ids_are_not_followed() {
    let m = [
        msg(1, 10, "x", "a", &["b"]),
        msg(2, 20, "y", "b", &["a"]),
        msg(3, 30, "z", "a", &[]),
        msg(4, 40, "w", "c", &["c"]),
    ];
    let out = references(&m, false);
    for n in ["1", "2", "3", "4"] {
        assert!(out.contains(n), "{out}");
    }
}

#[test]
fn refs_orders_threads_by_their_latest_message() {
    let m = [
        msg(1, 10, "a", "a", &[]),
        msg(2, 20, "b", "b", &[]),
        msg(3, 30, "Re: a", "c", &["a"]),
    ];
    assert_eq!(references(&m, true), "(2)(1 3)");
    assert_eq!(references(&m, false), "(1 3)(2)");
}

#[test]
fn rfc5256_4_orderedsubject_groups_by_base_subject() {
    let m = [
        msg(1, 10, "A", "", &[]),
        msg(2, 20, "B", "", &[]),
        msg(3, 30, "Re: A", "", &[]),
        msg(4, 5, "Fwd: a", "", &[]),
        msg(5, 50, "B", "", &[]),
    ];
    assert_eq!(ordered_subject(&m), "(4 (1)(3))(2 5)");
    assert_eq!(ordered_subject(&[]), "");
}

#[test]
fn a_reply_chain_of_50000_does_not_recurse() {
    let mut m = vec![msg(1, 0, "x", "m1", &[])];
    for i in 2..=50_000u32 {
        let parent = format!("m{}", i - 1);
        m.push(msg(i, i as i64, "Re: x", &format!("m{i}"), &[&parent]));
    }
    let out = references(&m, false);
    assert!(
        out.starts_with("(1 2 3 ") && out.ends_with(" 50000)"),
        "{}",
        &out[out.len() - 40..]
    );
}

/// Crafted to hit the quadratic corners: 20 000 messages first named as
/// references under one parent (20 000 children), each then moved away
/// by its own message (a scan of the parent's children per move); 10 000
/// pairs of roots each with its own subject (a scan of every root per
/// subject in §4 step 5); and 5 000 links of subtrees under the bottom of
/// a 4000-deep chain (a 4000-step loop check each). Finishes in a debug
/// build well inside the limit, with the threads right.
#[test]
fn crafted_mailbox_threads_in_linear_time() {
    let started = std::time::Instant::now();
    let mut m = Vec::new();
    let mut n = 0u32;
    let mut next = |m: &mut Vec<Spec>, subject: &str, id: &str, refs: Vec<String>| {
        n += 1;
        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
        m.push(msg(n, i64::from(n), subject, id, &refs));
    };
    let wide = 20_000;
    let refs: Vec<String> = (0..wide).map(|i| format!("w{i}")).collect();
    for (i, r) in refs.iter().enumerate() {
        next(
            &mut m,
            "wide",
            &format!("x{i}"),
            vec!["hub".into(), r.clone()],
        );
    }
    for (i, r) in refs.iter().enumerate() {
        next(&mut m, "wide", r, vec![format!("elsewhere{}", i % 7)]);
    }
    for i in 0..10_000 {
        next(&mut m, &format!("pair {i}"), &format!("p{i}a"), Vec::new());
        next(&mut m, &format!("pair {i}"), &format!("p{i}b"), Vec::new());
    }
    let deep: Vec<String> = (0..4000).map(|i| format!("d{i}")).collect();
    next(&mut m, "deep", "deep-leaf", deep.clone());
    for i in 0..5000 {
        next(
            &mut m,
            "sub",
            &format!("s{i}c"),
            vec![format!("s{i}"), format!("s{i}b")],
        );
        next(
            &mut m,
            "sub",
            &format!("s{i}d"),
            vec!["d3999".into(), format!("s{i}")],
        );
    }
    let out = references(&m, false);
    let refs_out = references(&m, true);
    let subjects = ordered_subject(&m);
    // 45 s in a debug build before the corners were removed, 2.7 s after.
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(12), "{took:?}");
    // Every pair of same-subject roots shares a dummy parent.
    assert!(out.contains("((40001)(40002))"), "pairs not grouped");
    assert!(refs_out.contains("(40001)"));
    assert!(subjects.contains("(40001 40002)"));
}

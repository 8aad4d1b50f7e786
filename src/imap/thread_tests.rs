//! Tests of `thread_algo` against the rules of RFC 5256 §4 and §5.

use super::thread_algo::{Msg, ordered_subject, references};

fn msg(n: u32, sent: i64, subject: &str, id: &str, refs: &[&str]) -> Msg {
    let (base, reply) = crate::mime::base_subject(subject);
    Msg {
        n,
        seq: n,
        sent,
        subject: base.to_uppercase(),
        reply,
        message_id: (!id.is_empty()).then(|| id.to_string()),
        references: refs.iter().map(|r| r.to_string()).collect(),
    }
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
        let mut k = msg(i, i as i64, "Re: x", &format!("m{i}"), &[]);
        k.references = vec![parent];
        m.push(k);
    }
    let out = references(&m, false);
    assert!(
        out.starts_with("(1 2 3 ") && out.ends_with(" 50000)"),
        "{}",
        &out[out.len() - 40..]
    );
}

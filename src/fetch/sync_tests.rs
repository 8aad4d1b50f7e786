//! Tests of a fetch run's planning: batches, the budget and the quota.

use super::*;

#[test]
fn uidnext_decides_whether_to_look() {
    let s = |exists, uidnext| Selected {
        uidvalidity: 1,
        uidnext,
        exists,
    };
    assert!(nothing_new(&s(0, None), 0));
    assert!(nothing_new(&s(5, Some(6)), 5));
    assert!(!nothing_new(&s(5, Some(7)), 5));
    assert!(!nothing_new(&s(5, None), 5));
}

fn pull(last: u32, uidnext: Option<u32>) -> Pull<'static> {
    Pull {
        account_id: 1,
        index: 0,
        remote: "INBOX",
        mailbox_id: 2,
        room: u64::MAX,
        selected: Selected {
            uidvalidity: 1,
            uidnext,
            exists: 9,
        },
        last,
        resync_below: 0,
        changed: false,
    }
}

fn listed(uid: u32, size: u32) -> Listed {
    Listed {
        uid,
        size,
        identity: None,
    }
}

#[test]
fn batches_skip_seen_and_large_messages() {
    let all = [listed(3, 10), listed(4, 10), listed(5, 5000), listed(6, 10)];
    let seen = HashSet::from([4]);
    let (mut budget, mut totals) = (100, Totals::default());
    let (batches, todo) = plan(
        &pull(2, Some(9)),
        "t",
        &all,
        &seen,
        1000,
        &mut budget,
        &mut totals,
    );
    // UIDNEXT 9: everything through 8 is accounted for. Memory: both
    // messages, and the larger once more while it is read.
    assert_eq!(batches, vec![(vec![3, 6], 8, 30)]);
    assert_eq!((todo, budget, totals.too_large), (2, 98, 1));
    assert!(!totals.capped);
}

#[test]
fn batches_split_by_count_and_stop_at_the_budget() {
    let all: Vec<Listed> = (1..=BATCH_MESSAGES as u32 + 3)
        .map(|u| listed(u, 1))
        .collect();
    let (mut budget, mut totals) = (BATCH_MESSAGES as u32 + 1, Totals::default());
    let (batches, todo) = plan(
        &pull(0, Some(1000)),
        "t",
        &all,
        &HashSet::new(),
        1000,
        &mut budget,
        &mut totals,
    );
    assert_eq!(todo, BATCH_MESSAGES + 1);
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0].0.len(), BATCH_MESSAGES);
    let last = BATCH_MESSAGES as u32 + 1;
    // Capped: the last batch accounts only for what it took.
    assert_eq!(batches[1], (vec![last], last, 2));
    assert!(totals.capped);
}

/// The first message past the quota stops the list and the mark:
/// it and everything after it are fetched by a later run.
#[test]
fn the_quota_stops_the_list_before_the_first_message_past_it() {
    let all = [
        listed(3, 400),
        listed(4, 500),
        listed(5, 200),
        listed(6, 10),
    ];
    let mut p = pull(2, Some(9));
    p.room = 1000;
    let (mut budget, mut totals) = (100, Totals::default());
    let (batches, todo) = plan(
        &p,
        "t",
        &all,
        &HashSet::new(),
        1000,
        &mut budget,
        &mut totals,
    );
    // 400 + 500 fit; 200 more would not: UID 5 is the mark's limit.
    // (the batch reserves its bytes and its largest message once more)
    assert_eq!(batches, vec![(vec![3, 4], 4, 1400)]);
    assert_eq!(todo, 2);
    assert!(totals.over_quota && !totals.capped);
    // No room at all: nothing taken, the mark stays where it was.
    p.room = 0;
    let mut totals = Totals::default();
    let (batches, _) = plan(
        &p,
        "t",
        &all,
        &HashSet::new(),
        1000,
        &mut budget,
        &mut totals,
    );
    assert!(batches.is_empty(), "{batches:?}");
    assert!(totals.over_quota);
}

#[test]
fn nothing_to_fetch_still_moves_the_mark() {
    let (mut budget, mut totals) = (10, Totals::default());
    let (batches, todo) = plan(
        &pull(5, Some(8)),
        "t",
        &[],
        &HashSet::new(),
        1000,
        &mut budget,
        &mut totals,
    );
    assert_eq!((batches, todo), (vec![(vec![], 7, 0)], 0));
}

//! The writer's batching, deadline and error classification.

use super::*;
use crate::store::health::{Health, NEARLY_FULL, disk_full_or, free_bytes};
use crate::store::{Options, Store};

fn job(op: WriteOp) -> (Job, Receiver<Result<Outcome, StoreError>>) {
    let (reply, answer) = smol::channel::bounded(1);
    let start_by = Instant::now() + DEFAULT_DEADLINE;
    (
        Job {
            op,
            reply,
            start_by,
        },
        answer,
    )
}

fn deliver(len: usize) -> WriteOp {
    let delivery = Delivery::new(vec![b'x'; len], 0, vec![1], None);
    WriteOp::Deliver(Summarized {
        delivery,
        summary: Vec::new(),
        sort_keys: Vec::new(),
    })
}

#[test]
fn batches_are_bounded_by_bytes() {
    let (jobs, queue) = smol::channel::unbounded();
    let mut answers = Vec::new();
    for _ in 0..5 {
        let (j, a) = job(deliver(400));
        jobs.try_send(j).unwrap();
        answers.push(a);
    }
    let mut batch = Vec::new();
    let first = queue.try_recv().unwrap();
    // 1000 bytes: two messages of 400 fit, the third starts the next.
    let next = take_batch(first, &queue, &mut batch, 1000);
    assert_eq!(batch.len(), 2);
    assert_eq!(next.map(|j| j.op.bytes()), Some(400));
    batch.clear();
    // A request larger than the bound still goes, alone.
    let (big, _a) = job(deliver(5000));
    let next = take_batch(big, &queue, &mut batch, 1000);
    assert_eq!(batch.len(), 1);
    assert!(next.is_none());
    assert_eq!(
        queue.len(),
        2,
        "the waiting requests wait for the next batch"
    );
    // Requests without message bytes are counted by number only.
    batch.clear();
    let (first, _b) = job(WriteOp::AddDomain("a.example".into()));
    let (other, _c) = job(WriteOp::AddDomain("b.example".into()));
    jobs.try_send(other).unwrap();
    let _ = take_batch(first, &queue, &mut batch, 0);
    assert_eq!(batch.len(), 1, "max_bytes 0 still takes one");
}

fn temp_store(name: &str) -> (std::path::PathBuf, Store) {
    let dir = std::env::temp_dir().join(format!("smolmail-writer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir, &Options { map_size: 64 << 20 }).unwrap();
    (dir, store)
}

/// Another holder of the write lock (in real life another process: an
/// admin command, a backup tool) makes writes fail with a temporary
/// error after the deadline instead of hanging, and a refused write is
/// not applied later behind its caller's back.
#[test]
fn submit_has_a_deadline() {
    let (dir, store) = temp_store("deadline");
    store.set_write_deadline(Duration::from_millis(300));
    let env = store.shared.env.clone();
    let (held, locked) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let txn = env.write_txn().unwrap();
        held.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        drop(txn);
    });
    locked.recv().unwrap();
    let started = Instant::now();
    let result = smol::block_on(store.write(WriteOp::AddDomain("late.example".into())));
    assert_eq!(result, Err(StoreError::Timeout));
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    holder.join().unwrap();
    store.set_write_deadline(DEFAULT_DEADLINE);
    smol::block_on(store.write(WriteOp::AddDomain("next.example".into()))).unwrap();
    let domains = store.read().unwrap().domains().unwrap();
    assert!(domains.iter().any(|d| d == "next.example"), "{domains:?}");
    assert!(!domains.iter().any(|d| d == "late.example"), "{domains:?}");
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn lmdb_errors_are_classified() {
    use heed::MdbError;
    let full: StoreError = heed::Error::Mdb(MdbError::MapFull).into();
    assert_eq!(full, StoreError::Full);
    for errno in [libc::ENOSPC, libc::EDQUOT] {
        let e: StoreError = heed::Error::Io(std::io::Error::from_raw_os_error(errno)).into();
        assert_eq!(e, StoreError::Full, "errno {errno}");
    }
    for fatal in [
        MdbError::Panic,
        MdbError::Corrupted,
        MdbError::PageNotFound,
        MdbError::BadTxn,
    ] {
        let e: StoreError = heed::Error::Mdb(fatal).into();
        assert!(matches!(e, StoreError::Fatal(_)), "{e:?}");
        assert!(e.is_temporary(), "the client is told to retry: {e:?}");
    }
    // EIO with room on the disk is an I/O error; on a full one, Full.
    let eio: StoreError = heed::Error::Io(std::io::Error::from_raw_os_error(libc::EIO)).into();
    assert!(matches!(eio, StoreError::Io(_)));
    let dir = std::env::temp_dir();
    if free_bytes(&dir).is_some_and(|f| f > NEARLY_FULL) {
        assert!(matches!(disk_full_or(eio.clone(), &dir), StoreError::Io(_)));
    }
    assert_eq!(StoreError::Full.log_level(), log::Level::Info);
    // A client's mistake is no server error either.
    assert_eq!(
        StoreError::Exists("INBOX".into()).log_level(),
        log::Level::Info
    );
    assert_eq!(
        StoreError::NotFound("x".into()).log_level(),
        log::Level::Info
    );
    assert_eq!(
        StoreError::Corrupt("x".into()).log_level(),
        log::Level::Error
    );
}

#[test]
fn a_full_store_is_logged_once() {
    let mut health = Health::default();
    let full: Vec<Result<Outcome, StoreError>> = vec![Err(StoreError::Full)];
    health.after(&Ok(()), &full);
    assert!(health.full);
    health.after(&Err(StoreError::Full), &[]);
    assert!(health.full);
    health.after(&Ok(()), &[Ok(Outcome::Done)]);
    assert!(!health.full);
}

/// RFC 3502 §6.3.11 through the store: DeliverAll stores every message or,
/// when one fails (here a mailbox that does not exist), none.
#[test]
fn deliver_all_is_all_or_nothing() {
    let dir = std::env::temp_dir().join(format!("smolmail-deliverall-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir, &Options { map_size: 64 << 20 }).unwrap();
    smol::block_on(async {
        let id = store.add_account("m@home.arpa", "x").await.unwrap();
        let inbox = store
            .read()
            .unwrap()
            .mailbox(id, "INBOX")
            .unwrap()
            .unwrap()
            .id;
        let one =
            |target: u64| Summarized::from(Delivery::new(b"a\r\n".to_vec(), 0, vec![target], None));
        let err = store.deliver_all(vec![one(inbox), one(u64::MAX)]).await;
        assert!(err.is_err(), "{err:?}");
        let r = store.read().unwrap();
        assert_eq!(
            r.messages(inbox).unwrap().count(),
            0,
            "the first was undone"
        );
        drop(r);
        let done = store
            .deliver_all(vec![one(inbox), one(inbox)])
            .await
            .unwrap();
        let uids: Vec<u32> = done.iter().map(|d| d.placed[0].1).collect();
        assert_eq!(uids, [1, 2]);
        assert_eq!(store.read().unwrap().messages(inbox).unwrap().count(), 2);
    });
    store.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}

/// SORT and THREAD keys are stored at delivery; a message stored by an
/// earlier version (no `sort_keys` record) gets the same keys computed
/// from its header when read, so no upgrade pass over the store is needed.
#[test]
fn sort_keys_are_stored_and_computed_for_older_messages() {
    let (dir, store) = temp_store("sort-keys");
    let raw = b"Subject: Re: [list] Hello\r\nFrom: Bob <bob@example.org>\r\n\
Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nReferences: <a@x> <b@x>\r\n\r\nhi\r\n"
        .to_vec();
    let expected = crate::mime::SortKeys::compute(&raw);
    assert_eq!(expected.subject, "HELLO");
    smol::block_on(async {
        let account = store.add_account("s@home.arpa", "x").await.unwrap();
        let inbox = store
            .read()
            .unwrap()
            .mailbox(account, "INBOX")
            .unwrap()
            .unwrap()
            .id;
        let now = Delivery::new(raw.clone(), 0, vec![inbox], None);
        let stored = store.deliver(Summarized::new(now)).await.unwrap();
        // As the previous version delivered: a summary and no keys.
        let old = Delivery::new(raw.clone(), 0, vec![inbox], None);
        let mut summary = Vec::new();
        crate::mime::Summary::compute(&raw).encode(&mut summary);
        let older = store
            .deliver(Summarized {
                delivery: old,
                summary,
                sort_keys: Vec::new(),
            })
            .await
            .unwrap();
        let reader = store.read().unwrap();
        let has_record = |blob: u64| {
            reader
                .dbs
                .sort_keys
                .get(&reader.txn, &crate::store::keys::id(blob))
                .unwrap()
                .is_some()
        };
        assert!(has_record(stored.blob_id));
        assert!(!has_record(older.blob_id));
        assert_eq!(reader.sort_keys(stored.blob_id).unwrap(), expected);
        assert_eq!(reader.sort_keys(older.blob_id).unwrap(), expected);
        // Many at once: neighbouring ids (a walk, the record-less one
        // computed alone, a repeated id served twice) and scattered ones
        // (lookups) each answer every index once with the same keys.
        let (a, b) = (stored.blob_id, older.blob_id);
        for mut bodies in [
            vec![(b, 0), (a, 1), (a, 2)],
            vec![(b, 0), (a, 1), (a + 1_000_000, 2)],
        ] {
            let mut seen = vec![0; bodies.len()];
            reader.each_sort_keys(&mut bodies, |i, k| {
                seen[i] += 1;
                if i < 2 {
                    assert_eq!(k.map(|k| k.to_owned()), Some(expected.clone()));
                } else if let Some(k) = k {
                    // The id past the end has no record and no body.
                    assert!(k.to_owned() == expected || k.to_owned() == Default::default());
                }
            });
            assert_eq!(seen, [1, 1, 1]);
        }
    });
    store.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}

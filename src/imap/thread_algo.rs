//! The threading algorithms of THREAD (RFC 5256 §4): ORDEREDSUBJECT,
//! REFERENCES (Jamie Zawinski's algorithm as the RFC adapts it) and REFS
//! (draft-ietf-morg-inthread, as Dovecot offers it: REFERENCES without
//! the subject grouping, threads ordered by their latest message), and
//! the `thread-list` syntax of §5 they answer with.
//!
//! Pure functions over the stored keys. Nothing recurses: a reply chain
//! of 50 000 messages is walked with explicit stacks. Nothing is
//! quadratic in a hostile mailbox:
//! - while linking (§4 steps 1-2) only parent pointers and child counts
//!   are kept, and the child lists are built once afterwards: moving a
//!   message away from a parent of 50 000 children no longer scans them;
//! - the loop check of §4 step 1 walks at most [`MAX_ANCESTRY`] parents,
//!   and all walks of one THREAD together at most [`walk_budget`] steps
//!   (past it a link that needs a walk is refused as a loop would be), so
//!   thousands of links under one deep chain cost no more than linear;
//! - §4 step 5 finds a root's place through an index, not a scan of
//!   every root per subject.

use std::collections::HashMap;

use super::id_hash::IdHashState;
use super::render::push_number;

/// A map keyed by texts of the messages, hashed by the keyed fast hash.
type TextMap<'m, V> = HashMap<&'m [u8], V, IdHashState>;

/// What threading needs of one message; its texts are in [`Msgs`].
#[derive(Debug, Clone, Copy)]
pub struct Msg {
    /// The number reported: sequence number or UID.
    pub n: u32,
    pub seq: u32,
    /// Sent date, INTERNALDATE when the message has none (§2.2).
    pub sent: i64,
    pub reply: bool,
    has_id: bool,
    /// Where this message's text ends start in [`Msgs::ends`]: the base
    /// subject's, the Message-ID's, then each reference's.
    first: u32,
    /// How many texts: two and the references.
    texts: u32,
}

/// The messages to thread, with every text of every message (base
/// subject, folded as §2.1 says; Message-ID; each References id) one
/// after another in one buffer: three allocations for a mailbox, where a
/// `String` per text made 300 000 for 50 000 messages, and the board's
/// allocator made them a good part of THREAD's time. Texts are compared
/// and hashed as the bytes stored.
#[derive(Debug, Default)]
pub struct Msgs {
    list: Vec<Msg>,
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl Msgs {
    pub fn with_capacity(messages: usize) -> Msgs {
        Msgs {
            list: Vec::with_capacity(messages),
            bytes: Vec::new(),
            ends: Vec::with_capacity(messages * 3),
        }
    }

    /// Adds a message's keys.
    #[allow(clippy::too_many_arguments)]
    pub fn push<R: AsRef<[u8]>>(
        &mut self,
        n: u32,
        seq: u32,
        sent: i64,
        reply: bool,
        subject: &[u8],
        message_id: Option<&[u8]>,
        references: impl Iterator<Item = R>,
    ) {
        let first = self.ends.len() as u32;
        let mut text = |t: &[u8]| {
            self.bytes.extend_from_slice(t);
            self.ends.push(self.bytes.len() as u32);
        };
        text(subject);
        text(message_id.unwrap_or(b""));
        for r in references {
            text(r.as_ref());
        }
        self.list.push(Msg {
            n,
            seq,
            sent,
            reply,
            has_id: message_id.is_some(),
            first,
            texts: self.ends.len() as u32 - first,
        });
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Bytes held for the messages and their texts.
    pub fn held(&self) -> usize {
        self.list.capacity() * std::mem::size_of::<Msg>()
            + self.bytes.capacity()
            + self.ends.capacity() * 4
    }

    /// Text `k` of the texts starting at end index `first`.
    fn text(&self, first: u32, k: u32) -> &[u8] {
        let i = (first + k) as usize;
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] as usize,
        };
        &self.bytes[start..self.ends[i] as usize]
    }

    pub fn subject(&self, i: usize) -> &[u8] {
        self.text(self.list[i].first, 0)
    }

    pub fn message_id(&self, i: usize) -> Option<&[u8]> {
        let m = &self.list[i];
        m.has_id.then(|| self.text(m.first, 1))
    }

    pub fn references(&self, i: usize) -> impl Iterator<Item = &[u8]> {
        let m = self.list[i];
        (2..m.texts).map(move |k| self.text(m.first, k))
    }

    /// How many References ids message `i` has.
    pub fn reference_count(&self, i: usize) -> usize {
        self.list[i].texts as usize - 2
    }

    /// The messages in sequence order. Keys are read in the store's
    /// order (by body, which a COPY shares with an older message), and
    /// §4 step 1 gives a Message-ID to the first message that has it and
    /// lets later References override earlier links: the answer must not
    /// depend on the mailbox's copy history.
    pub fn sort_by_seq(&mut self) {
        self.list.sort_by_key(|m| m.seq);
    }
}

impl std::ops::Index<usize> for Msgs {
    type Output = Msg;

    fn index(&self, i: usize) -> &Msg {
        &self.list[i]
    }
}

/// Longest parent chain the loop check of §4 step 1 follows; a link
/// deeper than this is treated as a loop and not made, which bounds the
/// work a hostile mailbox of one endless reply chain can cause.
pub const MAX_ANCESTRY: usize = 4096;

/// Ancestry steps all loop checks of one THREAD of `messages` may take.
pub fn walk_budget(messages: usize) -> usize {
    messages.saturating_mul(64).saturating_add(1 << 16)
}

#[derive(Default, Clone)]
struct Node {
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
    /// Children while linking, when `children` is not kept yet.
    kids: u32,
}

/// The forest of threads: nodes, and the roots in order.
struct Forest {
    nodes: Vec<Node>,
    roots: Vec<usize>,
    /// Ancestry steps the loop checks may still take.
    walks: usize,
}

/// ORDEREDSUBJECT (§4): messages grouped by base subject, each group a
/// thread whose first message (by sent date) has the others as children;
/// threads ordered by their first message's sent date.
pub fn ordered_subject(msgs: &Msgs) -> String {
    let mut order: Vec<usize> = (0..msgs.len()).collect();
    order.sort_by(|&a, &b| {
        let (sa, sb) = (msgs.subject(a), msgs.subject(b));
        let (a, b) = (&msgs[a], &msgs[b]);
        (sa, a.sent, a.seq).cmp(&(sb, b.sent, b.seq))
    });
    let mut f = Forest {
        nodes: (0..msgs.len())
            .map(|i| Node {
                msg: Some(i),
                ..Node::default()
            })
            .collect(),
        roots: Vec::new(),
        walks: 0,
    };
    let mut current: Option<usize> = None;
    for i in order {
        match current {
            Some(root) if msgs.subject(root) == msgs.subject(i) => {
                f.nodes[i].parent = Some(root);
                f.nodes[root].children.push(i);
            }
            _ => {
                f.roots.push(i);
                current = Some(i);
            }
        }
    }
    f.roots.sort_by_key(|&r| (msgs[r].sent, msgs[r].seq));
    f.render(msgs)
}

/// REFERENCES (§4), or with `refs` Dovecot's REFS.
pub fn references(msgs: &Msgs, refs: bool) -> String {
    let mut f = link(msgs);
    f.prune();
    f.sort(msgs);
    if refs {
        // Threads ordered by their most recent message.
        let latest = f.latest(msgs);
        f.roots.sort_by_key(|&r| latest[r]);
    } else {
        f.group_by_subject(msgs);
        f.sort(msgs);
    }
    f.render(msgs)
}

/// §4 steps 1 and 2: containers for every message id, linked by the
/// References of each message; the parentless ones are the roots.
fn link(msgs: &Msgs) -> Forest {
    let mut f = Forest {
        nodes: Vec::with_capacity(msgs.len()),
        roots: Vec::new(),
        walks: walk_budget(msgs.len()),
    };
    let mut ids: TextMap<usize> = HashMap::with_capacity_and_hasher(msgs.len(), IdHashState::new());
    for i in 0..msgs.len() {
        // A message id seen before only as a reference gets its message;
        // a duplicate (or no id) gets a container of its own.
        let own = match msgs.message_id(i).map(|id| (id, ids.get(id).copied())) {
            Some((_, Some(c))) if f.nodes[c].msg.is_none() => c,
            Some((id, None)) => {
                let c = f.add();
                ids.insert(id, c);
                c
            }
            _ => f.add(),
        };
        f.nodes[own].msg = Some(i);
        // Step 1A: each reference the child of the one before it, unless
        // already linked or that would make a loop.
        let mut prev: Option<usize> = None;
        for r in msgs.references(i) {
            let c = *ids.entry(r).or_insert_with(|| f.add());
            if let Some(p) = prev
                && f.nodes[c].parent.is_none()
                && f.can_link(c, p)
            {
                f.link_parent(c, Some(p));
            }
            prev = Some(c);
        }
        // Step 1B: the message is the child of its last reference, or a
        // root without one, whatever earlier messages said.
        match prev {
            Some(p) if f.can_link(own, p) => f.link_parent(own, Some(p)),
            Some(_) => {}
            None => f.link_parent(own, None),
        }
    }
    // The child lists, once, in container order.
    for c in 0..f.nodes.len() {
        match f.nodes[c].parent {
            Some(p) => f.nodes[p].children.push(c),
            None => f.roots.push(c),
        }
    }
    f
}

impl Forest {
    fn add(&mut self) -> usize {
        self.nodes.push(Node::default());
        self.nodes.len() - 1
    }

    /// Whether `child` may go under `parent`: not itself, nor one of
    /// the parent's ancestors (that would close a loop).
    /// Used while linking, when child counts stand for the lists.
    fn can_link(&mut self, child: usize, parent: usize) -> bool {
        // A container without children is no one's ancestor: the usual
        // case (a new message) costs no walk.
        if self.nodes[child].kids == 0 {
            return child != parent;
        }
        let mut at = Some(parent);
        for _ in 0..MAX_ANCESTRY {
            if self.walks == 0 {
                return false;
            }
            self.walks -= 1;
            match at {
                None => return true,
                Some(a) if a == child => return false,
                Some(a) => at = self.nodes[a].parent,
            }
        }
        false
    }

    /// `set_parent` while linking: the parent pointer and child counts
    /// only (the lists are built after), so a move costs O(1).
    fn link_parent(&mut self, child: usize, parent: Option<usize>) {
        if let Some(old) = self.nodes[child].parent.take() {
            self.nodes[old].kids -= 1;
        }
        if let Some(p) = parent {
            self.nodes[p].kids += 1;
        }
        self.nodes[child].parent = parent;
    }

    fn set_parent(&mut self, child: usize, parent: Option<usize>) {
        if let Some(old) = self.nodes[child].parent.take() {
            self.nodes[old].children.retain(|&c| c != child);
        }
        if let Some(p) = parent {
            self.nodes[p].children.push(child);
        }
        self.nodes[child].parent = parent;
    }

    /// Every node below the roots, each after all its descendants.
    fn bottom_up(&self) -> Vec<usize> {
        let mut pre = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<usize> = self.roots.clone();
        while let Some(n) = stack.pop() {
            pre.push(n);
            stack.extend(self.nodes[n].children.iter().copied());
        }
        pre.reverse();
        pre
    }

    /// §4 step 3: dummies without children go; below the root level a
    /// dummy gives way to its children; at the root only to a single one.
    fn prune(&mut self) {
        for n in self.bottom_up() {
            let children = std::mem::take(&mut self.nodes[n].children);
            let mut kept = Vec::with_capacity(children.len());
            for c in children {
                if self.nodes[c].msg.is_some() {
                    kept.push(c);
                    continue;
                }
                for g in std::mem::take(&mut self.nodes[c].children) {
                    self.nodes[g].parent = Some(n);
                    kept.push(g);
                }
            }
            self.nodes[n].children = kept;
        }
        let roots = std::mem::take(&mut self.roots);
        for r in roots {
            let node = &self.nodes[r];
            match (node.msg, node.children.len()) {
                (None, 0) => {}
                (None, 1) => {
                    let only = node.children[0];
                    self.nodes[r].children.clear();
                    self.nodes[only].parent = None;
                    self.roots.push(only);
                }
                _ => self.roots.push(r),
            }
        }
    }

    /// §4 steps 4 and 6: siblings by sent date, then sequence number; a
    /// dummy sorts as its first child.
    fn sort(&mut self, msgs: &Msgs) {
        let mut key = vec![(i64::MIN, 0u32); self.nodes.len()];
        for n in self.bottom_up() {
            let mut children = std::mem::take(&mut self.nodes[n].children);
            children.sort_by_key(|&c| key[c]);
            key[n] = match self.nodes[n].msg {
                Some(i) => (msgs[i].sent, msgs[i].seq),
                None => children.first().map_or((i64::MIN, 0), |&c| key[c]),
            };
            self.nodes[n].children = children;
        }
        let mut roots = std::mem::take(&mut self.roots);
        roots.sort_by_key(|&r| key[r]);
        self.roots = roots;
    }

    /// The latest (sent date, sequence number) in each node's subtree.
    fn latest(&self, msgs: &Msgs) -> Vec<(i64, u32)> {
        let mut latest = vec![(i64::MIN, 0u32); self.nodes.len()];
        for n in self.bottom_up() {
            let own = self.nodes[n]
                .msg
                .map_or((i64::MIN, 0), |i| (msgs[i].sent, msgs[i].seq));
            latest[n] = self.nodes[n]
                .children
                .iter()
                .map(|&c| latest[c])
                .fold(own, Ord::max);
        }
        latest
    }

    /// The message that speaks for a root: its own, or a dummy's first
    /// child's.
    fn speaker(&self, r: usize) -> Option<usize> {
        self.nodes[r].msg.or_else(|| {
            self.nodes[r]
                .children
                .first()
                .and_then(|&c| self.nodes[c].msg)
        })
    }

    /// The base subject a root is grouped by (§4 step 5A).
    fn subject<'m>(&self, msgs: &'m Msgs, r: usize) -> &'m [u8] {
        self.speaker(r).map_or(b"", |i| msgs.subject(i))
    }

    /// §4 step 5: roots sharing a base subject are gathered.
    fn group_by_subject(&mut self, msgs: &Msgs) {
        // Step 5B: the root that represents each subject.
        let mut table: TextMap<usize> = HashMap::with_hasher(IdHashState::new());
        for &r in &self.roots {
            let s = self.subject(msgs, r);
            if s.is_empty() {
                continue;
            }
            match table.get(s) {
                None => {
                    table.insert(s, r);
                }
                Some(&t) => {
                    let dummy = |n: usize| self.nodes[n].msg.is_none();
                    let reply = |n: usize| self.nodes[n].msg.is_some_and(|i| msgs[i].reply);
                    if (dummy(r) && !dummy(t)) || (!dummy(r) && !dummy(t) && reply(t) && !reply(r))
                    {
                        table.insert(s, r);
                    }
                }
            }
        }
        // Step 5C: every other root joins its subject's.
        let roots = self.roots.clone();
        let mut removed = vec![false; self.nodes.len()];
        // Where each root stands in `roots`, so a dummy takes a root's
        // place without a scan of every root.
        let mut place = vec![usize::MAX; self.nodes.len()];
        for (i, &r) in self.roots.iter().enumerate() {
            place[r] = i;
        }
        for r in roots {
            let s = self.subject(msgs, r);
            let Some(&t) = table.get(s) else { continue };
            if s.is_empty() || t == r {
                continue;
            }
            let (r_dummy, t_dummy) = (self.nodes[r].msg.is_none(), self.nodes[t].msg.is_none());
            let r_reply = self.nodes[r].msg.is_some_and(|i| msgs[i].reply);
            let t_reply = self.nodes[t].msg.is_some_and(|i| msgs[i].reply);
            if r_dummy && t_dummy {
                for c in std::mem::take(&mut self.nodes[r].children) {
                    self.set_parent(c, Some(t));
                }
            } else if t_dummy || (r_reply && !t_reply) {
                self.set_parent(r, Some(t));
            } else {
                let d = self.add();
                removed.push(false);
                let at = place[t];
                place.push(at);
                self.roots[at] = d;
                self.set_parent(t, Some(d));
                self.set_parent(r, Some(d));
                table.insert(s, d);
            }
            removed[r] = true;
        }
        self.roots.retain(|&r| !removed[r]);
    }

    /// §5 `thread-list`: `(a b (c)(d e))`, one parenthesised list per
    /// thread; a single child continues its parent's list, several
    /// children each open their own.
    fn render(&self, msgs: &Msgs) -> String {
        enum Step {
            Node(usize),
            Text(&'static str),
        }
        let mut out = String::new();
        let mut stack: Vec<Step> = Vec::new();
        for &r in self.roots.iter().rev() {
            stack.extend([Step::Text(")"), Step::Node(r), Step::Text("(")]);
        }
        while let Some(step) = stack.pop() {
            let n = match step {
                Step::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                Step::Node(n) => n,
            };
            let node = &self.nodes[n];
            if let Some(i) = node.msg {
                push_number(&mut out, msgs[i].n);
                if !node.children.is_empty() {
                    out.push(' ');
                }
            }
            match (node.msg, node.children.as_slice()) {
                (Some(_), &[only]) => stack.push(Step::Node(only)),
                (_, children) => {
                    for &c in children.iter().rev() {
                        stack.extend([Step::Text(")"), Step::Node(c), Step::Text("(")]);
                    }
                }
            }
        }
        out
    }
}

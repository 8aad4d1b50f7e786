//! A split plan taken from the front of a fuzz input: byte 0 says how many
//! (mod 16) size bytes follow, each size byte `v` is a piece of `v + 1`
//! bytes, used in turn until the payload runs out. A plan of no sizes means
//! "all at once", which is how seed inputs without a plan read.

/// The piece sizes (empty: one piece).
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    sizes: &'a [u8],
}

/// Splits `data` into the plan at its front and the payload after it.
pub fn split(data: &[u8]) -> (Plan<'_>, &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return (Plan { sizes: &[] }, &[]);
    };
    let n = usize::from(n % 16).min(rest.len());
    let (sizes, payload) = rest.split_at(n);
    (Plan { sizes }, payload)
}

impl<'a> Plan<'a> {
    /// A plan that takes everything in one piece.
    pub fn whole() -> Plan<'static> {
        Plan { sizes: &[] }
    }

    /// The size of piece number `i` (pieces are numbered from 0).
    pub fn size(&self, i: usize) -> usize {
        if self.sizes.is_empty() {
            usize::MAX
        } else {
            usize::from(self.sizes[i % self.sizes.len()]) + 1
        }
    }

    /// `payload` cut into pieces by this plan.
    pub fn pieces<'b>(&self, payload: &'b [u8]) -> Vec<&'b [u8]> {
        let mut out = Vec::new();
        let mut rest = payload;
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(self.size(out.len()).min(rest.len()));
            out.push(piece);
            rest = tail;
        }
        out
    }
}

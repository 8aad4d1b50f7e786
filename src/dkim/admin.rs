//! `smolmail dkim ...` (filled in with the store step).

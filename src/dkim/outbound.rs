//! Signing outbound mail (filled in with the delivery step).

//! Upstream backends: how each one's messages become stored messages and how sends go out.
//! Only iLink exists so far (`ilink`); Wechaty joins it behind a common trait.

pub mod ilink;

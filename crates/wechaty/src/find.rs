//! Client-side search: the service has none, so contacts and rooms are listed (through the
//! cache) and filtered here. [`MatchMode`] says how a name is compared; every match is
//! returned so that the caller can report ambiguity.

use crate::contact::Contact;
use crate::room::Room;

/// How a query is compared with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchMode {
    /// The whole name, byte for byte (as Wechaty's `Contact.find({name})` does).
    #[default]
    Exact,
    /// Case-insensitive substring (Unicode lowercase on both sides).
    Fuzzy,
}

/// Which names of a contact a query is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContactField {
    /// The nickname.
    Name,
    /// The remark (备注) the bot's account gave.
    Alias,
    /// Either (as Wechaty's `Contact.find("text")` does).
    #[default]
    NameOrAlias,
}

/// Whether `candidate` matches `query` under `mode`.
pub fn matches(mode: MatchMode, candidate: &str, query: &str) -> bool {
    match mode {
        MatchMode::Exact => candidate == query,
        MatchMode::Fuzzy => candidate.to_lowercase().contains(&query.to_lowercase()),
    }
}

pub(crate) fn contact_matches(c: &Contact, query: &str, by: ContactField, mode: MatchMode) -> bool {
    let name = || matches(mode, &c.name, query);
    let alias = || c.alias.as_deref().is_some_and(|a| matches(mode, a, query));
    match by {
        ContactField::Name => name(),
        ContactField::Alias => alias(),
        ContactField::NameOrAlias => name() || alias(),
    }
}

pub(crate) fn room_matches(r: &Room, topic: &str, mode: MatchMode) -> bool {
    matches(mode, &r.topic, topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert!(matches(MatchMode::Exact, "张三", "张三"));
        assert!(!matches(MatchMode::Exact, "张三丰", "张三"));
        assert!(matches(MatchMode::Fuzzy, "张三丰", "张三"));
        assert!(matches(MatchMode::Fuzzy, "Weekend Hiking", "hiking"));
        assert!(!matches(
            MatchMode::Exact,
            "Weekend Hiking",
            "weekend hiking"
        ));
        assert!(matches(MatchMode::Fuzzy, "ÉCOLE", "école"));
    }
}

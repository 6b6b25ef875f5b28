//! Contacts: the [`Contact`] payload and its enums, decoded from `ContactPayloadResponse`.

use crate::proto::wechaty::puppet as pb;

/// A contact (friend, stranger met in a room, official account, ...), or the bot itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The contact id (e.g. `wxid_...`); stable, use it to send.
    pub id: String,
    /// The nickname the contact chose.
    pub name: String,
    /// The remark (备注) the bot's account gave the contact, if any.
    pub alias: Option<String>,
    /// Individual, official account, corporation.
    pub kind: ContactType,
    /// Gender as the contact declared it.
    pub gender: Gender,
    /// Avatar URL or empty.
    pub avatar: Option<String>,
    /// Whether the contact is a friend of the bot's account.
    pub friend: bool,
    /// The contact's WeChat ID (handle), if the puppet knows it.
    pub handle: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Province.
    pub province: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Signature (个性签名).
    pub signature: Option<String>,
    /// Starred by the bot's account.
    pub star: bool,
    /// Phone numbers the bot's account recorded.
    pub phones: Vec<String>,
    /// Corporation (WeCom contacts).
    pub corporation: Option<String>,
    /// Title (WeCom contacts).
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// A coworker (WeCom contacts).
    pub coworker: bool,
}

/// What kind of account a contact is (wechaty-puppet `ContactType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactType {
    /// A person (1).
    Individual,
    /// An official account (公众号) (2).
    Official,
    /// A corporation (3).
    Corporation,
    /// 0 (unknown) or a number this crate does not know.
    Unknown(i32),
}

impl ContactType {
    /// From the number on the wire.
    pub fn from_wire(n: i32) -> ContactType {
        match n {
            1 => ContactType::Individual,
            2 => ContactType::Official,
            3 => ContactType::Corporation,
            n => ContactType::Unknown(n),
        }
    }

    /// The number on the wire.
    pub fn to_wire(self) -> i32 {
        match self {
            ContactType::Individual => 1,
            ContactType::Official => 2,
            ContactType::Corporation => 3,
            ContactType::Unknown(n) => n,
        }
    }
}

/// A contact's gender (wechaty-puppet `ContactGender`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    /// 1.
    Male,
    /// 2.
    Female,
    /// 0 (not said) or a number this crate does not know.
    Unknown(i32),
}

impl Gender {
    /// From the number on the wire.
    pub fn from_wire(n: i32) -> Gender {
        match n {
            1 => Gender::Male,
            2 => Gender::Female,
            n => Gender::Unknown(n),
        }
    }

    /// The number on the wire.
    pub fn to_wire(self) -> i32 {
        match self {
            Gender::Male => 1,
            Gender::Female => 2,
            Gender::Unknown(n) => n,
        }
    }
}

/// `Some(s)` unless `s` is empty.
pub(crate) fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl From<pb::ContactPayloadResponse> for Contact {
    fn from(p: pb::ContactPayloadResponse) -> Contact {
        Contact {
            id: p.id,
            name: p.name,
            alias: non_empty(p.alias),
            kind: ContactType::from_wire(p.r#type),
            gender: Gender::from_wire(p.gender),
            avatar: non_empty(p.avatar),
            friend: p.friend,
            handle: non_empty(p.weixin),
            city: non_empty(p.city),
            province: non_empty(p.province),
            address: non_empty(p.address),
            signature: non_empty(p.signature),
            star: p.star,
            phones: p.phones.into_iter().filter(|s| !s.is_empty()).collect(),
            corporation: non_empty(p.corporation),
            title: non_empty(p.title),
            description: non_empty(p.description),
            coworker: p.coworker,
        }
    }
}

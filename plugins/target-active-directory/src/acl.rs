//! Just enough of Windows security descriptors to answer "does this token get right X
//! on user objects created under this container?": the self-relative descriptor, its
//! DACL, and ACE evaluation in order (the first ACE that decides wins).

use crate::guid;

const ACCESS_ALLOWED: u8 = 0x00;
const ACCESS_DENIED: u8 = 0x01;
const ACCESS_ALLOWED_OBJECT: u8 = 0x05;
const ACCESS_DENIED_OBJECT: u8 = 0x06;

const CONTAINER_INHERIT: u8 = 0x02;

pub const DS_CONTROL_ACCESS: u32 = 0x100;
pub const DS_WRITE_PROPERTY: u32 = 0x20;
const GENERIC_ALL: u32 = 0x1000_0000;
const GENERIC_WRITE: u32 = 0x4000_0000;

pub const USER_CLASS: &str = "bf967aba-0de6-11d0-a285-00aa003049e2";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ace {
    pub allow: bool,
    pub flags: u8,
    pub mask: u32,
    pub object_type: Option<[u8; 16]>,
    pub inherited_object_type: Option<[u8; 16]>,
    pub sid: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn guid_at(b: &[u8], at: usize) -> Option<[u8; 16]> {
    b.get(at..at + 16)?.try_into().ok()
}

/// SE_DACL_PROTECTED: the DACL takes no ACEs from the parent ("inheritance disabled").
pub const DACL_PROTECTED: u16 = 0x1000;

/// The parts of a self-relative security descriptor the checks use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// The control flags (SE_DACL_PROTECTED, …).
    pub control: u16,
    pub aces: Vec<Ace>,
}

impl Descriptor {
    /// Parses a self-relative security descriptor (MS-DTYP 2.4.6); `None` when it is
    /// malformed (never panics, whatever the bytes).
    pub fn parse(descriptor: &[u8]) -> Option<Descriptor> {
        if *descriptor.first()? != 1 {
            return None;
        }
        Some(Descriptor {
            control: u16_at(descriptor, 2)?,
            aces: dacl(descriptor)?,
        })
    }

    /// Whether inheritance from the parent is disabled on this object.
    pub fn inheritance_disabled(&self) -> bool {
        self.control & DACL_PROTECTED != 0
    }
}

/// The DACL's ACEs of a self-relative security descriptor (unknown ACE types skipped).
pub fn dacl(descriptor: &[u8]) -> Option<Vec<Ace>> {
    let offset = u32_at(descriptor, 16)? as usize;
    if offset == 0 {
        return Some(Vec::new());
    }
    let count = u16_at(descriptor, offset + 4)? as usize;
    let mut at = offset + 8;
    let mut aces = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = *descriptor.get(at)?;
        let flags = *descriptor.get(at + 1)?;
        let size = u16_at(descriptor, at + 2)? as usize;
        let body = descriptor.get(at..at + size)?;
        let mask = u32_at(body, 4)?;
        let ace = match kind {
            ACCESS_ALLOWED | ACCESS_DENIED => Some(Ace {
                allow: kind == ACCESS_ALLOWED,
                flags,
                mask,
                object_type: None,
                inherited_object_type: None,
                sid: body.get(8..)?.to_vec(),
            }),
            ACCESS_ALLOWED_OBJECT | ACCESS_DENIED_OBJECT => {
                let present = u32_at(body, 8)?;
                let mut p = 12;
                let object_type = if present & 1 != 0 {
                    p += 16;
                    Some(guid_at(body, p - 16)?)
                } else {
                    None
                };
                let inherited_object_type = if present & 2 != 0 {
                    p += 16;
                    Some(guid_at(body, p - 16)?)
                } else {
                    None
                };
                Some(Ace {
                    allow: kind == ACCESS_ALLOWED_OBJECT,
                    flags,
                    mask,
                    object_type,
                    inherited_object_type,
                    sid: body.get(p..)?.to_vec(),
                })
            }
            _ => None,
        };
        aces.extend(ace);
        at += size.max(4);
    }
    Some(aces)
}

/// A right to look for: the access bit, and the object types (the right's GUID, and for
/// an attribute its property set) an object ACE may name to grant it.
pub struct Wanted<'a> {
    pub bit: u32,
    pub object_types: &'a [&'a str],
}

/// Whether user objects created below a container with these ACEs get the right, for a
/// token of `sids`: only inheritable ACEs for all classes or for `user` count.
pub fn inherited_grant(aces: &[Ace], sids: &[Vec<u8>], wanted: &Wanted<'_>) -> bool {
    decide(aces, sids, wanted) == Decision::Allowed
}

/// What the DACL says about a right, for user objects created below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// A deny ACE for one of the token's SIDs comes first.
    Denied,
    /// No ACE grants it.
    Missing,
}

/// Evaluates the ACEs in order, as the DC does: the first that covers the right decides.
pub fn decide(aces: &[Ace], sids: &[Vec<u8>], wanted: &Wanted<'_>) -> Decision {
    let user = guid::parse(USER_CLASS).ok();
    let types: Vec<[u8; 16]> = wanted
        .object_types
        .iter()
        .filter_map(|t| guid::parse(t).ok())
        .collect();
    for ace in aces {
        if ace.flags & CONTAINER_INHERIT == 0 || !sids.contains(&ace.sid) {
            continue;
        }
        if ace.inherited_object_type.is_some() && ace.inherited_object_type != user {
            continue;
        }
        let covers_bit = ace.mask & (wanted.bit | GENERIC_ALL) != 0
            || (wanted.bit == DS_WRITE_PROPERTY && ace.mask & GENERIC_WRITE != 0);
        let covers_type = ace.object_type.is_none_or(|t| types.contains(&t));
        if covers_bit && covers_type {
            return if ace.allow {
                Decision::Allowed
            } else {
                Decision::Denied
            };
        }
    }
    Decision::Missing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object_ace(allow: bool, mask: u32, object: &str, sid: &[u8]) -> Vec<u8> {
        let mut body = vec![if allow { 5 } else { 6 }, CONTAINER_INHERIT | 0x08, 0, 0];
        body.extend(mask.to_le_bytes());
        body.extend(3u32.to_le_bytes());
        body.extend(guid::parse(object).unwrap());
        body.extend(guid::parse(USER_CLASS).unwrap());
        body.extend(sid);
        let size = body.len() as u16;
        body[2..4].copy_from_slice(&size.to_le_bytes());
        body
    }

    fn descriptor(aces: &[Vec<u8>]) -> Vec<u8> {
        let mut sd = vec![1, 0, 0x04, 0x80];
        sd.extend([0u8; 12]);
        sd.extend(20u32.to_le_bytes());
        let size: usize = 8 + aces.iter().map(Vec::len).sum::<usize>();
        sd.extend([4, 0]);
        sd.extend((size as u16).to_le_bytes());
        sd.extend((aces.len() as u16).to_le_bytes());
        sd.extend([0, 0]);
        for a in aces {
            sd.extend(a);
        }
        sd
    }

    #[test]
    fn control_flags_and_malformed_input() {
        let sid = vec![1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0];
        let mut sd = descriptor(&[object_ace(true, DS_CONTROL_ACCESS, USER_CLASS, &sid)]);
        let parsed = Descriptor::parse(&sd).unwrap();
        assert!(!parsed.inheritance_disabled());
        assert_eq!(parsed.aces.len(), 1);
        sd[2..4].copy_from_slice(&(0x8004u16 | DACL_PROTECTED).to_le_bytes());
        assert!(Descriptor::parse(&sd).unwrap().inheritance_disabled());
        for cut in 0..sd.len() {
            // Truncated input is refused or parsed partially, never a panic.
            let _ = Descriptor::parse(&sd[..cut]);
        }
        assert_eq!(Descriptor::parse(&[2, 0, 0, 0]), None);
    }

    #[test]
    fn reset_password_granted_and_denied() {
        let sid = vec![1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0];
        let reset = "00299570-246d-11d0-a768-00aa006e0529";
        let want = Wanted {
            bit: DS_CONTROL_ACCESS,
            object_types: &[reset],
        };
        let allow = descriptor(&[object_ace(true, DS_CONTROL_ACCESS, reset, &sid)]);
        let aces = dacl(&allow).unwrap();
        assert_eq!(aces.len(), 1);
        assert!(inherited_grant(&aces, std::slice::from_ref(&sid), &want));
        assert!(!inherited_grant(
            &aces,
            &[vec![1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]],
            &want
        ));
        let denied = descriptor(&[
            object_ace(false, DS_CONTROL_ACCESS, reset, &sid),
            object_ace(true, DS_CONTROL_ACCESS, reset, &sid),
        ]);
        assert!(!inherited_grant(
            &dacl(&denied).unwrap(),
            std::slice::from_ref(&sid),
            &want
        ));
        assert_eq!(
            decide(&dacl(&denied).unwrap(), &[sid], &want),
            Decision::Denied
        );
    }
}

#!/usr/bin/env python3
"""Writes the hand-made seed inputs under fuzz/seeds/ (run from anywhere; idempotent).
The minimized corpora that fuzzing runs added sit beside them; this script only
(re)writes the files it names."""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    path = os.path.join(HERE, "seeds", target, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)


# --- webhook_body: the documented bodies and near misses ---
put("webhook_body", "reset", '{"id":"req-2026-0001","operation":"reset","must_change":true,"identity":{"upn":"alice@example.test"},"initiator":{"kind":"user"},"new_password":"Fz-Marker-7q3Xk"}')
put("webhook_body", "change", '{"id":"r2","operation":"change","identity":{"username":"a","extra":{"employeeId":"42"}},"initiator":{"kind":"admin","id":"helpdesk"},"old_password":"Old-Marker-7q3Xk","new_password":"Fz-Marker-7q3Xk"}')
put("webhook_body", "unlock", '{"id":"r3","operation":"unlock","identity":{"mail":"a@x","object_id":"0f8fad5b-d9cb-469f-a165-70867728950e"}}')
put("webhook_body", "wrong-type", '{"id":"r4","operation":"reset","identity":{"upn":"a"},"new_password":["Fz-Marker-7q3Xk"]}')
put("webhook_body", "escaped", '{"id":"r5","operation":"reset","identity":{"upn":"a\\u00e9"},"new_password":"Fz\\u0000Marker"}')

# --- scim_filter: what identity providers send ---
for i, f in enumerate([
    'userName eq "alice@example.test"',
    'externalId eq "00u1" or emails[value eq "a@x" or value eq "b@x"]',
    '(id eq "1" and userName eq "A") or (emails.value eq "x\\"y")',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob"',
    'userName sw "a"',
    'not (userName eq "a")',
    '((((((userName eq "a"))))))',
]):
    put("scim_filter", f"f{i}", f)

# --- scim_patch: first byte odd = PUT, even = PATCH ---
for i, b in enumerate([
    '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"password","value":"Fz-Marker-7q3Xk"}]}',
    '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"password":"Fz-Marker-7q3Xk","active":"False"}}]}',
    '{"Operations":[{"op":"Remove","path":"name.givenName"},{"op":"add","path":"emails[type eq \\"work\\"].value","value":"b@x"}]}',
    '{"Operations":[{"op":"replace","path":"password","value":"Fz\\u0007Marker"}]}',
]):
    put("scim_patch", f"patch{i}", b"\x00" + b.encode())
put("scim_patch", "put0", b"\x01" + b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@example.test","password":"Fz-Marker-7q3Xk","active":true,"name":{"givenName":"Alice"}}')

# --- config: the example and small variants ---
with open(os.path.join(HERE, "..", "examples", "config", "writeback.toml"), "rb") as f:
    put("config", "example", f.read())
put("config", "pipeline", '[pipeline]\ndeadline_ms = 3000\nmax_in_flight = 4\n[audit]\n')
put("config", "plugins", '[[plugins]]\nkind = "wasm"\npath = "p.wasm"\n[[policies]]\ntype = "basic"\nmin_length = 12\n')
put("config", "bad-line", '[pipeline]\ndeadline_ms = "soon"\n')

# --- ppolicy: response control values (BER) ---
put("ppolicy", "error-too-short", bytes([0x30, 0x03, 0x81, 0x01, 0x06]))
put("ppolicy", "warning-expiry", bytes([0x30, 0x06, 0xa0, 0x04, 0x80, 0x02, 0x0e, 0x10]))
put("ppolicy", "warning-and-error", bytes([0x30, 0x08, 0xa0, 0x03, 0x81, 0x01, 0x02, 0x81, 0x01, 0x00]))
put("ppolicy", "long-form", bytes([0x30, 0x81, 0x03, 0x81, 0x01, 0x08]))
put("ppolicy", "empty", bytes([0x30, 0x00]))

# --- ldap_dn: a DN and a base (arbitrary's layout: the first string's length is
# read from the end of the input; the second takes the rest) ---
def dn_pair(dn, base):
    a, b = dn.encode(), base.encode()
    return a + b + struct.pack("<I", len(a))[:1]
put("ldap_dn", "within", dn_pair("uid=alice,ou=people,dc=example,dc=org", "ou=people,dc=example,dc=org"))
put("ldap_dn", "escaped", dn_pair("cn=a\\2Cb+uid=x, OU=People ,dc=example;dc=org", "dc=example,dc=org"))


# --- breached_filter: structurally valid files (version 1, see format.rs) ---
def breached(bucket_bits, segments, data, key_count=0):
    """segments: list of (seed, first_slot, segment_length, segment_count_length,
    array_length, key_count); the bucket map sends bucket i to segment i % len."""
    buckets = 1 << bucket_bits
    seg_map = b"".join(struct.pack("<I", i % len(segments)) for i in range(buckets))
    directory = b"".join(
        struct.pack("<QQIIII", seed, first, sl, scl, al, kc)
        for (seed, first, sl, scl, al, kc) in segments
    )
    map_off = 128
    dir_off = map_off + len(seg_map)
    data_off = dir_off + len(directory)
    if data_off % 2:
        data_off += 1
    head = b"WBBREACH" + struct.pack(
        "<IIQQIIQQQQ", 1, 16, key_count, 1, bucket_bits, len(segments),
        map_off, dir_off, data_off, len(data))
    digest = hashlib.sha256(head + seg_map + directory + hashlib.sha256(data).digest()).digest()
    out = head + digest + bytes(24) + seg_map + directory
    out += bytes(data_off - len(out)) + data
    return out

put("breached_filter", "empty", breached(0, [(7, 0, 1, 0, 0, 0)], b""))
put("breached_filter", "two-segments", breached(
    1, [(1, 0, 4, 4, 12, 3), (2, 12, 4, 8, 16, 5)], bytes(range(56)), key_count=8))

# --- ad_security_descriptor: self-relative descriptors with the delegation ACEs ---
def guid(text):
    a, b, c, d, e = text.split("-")
    return struct.pack("<IHH", int(a, 16), int(b, 16), int(c, 16)) + bytes.fromhex(d + e)


def object_ace(allow, mask, object_type, inherited, sid, flags=0x0A):
    present = (1 if object_type else 0) | (2 if inherited else 0)
    body = struct.pack("<II", mask, present)
    body += guid(object_type) if object_type else b""
    body += guid(inherited) if inherited else b""
    body += sid
    return struct.pack("<BBH", 5 if allow else 6, flags, 4 + len(body)) + body


def descriptor(aces, control=0x8004):
    dacl = b"".join(aces)
    acl = struct.pack("<BBHHH", 4, 0, 8 + len(dacl), len(aces), 0) + dacl
    return struct.pack("<BBHIIII", 1, 0, control, 0, 0, 0, 20) + acl


SID = bytes([1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0]) + struct.pack("<IIII", 1, 2, 3, 1105)
USER = "bf967aba-0de6-11d0-a285-00aa003049e2"
RESET = "00299570-246d-11d0-a768-00aa006e0529"
PWD_LAST_SET = "bf967a0a-0de6-11d0-a285-00aa003049e2"
delegation = [
    object_ace(True, 0x100, RESET, USER, SID),
    object_ace(True, 0x20, PWD_LAST_SET, USER, SID),
]
put("ad_security_descriptor", "delegated", descriptor(delegation))
put("ad_security_descriptor", "protected", descriptor(delegation, 0x8004 | 0x1000))
put("ad_security_descriptor", "deny-first", descriptor([object_ace(False, 0x100, RESET, USER, SID)] + delegation))
put("ad_security_descriptor", "no-dacl", struct.pack("<BBHIIII", 1, 0, 0x8000, 0, 0, 0, 0))

# --- portal_form: what the password page's form posts ---
put("portal_form", "submit", "csrf=kq3Lw0s2n7Vb9xYc1dE4fG6hJ8kM0pQrStUvWxYz-_A&password=Fz-Marker-7q3Xk%21&confirm=Fz-Marker-7q3Xk%21")
put("portal_form", "change", "csrf=t&current=Old%2BMarker&password=New%20Marker%C3%A9&confirm=New+Marker%C3%A9")
put("portal_form", "repeated", "password=a&password=b&Password=c&password%00=d&csrf")

# --- portal_callback: the provider's redirect ---
put("portal_callback", "code", "code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj&iss=https%3A%2F%2Fidp.example.test")
put("portal_callback", "error", "error=access_denied&error_description=The+user+cancelled&state=af0ifjsldkj")
put("portal_callback", "repeated", "code=a&state=b&code=c")

# --- portal_session_cookie: Cookie headers, one a line; the fixture's session id ---
put("portal_session_cookie", "session", "theme=dark; __Host-wb-portal=kq3Lw0s2n7Vb9xYc1dE4fG6hJ8kM0pQrStUvWxYz-_A; lang=de")
put("portal_session_cookie", "two-headers", "__Host-wb-portal=\n__Host-wb-login=x;__Host-wb-portal=kq3Lw0s2n7Vb9xYc1dE4fG6hJ8kM0pQrStUvWxYz-_A")

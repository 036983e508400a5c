"""A real SMTP server for writeback's tests: aiosmtpd with STARTTLS required.

usage: smtp_server.py HOST PORT OUTDIR CERT KEY
Optional AUTH: set SMTP_TEST_USER and SMTP_TEST_PASSWORD in the environment; then
every message must be sent after AUTH (over TLS). With SMTP_TEST_IMPLICIT_TLS=1 the
server speaks TLS from the first byte (port-465 style) instead of STARTTLS.

Each message accepted is written to OUTDIR as NAME.json (written to a temporary name
first, then renamed, so a reader never sees half a file) with the envelope, whether
TLS and AUTH were used, the decoded subject, text and HTML parts, and the raw message.
Prints READY once listening.
"""
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys
import time
import uuid

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def part(msg, kind):
    body = msg.get_body(preferencelist=(kind,))
    return body.get_content() if body is not None else None


class Recorder:
    def __init__(self, outdir):
        self.outdir = outdir

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            # STARTTLS sets session.ssl; implicit TLS shows on the transport.
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(getattr(session, "authenticated", False)),
            "subject": str(msg.get("subject", "")),
            "to": str(msg.get("to", "")),
            "cc": str(msg.get("cc", "")),
            "message_id": str(msg.get("message-id", "")),
            "text": part(msg, "plain"),
            "html": part(msg, "html"),
            "raw": raw.decode("utf-8", errors="replace"),
        }
        name = "%d-%s" % (time.time_ns(), uuid.uuid4().hex)
        tmp = os.path.join(self.outdir, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.outdir, name + ".json"))
        return "250 Message accepted for delivery"


def main():
    host, port, outdir, cert, key = sys.argv[1:6]
    user = os.environ.get("SMTP_TEST_USER")
    password = os.environ.get("SMTP_TEST_PASSWORD")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = Recorder(outdir)

    implicit = os.environ.get("SMTP_TEST_IMPLICIT_TLS") == "1"

    def factory():
        return SMTP(
            handler,
            hostname="localhost",
            tls_context=None if implicit else context,
            require_starttls=not implicit,
            authenticator=authenticator if user else None,
            auth_required=bool(user),
            auth_require_tls=not implicit,
        )

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(factory, host, int(port), ssl=context if implicit else None)
    )
    print("READY", flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()

"""Runs the SCIM community's conformance checker (scim2-tester, on PyPI) against a
writeback SCIM endpoint, for everything its ServiceProviderConfig claims.

    python3 check.py BASE_URL TOKEN USER_ID [CA_FILE]

The token comes from the SCIM_TOKEN environment variable when TOKEN is "-".

scim2-tester's CRUD checks create their own users first (POST /Users); writeback does
not provision and answers POST and DELETE with 501, so those checks cannot apply. They
are replaced here by the same reads and updates done with scim2-client (which validates
every response against RFC 7643/7644) on an existing user, USER_ID. Exits non-zero and
prints each complaint when anything fails. Never sends a real password: the PATCH it
sends carries no password and changes nothing.
"""

import os
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Error, ListResponse, PatchOp, PatchOperation, ResponseParameters, SearchRequest, User
from scim2_tester import Status, check_server


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    base_url, token, user_id = sys.argv[1:4]
    if token == "-":
        token = os.environ.get("SCIM_TOKEN", "")
    verify = sys.argv[4] if len(sys.argv) > 4 else True
    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        verify=verify,
        timeout=30,
    )
    client = SyncSCIMClient(http)
    complaints = []

    # 1. scim2-tester: discovery endpoints and error handling.
    results = check_server(client, include_tags={"discovery", "misc"})
    for r in results:
        line = f"{r.status.name:8} {r.title}: {r.reason or ''}"
        print(line)
        if r.status not in (Status.SUCCESS, Status.SKIPPED):
            complaints.append(line)
    if not results:
        complaints.append("scim2-tester ran no check")

    # 2. Reads and updates on an existing user, every response validated by scim2-client.
    def step(name, fn):
        try:
            fn()
            print(f"SUCCESS  {name}")
        except Exception as exc:  # every failure is a complaint, whatever its type
            line = f"ERROR    {name}: {type(exc).__name__}: {exc}"
            print(line)
            complaints.append(line)

    client.discover()

    def get_one():
        user = client.query(User, user_id)
        assert user.id == user_id and user.user_name, user

    def list_all():
        page = client.query(User, query_parameters=SearchRequest(start_index=1, count=2))
        assert isinstance(page, ListResponse), page
        assert page.total_results >= 1 and len(page.resources or []) <= 2, page

    def filter_by_user_name():
        user = client.query(User, user_id)
        page = client.query(User, query_parameters=SearchRequest(filter=f'userName eq "{user.user_name}"'))
        assert page.total_results == 1 and page.resources[0].id == user_id, page

    def search_endpoint():
        user = client.query(User, user_id)
        page = client.search(User, search_request=SearchRequest(filter=f'userName eq "{user.user_name}"'))
        assert isinstance(page, ListResponse) and page.total_results == 1, page

    def attributes_projection():
        user = client.query(User, user_id, query_parameters=ResponseParameters(attributes=["userName"]))
        assert user.user_name and user.display_name is None, user

    def invalid_filter():
        err = client.query(User, query_parameters=SearchRequest(filter='title co "x"'), raise_scim_errors=False)
        assert isinstance(err, Error) and err.status == 400 and err.scim_type == "invalidFilter", err

    def unknown_id():
        err = client.query(User, "no-such-id", raise_scim_errors=False)
        assert isinstance(err, Error) and err.status == 404, err

    def patch_without_change():
        # `active: true` on an existing account changes nothing (unless unlock is on,
        # and then it clears a lockout that is not there).
        op = PatchOp[User](operations=[PatchOperation(op="replace", path="active", value=True)])
        user = client.modify(User, user_id, op)
        assert user is None or user.id == user_id, user

    for name, fn in [
        ("GET /Users/{id}", get_one),
        ("GET /Users with startIndex and count", list_all),
        ("GET /Users?filter=userName eq", filter_by_user_name),
        ("POST /Users/.search", search_endpoint),
        ("GET /Users/{id}?attributes=userName", attributes_projection),
        ("invalid filter gets invalidFilter", invalid_filter),
        ("unknown id gets 404", unknown_id),
        ("PATCH /Users/{id}", patch_without_change),
    ]:
        step(name, fn)

    print(f"{len(complaints)} complaints")
    for c in complaints:
        print(f"  {c}")
    return 1 if complaints else 0


if __name__ == "__main__":
    sys.exit(main())

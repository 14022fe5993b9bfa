"""Answers that generated requests seldom reach, checked against the documents all the same:
the replay of a retried create, a revalidated card face, a template made by staff and claimed
by a member, and the documents' links followed by schemathesis' state machine. Last, that the
checks do fail a response that breaks its document."""

from __future__ import annotations

import copy
import secrets
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import Case, Response
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.contract.conftest import ADMIN, MINIAPP, Identity
from tests.contract.test_fuzz import CHECKS, ENDS_SESSION, LOGINS, SETTINGS


def send(
    schema: OpenApiSchema, who: Identity, label: str, *, headers: Any = None, **parts: Any
) -> Response:
    """One request built from the document's operation, sent as `who` and checked."""
    method, path = label.split(" ", 1)
    case = schema[path][method].Case(headers=headers, **parts)
    response = case.call(headers=who.headers())
    case.validate_response(response, checks=CHECKS)
    return response


@pytest.fixture(scope="module")
def member(service_url: str) -> Identity:
    """A member of this module's own, with an open card and points to spend."""
    return Identity(service_url, "member")


@pytest.fixture(scope="module")
def rich_member(
    member: Identity, documents: dict[str, OpenApiSchema], identities: dict[str, Identity]
) -> Identity:
    member.headers()
    answer = send(
        documents[ADMIN],
        identities["owner"],
        "POST /members/{member_id}/points-adjustments",
        path_parameters={"member_id": member.id},
        headers={"Idempotency-Key": secrets.token_hex(8)},
        body={"amount": 100_000, "reason": "contract"},
    )
    assert answer.status_code == 201
    return member


def new_template(documents: dict[str, OpenApiSchema], owner: Identity) -> dict[str, Any]:
    body = {"title": "契约券", "kind": "cash", "value": 500, "valid_days": 30}
    answer = send(documents[ADMIN], owner, "POST /coupon-templates", body=body)
    assert answer.status_code == 201
    return dict(answer.json())


class TestReplays:
    def test_a_redemption_retried_with_its_key_answers_200_and_says_so(
        self, documents: dict[str, OpenApiSchema], rich_member: Identity
    ) -> None:
        miniapp = documents[MINIAPP]
        items = send(miniapp, rich_member, "GET /mall/items").json()["items"]
        item = next(item for item in items if item["kind"] == "coupon")
        key = {"Idempotency-Key": secrets.token_hex(8)}
        body = {"item_id": item["id"]}
        first = send(miniapp, rich_member, "POST /mall/redemptions", headers=key, body=body)
        again = send(miniapp, rich_member, "POST /mall/redemptions", headers=key, body=body)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.headers["idempotent-replayed"] == ["true"]

    def test_a_purchase_and_a_refund_sent_again_answer_200(
        self, documents: dict[str, OpenApiSchema], identities: dict[str, Identity], member: Identity
    ) -> None:
        admin, cashier = documents[ADMIN], identities["cashier"]
        member.headers()
        order_no, refund_no = f"C{secrets.token_hex(6)}", f"R{secrets.token_hex(6)}"
        purchase = {"member_id": member.id, "order_no": order_no, "amount_fen": 12_000}
        refund = {"order_no": order_no, "refund_no": refund_no, "amount_fen": 2_000}
        statuses = [
            send(admin, cashier, label, body=body).status_code
            for label, body in [
                ("POST /pos/purchases", purchase),
                ("POST /pos/purchases", purchase),
                ("POST /pos/refunds", refund),
                ("POST /pos/refunds", refund),
            ]
        ]
        assert statuses == [201, 200, 201, 200]

    def test_a_coupon_granted_again_with_its_key_answers_200(
        self, documents: dict[str, OpenApiSchema], identities: dict[str, Identity], member: Identity
    ) -> None:
        owner = identities["owner"]
        template = new_template(documents, owner)
        member.headers()
        key = {"Idempotency-Key": secrets.token_hex(8)}
        grant = {
            "path_parameters": {"member_id": member.id},
            "headers": key,
            "body": {"template_id": template["id"], "reason": "contract"},
        }
        label = "POST /members/{member_id}/coupons"
        first = send(documents[ADMIN], owner, label, **grant)
        again = send(documents[ADMIN], owner, label, **grant)
        assert (first.status_code, again.status_code) == (201, 200)


class TestRevalidation:
    def test_the_card_face_with_its_etag_is_304(
        self, documents: dict[str, OpenApiSchema], member: Identity
    ) -> None:
        face = send(documents[MINIAPP], member, "GET /card/image")
        assert face.status_code == 200
        [etag] = face.headers["etag"]
        again = send(documents[MINIAPP], member, "GET /card/image", headers={"If-None-Match": etag})
        assert again.status_code == 304


class TestAcrossDocuments:
    def test_a_template_made_by_staff_is_claimed_by_a_member(
        self, documents: dict[str, OpenApiSchema], identities: dict[str, Identity], member: Identity
    ) -> None:
        template = new_template(documents, identities["owner"])
        claim = send(
            documents[MINIAPP],
            member,
            "POST /coupons/center/{template_id}/claim",
            path_parameters={"template_id": template["id"]},
        )
        assert claim.status_code == 201
        mine = send(documents[MINIAPP], member, "GET /coupons", query={"status": "unused"})
        assert template["id"] in {coupon["template_id"] for coupon in mine.json()["items"]}


# The state machine leaves out what would end the identity's session or spend its login limits,
# and binding stores to a generated operator id (it may be the cashier the till tests log in as,
# who would then have to name a store).
LEFT_OUT = sorted(
    ENDS_SESSION
    | LOGINS
    | {"PATCH /operators/{operator_id}", "PUT /operators/{operator_id}/stores"}
)


@pytest.mark.parametrize(("who", "prefix"), [("member", MINIAPP), ("owner", ADMIN)])
def test_linked_operations_keep_the_contract(
    who: str, prefix: str, documents: dict[str, OpenApiSchema], identities: dict[str, Identity]
) -> None:
    """From a create's answer to the operations on what it made (the documents' `links`)."""
    identity = identities[who]
    schema = documents[prefix]
    linked = schema.exclude(name=LEFT_OUT)

    followed: list[str] = []  # the operations reached through a link, with its value

    class Machine(linked.as_state_machine()):  # type: ignore[misc]
        def step(self, input: StepInput) -> StepOutput:
            if input.transition is not None and input.applied_parameters:
                followed.append(input.case.operation.label)
            return super().step(input)

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"headers": identity.headers()}

        def validate_response(
            self, response: Response, case: Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS)

    # enough steps per run that a create and then an operation on what it made are drawn from
    # the admin document's many operations (the draw is derandomized: the same every run)
    Machine.run(settings=hypothesis.settings(SETTINGS, stateful_step_count=10))
    if who == "owner":  # a member's redemption rarely succeeds with generated input
        assert followed, "no link was followed"


class TestTheChecksBite:
    """The checks fail an answer that breaks its document (a copy, made wrong on purpose)."""

    @staticmethod
    def broken(schema: OpenApiSchema, service_url: str, path: str, wrong: Any) -> OpenApiSchema:
        raw = copy.deepcopy(schema.raw_schema)
        raw["paths"][path]["get"]["responses"] = wrong(raw["paths"][path]["get"]["responses"])
        found = schemathesis.openapi.from_dict(raw)
        found.config.update(base_url=f"{service_url}{MINIAPP}")
        return found

    def test_a_body_that_breaks_its_schema(
        self, documents: dict[str, OpenApiSchema], member: Identity, service_url: str
    ) -> None:
        def wrong(responses: dict[str, Any]) -> dict[str, Any]:
            body = {"type": "object", "required": ["no_such_field"]}
            responses["200"]["content"]["application/json"]["schema"] = body
            return responses

        schema = self.broken(documents[MINIAPP], service_url, "/card", wrong)
        with pytest.raises(FailureGroup, match="Response violates schema"):
            send(schema, member, "GET /card")

    def test_an_undeclared_status(
        self, documents: dict[str, OpenApiSchema], member: Identity, service_url: str
    ) -> None:
        def wrong(responses: dict[str, Any]) -> dict[str, Any]:
            responses["201"] = responses.pop("200")
            return responses

        schema = self.broken(documents[MINIAPP], service_url, "/card", wrong)
        with pytest.raises(FailureGroup, match="Undocumented status code"):
            send(schema, member, "GET /card")

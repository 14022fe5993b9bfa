"""员工账号 (the owner): the staff accounts; create one, change a role, disable or enable one,
set a new password. Every write goes through handlers/operators, as the admin API's do
(audited there; any change ends the account's sessions). The handler refuses an owner who
would demote or disable themselves; the refusal shows beside their row.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from console.i18n import catalogue, error_text
from console.pages import Pages, form_data, render
from console.session import current_staff
from handlers import operators, stores
from handlers.operators.permissions import Area
from wxmember.core import keys
from wxmember.core.errors import DomainError, NotFound
from wxmember.core.inputs import CleanText, validate
from wxmember.core.models import Operator, Role

pages = Pages()

ACCOUNT = r"{operator_id:\d+}"
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class NewAccount(BaseModel):
    """What the create form sends (the same bounds as the admin API's)."""

    model_config = ConfigDict(extra="ignore")
    username: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64), CleanText
    ]
    display_name: Annotated[str, StringConstraints(max_length=64), CleanText] = ""
    role: Role
    password: Password


def _problem(code: str) -> str:
    return catalogue().get(f"staff.errors.{code}") or error_text(code)


async def _page(
    request: web.Request,
    *,
    status: int = 200,
    create_errors: dict[str, str] | None = None,
    row_error: tuple[int, str] | None = None,
    typed: dict[str, str] | None = None,
) -> web.Response:
    accounts = await operators.list_operators()
    cashiers = [account.id for account in accounts if account.role == Role.CASHIER]
    done, who = request.query.get("done", ""), request.query.get("account", "")
    names = {str(account.id): account.display_name or account.username for account in accounts}
    notice = None
    if done in {
        "created",
        "role_changed",
        "disabled",
        "enabled",
        "password_reset",
        "unchanged",
        "stores_bound",
    }:
        notice = catalogue()[f"staff.{done}"].format(name=names.get(who, ""))
    return render(
        request,
        "staff/list.html",
        status=status,
        accounts=accounts,
        roles=list(Role),
        notice=notice,
        create_errors=create_errors or {},
        row_error=row_error,
        typed=typed or {},
        bound=await stores.bindings_of(cashiers),
        all_stores=await stores.all_stores(),
    )


def _done(what: str, account_id: int) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/console/staff?done={what}&account={account_id}")


@pages.get("/staff", area=Area.STAFF)
async def staff_accounts(request: web.Request) -> web.StreamResponse:
    """Every staff account, and the form to create one."""
    return await _page(request)


@pages.post("/staff", area=Area.STAFF)
async def create_account(request: web.Request) -> web.StreamResponse:
    """Create a staff account (audited); refusals beside the field they concern."""
    form = await form_data(request)
    typed = {name: form.get(name, "") for name in ("username", "display_name", "role")}
    try:
        account = validate(
            NewAccount, {name: form.get(name, "") for name in NewAccount.model_fields}
        )
        created = await operators.create_operator(
            account.username,
            account.password,
            account.role,
            account.display_name,
            actor=current_staff(request),
        )
    except DomainError as exc:
        field = str(exc.details.get("field", "")).split(".")[0]
        where = {"weak_password": "password", "username_taken": "username"}.get(exc.code, field)
        return await _page(
            request,
            status=exc.status,
            create_errors={where or "form": _problem(exc.code)},
            typed=typed,
        )
    raise _done("created", created.id)


async def _change(
    request: web.Request,
    operator_id: int,
    what: str,
    *,
    role: Role | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> web.StreamResponse:
    try:
        await operators.update_operator(
            current_staff(request), operator_id, role=role, active=active, password=password
        )
    except NotFound:
        raise
    except DomainError as exc:
        return await _page(request, status=exc.status, row_error=(operator_id, _problem(exc.code)))
    raise _done(what, operator_id)


async def _account(operator_id: int) -> Operator:
    for account in await operators.list_operators():
        if account.id == operator_id:
            return account
    raise web.HTTPNotFound()


@pages.post(f"/staff/{ACCOUNT}/role", area=Area.STAFF)
async def change_role(request: web.Request, operator_id: int) -> web.StreamResponse:
    """Give an account another role (its sessions end)."""
    form = await form_data(request)
    try:
        role = Role(form.get("role", ""))
    except ValueError:
        return await _page(request, status=400, row_error=(operator_id, _problem("invalid_role")))
    if (await _account(operator_id)).role == role:
        # Saving the same role would still end the account's sessions: nothing to do.
        raise _done("unchanged", operator_id)
    return await _change(request, operator_id, "role_changed", role=role)


@pages.post(f"/staff/{ACCOUNT}/active", area=Area.STAFF)
async def switch_account(request: web.Request, operator_id: int) -> web.StreamResponse:
    """Disable an account (its sessions end) or enable it again."""
    form = await form_data(request)
    active = form.get("active") == "1"
    return await _change(request, operator_id, "enabled" if active else "disabled", active=active)


@pages.post(f"/staff/{ACCOUNT}/password", area=Area.STAFF)
async def reset_password(request: web.Request, operator_id: int) -> web.StreamResponse:
    """Set a new password for an account (its sessions end; audited as "changed")."""
    form = await form_data(request)
    return await _change(request, operator_id, "password_reset", password=form.get("password", ""))


@pages.post(f"/staff/{ACCOUNT}/stores", area=Area.STAFF)
async def bind_stores(request: web.Request, operator_id: int) -> web.StreamResponse:
    """Bind a cashier to exactly the ticked stores (audited); none ticked unbinds them all."""
    form = await request.post()
    ticked = [raw for raw in form.getall("store_id", []) if isinstance(raw, str)]
    chosen = [int(raw) for raw in ticked if raw.isdigit() and len(raw) < 10]
    clock = request.config_dict[keys.SERVICES].clock
    try:
        await stores.bind_stores(current_staff(request), operator_id, chosen, clock)
    except DomainError as exc:
        if exc.code == "operator_not_found":
            raise
        return await _page(request, status=exc.status, row_error=(operator_id, _problem(exc.code)))
    raise _done("stores_bound", operator_id)

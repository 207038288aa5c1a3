"""Sign in (password, then TOTP when the user has one), sign out, language, own profile."""

from __future__ import annotations

from typing import Annotated, Any

import pyotp
import segno
from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Response

from ioc_core import i18n
from ioc_core.auth import sessions
from ioc_core.auth.errors import AuthError, TooManyAttempts
from ioc_core.auth.passwords import hash_password, password_problems, verify_password
from ioc_core.auth.tables import User
from ioc_core.db.audit import audit
from ioc_core.web.access import LANGUAGE_COOKIE
from ioc_core.web.pages import SESSION_COOKIE, page, principal_of

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
PROFILE = "auth.profile"


def safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would help phishing."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _session_cookie(request: Request[Any, Any, Any], response: Response[Any], token: str) -> None:
    settings = request.app.state.runtime.settings
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.https,
        path="/",
        max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
    )


@get("/login", opt={"public": True}, include_in_schema=False)
async def login_form(request: Request[Any, Any, Any], next: FromQuery[str] = "/") -> Response[str]:
    return await page(request, "auth/login.html", {"next": safe_next(next)})


@post("/login", opt={"public": True}, include_in_schema=False)
async def login(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    target = safe_next(data.get("next"))
    context = {"next": target, "username": data.get("username", "")}
    try:
        token, pending = await sessions.sign_in(
            data.get("username", ""), data.get("password", ""), _address(request)
        )
    except TooManyAttempts as exc:
        response = await page(
            request, "auth/login.html", context | {"error": str(exc)}, status_code=429
        )
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    except AuthError as exc:
        return await page(
            request, "auth/login.html", context | {"error": str(exc)}, status_code=422
        )
    redirect = Redirect(f"/login/totp?next={target}" if pending else target, status_code=303)
    _session_cookie(request, redirect, token)
    return redirect


@get("/login/totp", opt={"public": True}, include_in_schema=False)
async def totp_form(request: Request[Any, Any, Any], next: FromQuery[str] = "/") -> Response[str]:
    return await page(request, "auth/totp.html", {"next": safe_next(next)})


@post("/login/totp", opt={"public": True}, include_in_schema=False)
async def totp(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    target = safe_next(data.get("next"))
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        await sessions.verify_second_factor(token, data.get("code", ""), _address(request))
    except TooManyAttempts as exc:
        context = {"next": target, "error": str(exc)}
        return await page(request, "auth/totp.html", context, status_code=429)
    except AuthError as exc:
        context = {"next": target, "error": str(exc)}
        return await page(request, "auth/totp.html", context, status_code=422)
    return Redirect(target, status_code=303)


@post("/logout", opt={"public": True}, include_in_schema=False)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await sessions.sign_out(token)
    response = Redirect("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@post("/language", opt={"public": True}, include_in_schema=False)
async def choose_language(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    """Signed-in users keep their choice in their profile; visitors in a cookie."""
    language = i18n.choose_language(data.get("language"))
    principal = principal_of(request)
    if principal is not None and principal.kind == "user":
        await User.update({User.language: language}).where(User.id == principal.id)
    response = Redirect(safe_next(data.get("next")), status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, language, samesite="lax", path="/", max_age=365 * 86400)
    return response


async def own_user(request: Request[Any, Any, Any]) -> User:
    """The signed-in person's row. An API key may hold auth.profile, but its id names a key,
    not a user: it has no profile."""
    principal = principal_of(request)
    if principal is None or principal.kind != "user":
        raise PermissionDeniedException(i18n.gettext("Sign in to continue."))
    return await User.objects().get(User.id == principal.id)


@get("/profile", opt={"permission": PROFILE}, include_in_schema=False)
async def profile(request: Request[Any, Any, Any]) -> Response[str]:
    user = await own_user(request)
    return await page(request, "auth/profile.html", {"user": user})


@post("/profile/password", opt={"permission": PROFILE}, include_in_schema=False)
async def change_password(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    principal = principal_of(request)
    assert principal is not None
    user = await own_user(request)
    errors: dict[str, str] = {}
    if not verify_password(user.password_hash, data.get("current", "")):
        errors["current"] = i18n.gettext("The current password is wrong.")
    problems = password_problems(data.get("new", ""), user.username)
    if problems:
        errors["new"] = " ".join(problems)
    if data.get("new") != data.get("repeat"):
        errors["repeat"] = i18n.gettext("The two new passwords differ.")
    if errors:
        context = {"user": user, "password_errors": errors}
        return await page(request, "auth/profile.html", context, status_code=422)
    await User.update({User.password_hash: hash_password(data["new"])}).where(User.id == user.id)
    await sessions.end_sessions(user.id, keep_token=request.cookies[SESSION_COOKIE])
    await audit(principal.actor, "user.password", user.username, None, None)
    await sessions.add_flash(
        request.cookies[SESSION_COOKIE], "success", i18n.gettext("Password changed.")
    )
    return Redirect("/profile", status_code=303)


@post("/profile/totp", opt={"permission": PROFILE}, include_in_schema=False)
async def set_up_totp(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    """Turn the second factor on (a new secret, confirmed by one code) or off."""
    principal = principal_of(request)
    assert principal is not None
    user = await own_user(request)
    if data.get("action") == "disable":
        await User.update({User.totp_secret: None}).where(User.id == user.id)
        await audit(principal.actor, "user.totp", user.username, {"totp": True}, {"totp": False})
        return Redirect("/profile", status_code=303)
    secret = data.get("secret") or pyotp.random_base32()
    code = data.get("code", "").strip()
    if code and pyotp.TOTP(secret).verify(code, valid_window=1):
        await User.update({User.totp_secret: secret}).where(User.id == user.id)
        await audit(principal.actor, "user.totp", user.username, {"totp": False}, {"totp": True})
        return Redirect("/profile", status_code=303)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="IOC")
    context = {
        "user": user,
        "totp_secret": secret,
        "totp_qr": segno.make(uri).svg_inline(scale=4),
        "totp_error": i18n.gettext("Wrong code.") if code else None,
    }
    return await page(request, "auth/profile.html", context, status_code=422 if code else 200)


def routes() -> list[Any]:
    return [
        login_form,
        login,
        totp_form,
        totp,
        logout,
        choose_language,
        profile,
        change_password,
        set_up_totp,
    ]

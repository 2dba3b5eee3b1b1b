"""The connection to a KFP 1.2 API: the preflight, the wrapped `kfp.Client`, and every failure as one line.

Owns: connecting (Dex login if asked, one healthz preflight, the real `kfp.Client` of kfp 1.2.0),
running each kfp call (`KfpConnection.call`) and reading each field of its answer
(`KfpConnection.need`), and the error mapping (`KfpErrors`): HTTP statuses, login redirects, HTML
pages and unreachable hosts become one SubmitError line naming the cause and the fix, with every
credential scrubbed out (secrecy.scrub) and the server's text clipped. Separate from the steps
(kfp_publish, kfp_submit, kfp_follow) so that what a step does reads apart from how a call can fail;
separate from kfp_auth because these need the server. Must not: decide what to upload or run.

kfp 1.2 quirks handled here, in one place each:
* `kfp.Client.__init__` polls healthz up to 5 times with 5-second sleeps when the server answers
  with an HTTP error, and follows redirects into HTML login pages; `_preflight` asks healthz
  once, without redirects and with a timeout, so a wrong host, path or credential fails at once.
* kfp_server_api 1.8.5 calls urllib3's deprecated `getheader(s)` on every response
  (DeprecationWarning); `quiet_kfp` silences exactly that, around our kfp calls only.
* kfp_server_api sends requests without a timeout and lets urllib3 follow redirects, so an
  expired Kubeflow session (a 302 to the Dex login page) comes back as an empty model object;
  `_wrap_rest` gives this client's REST object `request_timeout`, no redirects (a 3xx is an
  error naming the login page) and refuses an HTML page as an answer. `need` still checks
  every field we read, for any other empty answer.
* kfp 1.2's create/list/get_experiment fall back to the namespace saved in
  ~/.config/kfp/context.json (`set_user_namespace`); a single-user server refuses any namespace,
  so `connect` clears that fallback (in memory only) on single-user servers.
"""
from __future__ import annotations

import contextlib
import json
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from . import quiet
from .errors import FOREIGN_TEXT, SubmitError, bounded
from .kfp_auth import API_PATH, SESSION_COOKIE, KfpAuth, connection_reason, dex_login
from .secrecy import scrub, without_userinfo

_LOGIN_LOCATION = re.compile(r"dex|auth|login|oauth|sign", re.I)


@contextlib.contextmanager
def quiet_kfp() -> Iterator[None]:
    """Silence only the warnings kfp 1.2 and kfp_server_api 1.8.5 cause, around our kfp calls.

    kfp_server_api's rest.py calls urllib3 1.26's deprecated HTTPResponse.getheader(s)
    (DeprecationWarning on every response); importing kfp 1.2 emits DeprecationWarnings from
    its own and kubernetes' modules. Neither is the user's concern. Callers hold it for a whole
    conversation with the server (connect to the last poll).
    """
    def filters() -> None:
        warnings.filterwarnings("ignore", category=DeprecationWarning,
                                message=r"HTTPResponse\.getheaders?\(\) is deprecated")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(kfp|kubernetes|kfp_server_api)\b")

    # Held for the whole session: quiet.py says why filter changes must not overlap.
    with quiet.silenced(filters):
        yield


# ---- the error mapping ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class KfpErrors:
    """How to say a failed request to this server: one line, naming the cause and the fix.

    Holds what every message needs — the host, which credential was tried (never its value) and
    the session cookie really sent (a Dex login makes one), so each can be scrubbed out of the
    server's or a library's text before it becomes part of a message.
    """

    host: str
    auth: KfpAuth
    cookie: str | None = field(default=None, repr=False)

    def error(self, action: str, exc: BaseException) -> SubmitError:
        """One clear line for a failed kfp call, naming the cause and the fix."""
        status = getattr(exc, "status", None)
        if isinstance(exc, _HtmlAnswer):
            return self.html(action, exc.status)
        if isinstance(status, int) and 300 <= status < 400:
            headers = getattr(exc, "headers", None) or {}
            return self.redirect(action, status, str(headers.get("Location", "") or ""))
        if isinstance(status, int) and status >= 400:
            return self.http(action, status, getattr(exc, "body", "") or "")
        import urllib3

        if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
            return SubmitError(f"{action}: cannot reach the KFP API at {self.host}: "
                               f"{self.foreign(connection_reason(exc))}")
        if isinstance(exc, ValueError):  # kfp's own checks, e.g. several pipelines with one name
            return SubmitError(f"{action}: {self.foreign(str(exc))}")
        return SubmitError(f"{action}: {type(exc).__name__}: {self.foreign(str(exc))}")

    def redirect(self, action: str, status: int, location: str) -> SubmitError:
        """A 3xx from the KFP API: a login page (not authenticated, or no longer) or a moved host."""
        prefix = f"{action}: " if action else ""
        if _LOGIN_LOCATION.search(location):
            if self.auth.kind in ("cookie", "dex") and action:
                fix = (f"the session may have expired: log in again (--username/--password) or pass "
                       f"a fresh --cookie ({SESSION_COOKIE})")
            else:
                fix = (f"pass --cookie ({SESSION_COOKIE}) or --username/--password for a Dex login, "
                       "or --token")
            return SubmitError(f"{prefix}not authenticated (the KFP API at {self.host} redirected to "
                               f"its login page, HTTP {status}) with {self.auth.describe()}; {fix}")
        target = without_userinfo(self.scrub(location))
        moved = target
        api = moved.find(API_PATH)
        if api >= 0:  # the redirect of an API call: the host is what comes before the API path
            moved = moved[:api]
        return SubmitError(f"{prefix}the KFP API at {self.host} redirected to {bounded(target, FOREIGN_TEXT)!r} "
                           f"(HTTP {status}); give {bounded(moved, FOREIGN_TEXT)!r} as --host")

    def html(self, action: str, status: int) -> SubmitError:
        """A 2xx HTML page where KFP answers JSON: a login page or a proxy served instead."""
        return SubmitError(f"{action}: the KFP API at {self.host} answered with an HTML page, not "
                           f"KFP's JSON (HTTP {status}): a login page? not authenticated with "
                           f"{self.auth.describe()}, or the host path is wrong (usually /pipeline)")

    def http(self, action: str, status: int, body: Any) -> SubmitError:
        """An HTTP error status: 401/403 name the credential tried, a bare 404 the host path."""
        message = self.foreign(_server_message(body))
        said = f": {message}" if message else ""
        if status == 401:
            return SubmitError(f"{action}: the KFP API at {self.host} refused the request as not "
                               f"authenticated (HTTP 401) with {self.auth.describe()}{said}")
        if status == 403:
            return SubmitError(f"{action}: the KFP API at {self.host} refused the request as forbidden "
                               f"(HTTP 403) with {self.auth.describe()}{said}; check the credentials and "
                               "that the namespace is yours")
        if status == 404 and not _is_kfp_error(body):
            return SubmitError(f"{action}: nothing answers at {self.host}{API_PATH} (HTTP 404): wrong "
                               "host path? The KFP API path is usually /pipeline, e.g. "
                               "https://kubeflow.example.com/pipeline or http://127.0.0.1:8888/pipeline")
        if _looks_like_conflict(status, message):
            return SubmitError(f"{action}: name conflict on the KFP server (HTTP {status}){said}")
        return SubmitError(f"{action}: the KFP server refused the request (HTTP {status}){said}")

    def scrub(self, text: str) -> str:
        """`text` without any credential of this session (including a cookie Dex gave us)."""
        cookie = (self.cookie, self.cookie.split("=", 1)[-1]) if self.cookie else ()
        return scrub(text, (*self.auth.secrets(), *cookie))

    def foreign(self, text: str) -> str:
        """A server's or library's text as part of our message: scrubbed first, then clipped."""
        return bounded(self.scrub(str(text)), FOREIGN_TEXT)


class _HtmlAnswer(Exception):
    """Raised inside kfp's REST call when a 2xx answer is an HTML page (turned into a SubmitError)."""

    def __init__(self, status: int):
        super().__init__(f"HTML page (HTTP {status})")
        self.status = status


def _server_message(body: Any) -> str:
    """The message in a KFP error body (grpc-gateway or upload-server JSON), else its first line.

    Whole, not shortened: the caller scrubs it of credentials first, then clips it.
    """
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = str(body or "").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error_message", "error", "message"):
            if isinstance(data.get(key), str) and data[key]:
                return data[key].strip()
    if text.lstrip().startswith("<"):
        return ""  # an HTML page says nothing useful in one line
    return text.splitlines()[0] if text else ""


def _is_kfp_error(body: Any) -> bool:
    """Whether an error body is KFP's own JSON (a 404 from KFP means a missing object, not a wrong path)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(str(body or ""))
    except ValueError:
        return False
    return isinstance(data, dict) and any(k in data for k in ("error_message", "error", "code"))


def _looks_like_conflict(status: int, message: str) -> bool:
    return status == 409 or "already exist" in message.lower()


def is_conflict(exc: BaseException) -> bool:
    """Whether a failed kfp call was refused for a name that already exists (the upload step retries)."""
    status = getattr(exc, "status", None)
    return isinstance(status, int) and _looks_like_conflict(status, _server_message(getattr(exc, "body", "")))


# ---- the connection ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class KfpConnection:
    """A connected kfp.Client and its error mapping: what every step after connecting uses.

    `multi_user` is what healthz said; the steps decide the namespace from it.
    """

    client: Any
    errors: KfpErrors
    multi_user: bool

    @property
    def host(self) -> str:
        return self.errors.host

    def call(self, action: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one kfp.Client call; every failure becomes one SubmitError line."""
        try:
            return func(*args, **kwargs)
        except SubmitError:
            raise
        except Exception as exc:  # kfp raises ApiException, urllib3 errors and bare ValueErrors
            raise self.errors.error(action, exc) from None

    def need(self, action: str, obj: Any, path: str, what: str) -> Any:
        """The field at `path` ("run.id") of a kfp answer, or one SubmitError line if it is empty.

        kfp_server_api turns any answer it cannot read (an empty body, `{}`, a page from a proxy)
        into a model object whose fields are all None; reading on would be an AttributeError.
        """
        value = obj
        for part in path.split("."):
            value = getattr(value, part, None) if value is not None else None
        if value is None or value == "":
            auth = self.errors.auth
            hint = ("has the session expired? log in again" if auth.kind in ("cookie", "dex")
                    else "is a login page or a proxy in front of the API?")
            raise SubmitError(f"{action}: the KFP API at {self.host} answered without {what} (an "
                              f"empty or foreign answer with {auth.describe()}; {hint})")
        return value


def connect(host: str, auth: KfpAuth, request_timeout: float) -> KfpConnection:
    """Log in if asked, ask healthz once (fast, clear errors), then build kfp.Client."""
    cookie = auth.cookie_header()
    if auth.kind == "dex":
        cookie = dex_login(host, auth, timeout=request_timeout)
    errors = KfpErrors(host=host, auth=auth, cookie=cookie)
    healthz = _preflight(errors, request_timeout)
    import kfp

    try:
        client = kfp.Client(host=host, existing_token=auth.token or None, cookies=cookie)
    except Exception as exc:  # kfp.Client raises anything; healthz just worked, so say so
        raise errors.error("connecting", exc) from None
    _wrap_rest(client, request_timeout)
    multi_user = bool(healthz.get("multi_user"))
    if not multi_user:
        _forget_saved_namespace(client)
    return KfpConnection(client=client, errors=errors, multi_user=multi_user)


def _forget_saved_namespace(client: Any) -> None:
    """Single-user servers refuse any namespace: drop kfp's saved one, in memory only.

    kfp 1.2's create_experiment / get_experiment / list_experiments / list_runs send
    `namespace or self.get_user_namespace()`, the namespace `set_user_namespace` saved in
    ~/.config/kfp/context.json (for another, multi-user cluster, say); the file is not touched.
    """
    settings = getattr(client, "_context_setting", None)
    if isinstance(settings, dict):
        settings["namespace"] = ""


def _headers(errors: KfpErrors) -> dict[str, str]:
    """The preflight's headers: the same credential kfp.Client will send."""
    headers = {"Accept": "application/json"}
    if errors.auth.token:
        headers["Authorization"] = f"Bearer {errors.auth.token}"
    if errors.cookie:
        headers["Cookie"] = errors.cookie
    return headers


def _preflight(errors: KfpErrors, request_timeout: float) -> dict[str, Any]:
    """GET healthz once: unreachable, login redirects, 401/403 and 404 each get one line."""
    import requests

    host = errors.host
    url = host + API_PATH + "/healthz"
    try:
        response = requests.get(url, headers=_headers(errors), allow_redirects=False,
                                timeout=request_timeout)
    except requests.exceptions.Timeout:
        raise SubmitError(f"cannot reach the KFP API at {host}: no answer within "
                          f"{request_timeout:g} s") from None
    except requests.exceptions.RequestException as exc:
        raise SubmitError(f"cannot reach the KFP API at {host}: {errors.foreign(connection_reason(exc))}") from None
    status = response.status_code
    if 300 <= status < 400:
        raise errors.redirect("", status, response.headers.get("Location", ""))
    if status >= 400:
        raise errors.http("connecting", status, response.text)
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SubmitError(f"{host} is not a KFP API: {API_PATH}/healthz did not answer JSON "
                          f"(HTTP {status}); the KFP API path is usually /pipeline, "
                          "e.g. https://kubeflow.example.com/pipeline")
    return data


def _wrap_rest(client: Any, request_timeout: float) -> None:
    """Every kfp call: a (connect, read) timeout, no redirects, and no HTML page as an answer.

    kfp.Client's methods have no timeout argument, and kfp_server_api's RESTClientObject sends
    `timeout=None` to urllib3 unless `_request_timeout` is given; so this client's (one,
    shared) REST object gets a default `_request_timeout`. Its urllib3 pool follows redirects,
    so an expired Kubeflow session (302 to the Dex login page) would come back as the login
    page, which kfp_server_api turns into an empty object: the pool is told not to follow
    (the 3xx becomes an ApiException that `KfpErrors.error` explains), and a 2xx HTML page is
    refused. Only this instance is touched.
    """
    api_client = getattr(getattr(client, "_run_api", None), "api_client", None)
    rest = getattr(api_client, "rest_client", None)
    if rest is None or not callable(getattr(rest, "request", None)):
        return
    pool = getattr(rest, "pool_manager", None)
    if pool is not None and callable(getattr(pool, "request", None)):
        pool_request = pool.request

        def no_redirects(*args: Any, **kwargs: Any) -> Any:
            kwargs["redirect"] = False
            return pool_request(*args, **kwargs)

        pool.request = no_redirects
    send = rest.request
    limits = (request_timeout, request_timeout)

    def request(*args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
        response = send(*args, _request_timeout=_request_timeout or limits, **kwargs)
        data = getattr(response, "data", None)
        if isinstance(data, (bytes, str)) and data[:200].lstrip()[:1] in (b"<", "<"):
            raise _HtmlAnswer(getattr(response, "status", 200))
        return response

    rest.request = request

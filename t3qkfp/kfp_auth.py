"""Who the KFP API is and who we are to it: the host address, the credential, the Dex login.

Owns: `KfpAuth` (none, bearer token, Kubeflow's `authservice_session` cookie, or a Dex
username/password; which env vars stand in for arguments), `normalize_host` (the address
before /apis/v1beta1, never with a user:password@ in it) and `dex_login` (the Kubeflow 1.2 login
Elyra 2.x does, ending in the session cookie). Separate from the client calls (kfp_client) because
these are decided before any KFP call is made, and a credential is checked here once, before it
is sent anywhere. Must not: call the KFP API, or let a secret reach a repr or a message.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping

from .errors import FOREIGN_TEXT, SubmitError, UsageError, bounded, shown
from .secrecy import check_header_value, refuse_userinfo, scrub

API_PATH = "/apis/v1beta1"
SESSION_COOKIE = "authservice_session"
# Env vars read when no credential is passed; never read from the pipeline file.
ENV_TOKEN = "T3QKFP_KFP_TOKEN"
ENV_COOKIE = "T3QKFP_KFP_COOKIE"
ENV_USERNAME = "T3QKFP_KFP_USERNAME"
ENV_PASSWORD = "T3QKFP_KFP_PASSWORD"
ENV_NAMESPACE = "T3QKFP_KFP_NAMESPACE"
_CREDENTIAL_VARS = (ENV_TOKEN, ENV_COOKIE, ENV_USERNAME, ENV_PASSWORD)  # in the order of KfpAuth's kinds


@dataclass(frozen=True, slots=True, kw_only=True)
class KfpAuth:
    """How to authenticate to the KFP API; secrets are left out of repr so they never reach logs.

    At most one kind: a bearer `token` (IAP, istio JWT, ...), the `cookie` of a Kubeflow 1.2
    multi-user cluster (`authservice_session`, value alone or `authservice_session=...`), or a
    Dex `username`/`password` to log in with. `origin` says where they came from, for messages.
    Surrounding whitespace of a token or cookie is dropped: read from a secret file it usually
    ends with a newline, which no HTTP header can carry.
    """

    token: str | None = field(default=None, repr=False)
    cookie: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    origin: str = "arguments"

    def __post_init__(self) -> None:
        for name in ("token", "cookie"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, value.strip() or None)

    @classmethod
    def resolve(cls, *, token: str | None = None, cookie: str | None = None,
                username: str | None = None, password: str | None = None,
                env: Mapping[str, str] | None = None) -> "KfpAuth":
        """Arguments if any is given, else the T3QKFP_KFP_* env vars, else no credentials.

        The one mix allowed: a Dex username given as an argument with the password from
        $T3QKFP_KFP_PASSWORD (or the other way round), so the password stays off the command line.
        """
        env = os.environ if env is None else env
        if token or cookie or username or password:
            from_env = []
            if username and not password and env.get(ENV_PASSWORD):
                password, from_env = env[ENV_PASSWORD], [ENV_PASSWORD]
            elif password and not username and env.get(ENV_USERNAME):
                username, from_env = env[ENV_USERNAME], [ENV_USERNAME]
            origin = "arguments" + (f" and env {from_env[0]}" if from_env else "")
            return cls(token=token or None, cookie=cookie or None, username=username or None,
                       password=password or None, origin=origin)
        values = {key: env.get(var) or None for key, var in (
            ("token", ENV_TOKEN), ("cookie", ENV_COOKIE), ("username", ENV_USERNAME),
            ("password", ENV_PASSWORD))}
        used = [var for var in _CREDENTIAL_VARS if env.get(var)]
        return cls(**values, origin=f"env {', '.join(used)}" if used else "none")

    @property
    def kind(self) -> str:
        """"none", "token", "cookie" or "dex" (after check(), exactly one applies)."""
        if self.token:
            return "token"
        if self.cookie:
            return "cookie"
        if self.username or self.password:
            return "dex"
        return "none"

    def check(self) -> None:
        """Refuse mixed or half-given credentials before anything is sent."""
        for name, value in (("token", self.token), ("cookie", self.cookie), ("username", self.username),
                            ("password", self.password)):
            if value is not None and not isinstance(value, str):
                raise UsageError(f"the KFP {name} must be a str, not {type(value).__name__}")
        kinds = [k for k, v in (("token", self.token), ("cookie", self.cookie),
                                ("username/password", self.username or self.password)) if v]
        if len(kinds) > 1:
            raise UsageError(f"give one kind of KFP credential, not {' and '.join(kinds)} ({self.origin})")
        if (self.username is None) != (self.password is None):
            missing = "password" if self.password is None else "username"
            raise UsageError(f"Dex login needs a username and a password; the {missing} is missing "
                             f"(--{missing} or ${ENV_PASSWORD if missing == 'password' else ENV_USERNAME})")
        where = "" if self.origin in ("arguments", "none") else f" (from {self.origin})"
        if self.token:
            check_header_value(self.token, f"the KFP bearer token{where}")
        if self.cookie:
            check_header_value(self.cookie, f"the KFP {SESSION_COOKIE} cookie{where}", spaces=True)

    def describe(self) -> str:
        """Which auth was tried, without any secret: for error messages."""
        where = "" if self.origin in ("arguments", "none") else f" from {self.origin}"
        return {"none": "no credentials",
                "token": f"a bearer token{where}",
                "cookie": f"an {SESSION_COOKIE} cookie{where}",
                "dex": f"a Dex login as {shown(self.username)}{where}"}[self.kind]

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, so messages can be scrubbed of them (secrecy.scrub)."""
        values = [self.token, self.cookie, self.password]
        if self.cookie and "=" in self.cookie:
            values.append(self.cookie.split("=", 1)[1])
        return tuple(v for v in values if v)

    def cookie_header(self) -> str | None:
        """The Cookie header for a session cookie given alone or as name=value."""
        if not self.cookie:
            return None
        return self.cookie if "=" in self.cookie else f"{SESSION_COOKIE}={self.cookie}"


def normalize_host(host: str) -> str:
    """`http(s)://host[:port][/path]` without a trailing slash, or UsageError.

    A user:password@ in the host is refused first: kfp.Client would send it nowhere useful and
    every run link we print would show it.
    """
    refuse_userinfo(host or "", "KFP host", "pass --token, --cookie, or --username with "
                    f"${ENV_PASSWORD} (Python: auth=KfpAuth(...))")
    text = (host or "").strip().rstrip("/")
    if not re.match(r"https?://[^/\s]+", text):
        raise UsageError(f"KFP host {shown(host)} must be a URL such as http://127.0.0.1:8888 or "
                         "https://kubeflow.example.com/pipeline")
    if text.endswith(API_PATH) or API_PATH + "/" in text:
        raise UsageError(f"KFP host {shown(host)}: give the address before {API_PATH} "
                         "(for example https://kubeflow.example.com/pipeline)")
    return text


def dex_login(host: str, auth: KfpAuth, *, timeout: float = 30.0) -> str:
    """Log in through Dex like Elyra 2.x and return the `authservice_session` Cookie header.

    Kubeflow 1.2 (istio + oidc-authservice + Dex): GET the cluster root (the host without
    /pipeline) follows redirects to Dex's login form; POSTing `login`/`password` there
    follows redirects back through authservice, which sets the session cookie.
    """
    import requests
    from urllib.parse import urlsplit

    parts = urlsplit(host)
    root = f"{parts.scheme}://{parts.netloc}/"
    with requests.Session() as http:
        try:
            page = http.get(root, timeout=timeout)
            if not re.search(r"/(dex|auth)\b", urlsplit(page.url).path):
                raise SubmitError(f"Dex login as {shown(auth.username)}: {root} did not lead to a Dex login "
                                  f"page (ended at {urlsplit(page.url).path or '/'}); this cluster may "
                                  "not use Dex: pass --cookie or --token instead")
            http.post(page.url, data={"login": auth.username or "", "password": auth.password or ""},
                      timeout=timeout)
        except requests.exceptions.RequestException as exc:
            reason = bounded(scrub(connection_reason(exc), auth.secrets()), FOREIGN_TEXT)
            raise SubmitError(f"Dex login as {shown(auth.username)}: cannot reach {root}: {reason}") from None
        value = http.cookies.get(SESSION_COOKIE)
    if not value:
        raise SubmitError(f"Dex login as {shown(auth.username)} failed: no {SESSION_COOKIE} cookie came back "
                          "(wrong username or password?)")
    return f"{SESSION_COOKIE}={value}"


def connection_reason(exc: BaseException) -> str:
    """The innermost cause of a connection failure (urllib3 nests them deeply); scrub, then clip it.

    Here because the Dex login is the first request that can fail to connect; kfp_client's
    preflight and calls say their connection failures with the same words.
    """
    seen = exc
    for _ in range(6):
        inner = getattr(seen, "reason", None) or (seen.args[0] if getattr(seen, "args", None) else None)
        if isinstance(inner, BaseException) and inner is not seen:
            seen = inner
            continue
        break
    text = str(seen)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if match:
        return match.group(1).strip()
    text = re.sub(r"<[^>]*object at 0x[0-9a-f]+>:?\s*", "", text)
    return text.strip() or type(seen).__name__


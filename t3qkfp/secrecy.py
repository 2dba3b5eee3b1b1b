"""Keeping credentials out of URLs, HTTP headers and messages.

Owns: the rules for where a credential must not be — userinfo (`user:password@`) in a URL, and
characters an HTTP header cannot carry in a token or cookie — and scrubbing known secret values
out of foreign text (requests, urllib3, kfp_server_api, minio messages) before that text becomes
part of a t3qkfp error.
Must not: quote a value it refuses (a refused credential is still a credential), or print.
"""
from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import quote

from .errors import UsageError

MIN_SCRUBBED = 4  # shorter secrets are not scrubbed (see scrub)
# Where the authority ends in every URL parser we meet (urllib, urllib3, requests, minio, Go's
# net/url): the first '/', '?' or '#' after "//". An '@' before it is userinfo to all of them.
_AUTHORITY = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.-]*:)?//([^/?#]*)")


def _userinfo_span(url: str) -> tuple[int, int] | None:
    """Where the `user[:password]@` part of a URL is, or None when it has none."""
    match = _AUTHORITY.match(url)
    at = match.group(2).rfind("@") if match else -1
    return None if at < 0 else (match.start(2), match.start(2) + at + 1)


def without_userinfo(url: str) -> str:
    """The URL with any `user:password@` replaced by `***@`, so a message can still show where."""
    span = _userinfo_span(url)
    return url if span is None else url[:span[0]] + "***@" + url[span[1]:]


def refuse_userinfo(url: str, what: str, instead: str) -> None:
    """UsageError if `url` carries `user[:password]@`, saying where the credentials go instead.

    A password in a URL travels everywhere the URL does: into every container's node spec in
    the compiled YAML (the storage endpoint), the run links we print (the KFP host), logs.
    The message shows the URL with the userinfo replaced, never the userinfo itself.
    """
    if _userinfo_span(url) is not None:
        raise UsageError(f"{what} {without_userinfo(url)!r} holds a user name or password "
                         f"(user:password@ in the URL); credentials never go into a URL: {instead}")


def check_header_value(value: str, what: str, *, spaces: bool = False) -> None:
    """UsageError if a token or cookie has a character an HTTP header cannot carry.

    HTTP header values are visible ASCII (RFC 9110 field-value; obs-text is legacy and no token
    or cookie uses it); http.client refuses CR/LF and cannot encode what is not latin-1, and
    requests echoes the whole header in its error. `spaces` allows inner spaces and tabs (a
    Cookie header with several `name=value; ` pairs). The message names the position and the
    kind of character only, never the value.
    """
    for index, ch in enumerate(value):
        if "!" <= ch <= "~" or (spaces and ch in " \t"):
            continue
        if ch in "\r\n":
            kind = "a line break"
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            kind = "a control character"
        elif ch in " \t":
            kind = "a space"
        elif ch.isspace():
            kind = "a non-ASCII space"
        else:
            kind = "a non-ASCII character (a typographic quote or dash pasted with it?)"
        raise UsageError(f"{what} has {kind} at character {index + 1}, which an HTTP header cannot "
                         "carry; check the value (the message does not show it)")


def secret_forms(secret: str) -> set[str]:
    """Every spelling under which a secret may turn up in a foreign message.

    As is; as Python's repr escapes it (requests and urllib3 put header values in messages with
    %r); with unicode escapes; and percent-encoded (a URL or form body).
    """
    forms = {secret, repr(secret)[1:-1], secret.encode("unicode_escape").decode("ascii"),
             quote(secret, safe=""), repr(secret.encode("utf-8", "backslashreplace"))[2:-1]}
    return {form for form in forms if form}


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every spelling of every secret replaced by `***`.

    Call it on the whole foreign text, before shortening it: a cut can leave half a secret
    that no longer matches. Secrets shorter than MIN_SCRUBBED characters are left: they cannot
    be told from ordinary text (a password "p" would turn every "p" of a message into ***),
    and a secret that short is no secret.
    """
    forms: set[str] = set()
    for secret in secrets:
        if secret and len(secret.strip()) >= MIN_SCRUBBED:
            forms |= secret_forms(secret)
            if secret.strip() != secret:
                forms |= secret_forms(secret.strip())
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text

"""uvicorn's HTTP/1.1 protocol, answering what its parser refuses as problem+json.

A request line or headers too long for the parser (llhttp stops at about 80 KB: a
100,000-character cursor) or not HTTP at all never reaches the app, so the app's handlers
cannot answer it; uvicorn then wrote a text/plain 400. Every answer of this API is
application/problem+json (docs/errors.md), this one too.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from infra.http.problems import MEDIA_TYPE, PROBLEMS, TYPE_PREFIX

_CODE = "malformed-request"
_BODY = json.dumps({
    "type": TYPE_PREFIX + _CODE, "title": PROBLEMS[_CODE][1], "status": 400,
    "detail": "The request line or headers could not be read: too long (over about 80 KB) "
              "or not HTTP/1.1.",
}).encode()


class ProblemHttpProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head += [b"content-type: " + MEDIA_TYPE.encode() + b"\r\n",
                 b"content-length: " + str(len(_BODY)).encode() + b"\r\n",
                 b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + _BODY)
        self.transport.close()

"""uvicorn's httptools protocol with its one plain-text answer turned into a problem.

A request the HTTP parser itself rejects (a DEL byte in a header, a malformed request
line) never reaches the application, and uvicorn answers it with ``text/plain``. Every
other error of the API is ``application/problem+json``; clients should not need a second
error format for the rare malformed request, so this protocol writes the same problem
shape there. The request id and security headers are absent: no request was parsed.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from pos.order_api.problems import BAD_REQUEST, PROBLEM_MEDIA_TYPE, problem_body


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        body = problem_body(
            BAD_REQUEST,
            f"{msg} The HTTP request could not be parsed.",
            instance="",
            request_id=None,
        )
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"x-content-type-options: nosniff\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()

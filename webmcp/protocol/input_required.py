"""Multi-round-trip requests (2026-07-28): a tool asks the client for input by returning `input_required`.

On the sessionless revision a server cannot send requests to the client. A tool that awaits
`ctx.elicit()`, `ctx.sample()` or `ctx.list_roots()` is stopped at its first unanswered question;
the call answers `{"resultType": "input_required", "inputRequests": {key: request}, "requestState"}`.
The client asks its user or model and calls again with `inputResponses` and the `requestState`.
The tool then runs again from the start and every question it asks is answered from what the
client has sent so far, so the same tool code serves both revisions. Questions asked at once
(`asyncio.gather`) are all sent in one round.

`requestState` carries the answers of earlier rounds. It is sealed with an HMAC over the method,
the tool or prompt and its arguments: a state that was altered, or made for another call, or is
older than its time to live, is refused with -32602.

Contract: a tool must not act on the world before its last question is answered, since it runs
once per round (like any retried request).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from typing import Any

import orjson

from webmcp.call.context import InputRequired
from webmcp.call.jsonrpc import INVALID_PARAMS
from webmcp.errors import ProtocolError

_REQUIRED_FIELD = {"elicitation/create": "action", "sampling/createMessage": "content", "roots/list": "roots"}


def _digest(value: Any) -> str:
    raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:12]).decode()


class Seal:
    """Signs and checks `requestState`. One per process; instances behind a load balancer share the key."""

    def __init__(self, key: bytes | None, ttl: float) -> None:
        self._key = key or os.urandom(32)
        self.ttl = ttl

    def _mac(self, payload: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, payload, hashlib.sha256).digest()).decode().rstrip("=")

    def seal(self, binding: str, answers: dict[str, Any], asked: dict[str, str]) -> str:
        payload = orjson.dumps({"b": binding, "t": int(time.time()), "a": answers, "q": asked})
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + self._mac(payload)

    def open(self, token: Any, binding: str) -> tuple[dict[str, Any], dict[str, str]]:
        """The answers and question digests a state carries, or -32602 saying why not."""
        if not isinstance(token, str) or token.count(".") != 1:
            raise _bad_state("is not a state this server issued")
        body, mac = token.split(".")
        try:
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (ValueError, TypeError):
            raise _bad_state("is not a state this server issued") from None
        if not hmac.compare_digest(self._mac(payload).encode(), mac.encode("utf-8", "replace")):
            raise _bad_state("failed its integrity check (altered, or issued by a server with another key)")
        state = orjson.loads(payload)
        if state.get("b") != binding:
            raise _bad_state("was issued for another call (tool, prompt or arguments differ)")
        if time.time() - state.get("t", 0) > self.ttl:
            raise _bad_state(f"expired (older than {self.ttl:g}s); call again without it")
        return state.get("a") or {}, state.get("q") or {}


def _bad_state(why: str) -> ProtocolError:
    return ProtocolError(INVALID_PARAMS, f"requestState {why}")


class Inputs:
    """The answers one round of a call can use, and the questions it asked."""

    __slots__ = ("_answers", "_arguments", "_asked", "_binding", "_expected", "_seal", "_target", "pending")

    def __init__(self, seal: Seal, method: str, target: str, arguments: Any, params: dict[str, Any]) -> None:
        self._seal = seal
        self._target = f"{method} {target}"
        self._arguments = arguments
        self._binding: str | None = None  # computed when a state is read or made: most calls ask nothing
        self._answers: dict[str, Any] = {}
        self._expected: dict[str, str] = {}  # key -> digest of the question it answers
        self._asked: dict[str, str] = {}
        self.pending: dict[str, dict[str, Any]] = {}
        if params.get("requestState") is not None:
            self._answers, self._expected = seal.open(params["requestState"], self.binding)
        if "inputResponses" in params:
            responses = params["inputResponses"]
            if not isinstance(responses, dict):
                raise ProtocolError(INVALID_PARAMS, "params.inputResponses must be an object of responses by key")
            for key, value in responses.items():
                if not isinstance(value, dict):
                    raise ProtocolError(INVALID_PARAMS, f"params.inputResponses.{key} must be an object (the "
                                        "result of the request sent under that key)")
            self._answers = {**self._answers, **responses}

    @property
    def binding(self) -> str:
        """What a state is bound to: the method, the tool or prompt, and a digest of the arguments."""
        if self._binding is None:
            self._binding = f"{self._target} {_digest(self._arguments)}"
        return self._binding

    @property
    def carries_answers(self) -> bool:
        """Did the request bring answers (inputResponses or a requestState)?"""
        return bool(self._answers)

    def ask(self, key: str | None, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The client's answer to this question, or InputRequired when it has none yet. Unanswered
        questions asked together (asyncio.gather) all reach `pending` before the round ends."""
        key = key or f"input-{len(self._asked) + 1}"
        question = _digest([method, params])
        if key in self._asked and self._asked[key] != question:
            raise ProtocolError(INVALID_PARAMS, f"the tool asked two different questions under the key {key!r}")
        self._asked[key] = question
        answer = self._answers.get(key)
        if answer is not None and self._expected.get(key, question) == question:
            field = _REQUIRED_FIELD.get(method)
            if field is not None and field not in answer:
                raise ProtocolError(INVALID_PARAMS, f"params.inputResponses.{key} is not a {method} result "
                                    f"(it has no {field!r})")
            return dict(answer)
        self.pending[key] = {"method": method, "params": params}
        raise InputRequired

    def result(self) -> dict[str, Any]:
        """The `input_required` result of this round: its questions, and a state with what is answered."""
        answered = {k: self._answers[k] for k in self._asked if k not in self.pending and k in self._answers}
        state = self._seal.seal(self.binding, answered, dict(self._asked))
        return {"resultType": "input_required", "inputRequests": self.pending, "requestState": state}

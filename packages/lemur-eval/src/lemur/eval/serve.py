"""``lemur serve``: an OpenAI-compatible HTTP server over any model backend.

Agent frameworks and the ``openai`` backend can then use a local checkpoint::

    lemur serve --model hf:/ckpt/lemur-chat,template=chatml --port 8000
    lemur eval ... --model openai:http://127.0.0.1:8000/v1

Endpoints (JSON, as OpenAI's API):

- ``GET /v1/models``: the one served model, with a ``fingerprint`` of what is served (see
  :mod:`lemur.eval.models.openai`, "Cache identity").
- ``POST /v1/completions``: ``prompt`` (a string or a list of strings), ``max_tokens``
  (default 16), ``temperature`` (default 0: greedy, unlike OpenAI's 1), ``stop``,
  ``echo``, ``logprobs``. With ``logprobs`` the answer carries ``tokens``,
  ``token_logprobs`` and ``text_offset`` of the generated tokens, and with ``echo`` also of
  the prompt's (``echo`` + ``logprobs`` + ``max_tokens=0`` scores a prompt), for backends
  that can score text (:meth:`lemur.eval.models.hf.HFBackend.score_prompts`); the
  generated tokens' values come from re-scoring prompt + generated text.
- ``POST /v1/chat/completions``: ``messages`` (system/user/assistant, text content),
  ``max_tokens`` / ``max_completion_tokens`` (default 512), ``temperature``, ``stop``, and
  vLLM's ``continue_final_message`` / ``add_generation_prompt``. The backend's chat template
  renders the conversation (for ``hf``: :mod:`lemur.eval.models.templates`, as the backend
  does directly) in one of two ways: a conversation ending with a user or system message gets
  a new assistant turn (the default, ``add_generation_prompt``), and one ending with an
  assistant message sent with ``continue_final_message: true`` (``add_generation_prompt``
  false or left out) has that message continued, a prefill; the reply holds only the new
  text. Any other combination (a final assistant message without ``continue_final_message``,
  which OpenAI's API would close and follow with a new turn) is answered with HTTP 400.
- ``GET /health``.

- ``GET /version``: ``{"version": ...}``, the lemur-eval version (as vLLM answers it).

Responses carry ``usage`` (``prompt_tokens``, ``completion_tokens``, ``total_tokens``) when
the backend counts tokens (``hf``: the prompt as the model reads it, template and BOS
included, after any cut; the tokens generated, a stop string's included); others leave it out.

Every request field is checked against :data:`ACCEPTED_FIELDS`, and nothing is silently
ignored: a field that would change the answer and is not implemented (``tools``,
``tool_choice``, ``functions``, ``response_format``, ``logit_bias``, ``suffix``, ``top_p`` < 1,
penalties, ``stream``, ``n`` > 1, token-id prompts, chat ``logprobs``, ``seed`` with sampling)
and any unknown field get HTTP 400 with an OpenAI-style error body naming it. Such fields
sent with their neutral value (``tools: []``, ``tool_choice: "none"``, ``top_p: 1``,
``response_format: {"type": "text"}``, ``null``) are accepted, as are fields that cannot
change the answer (``user``, ``metadata``, ``store``, ``stream_options``, ``service_tier``,
``parallel_tool_calls``, and ``seed`` with greedy decoding, which is already deterministic).
Backend calls run one at a time in a worker thread; requests that arrive while one runs are
merged into the next backend call (up to ``--max-batch`` prompts), and a list prompt is one call.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations, and
# `Request` is imported inside create_app (lazily), so they must be evaluated where defined.
import contextlib
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import PurePath
from typing import Any

import click

from lemur.core.errors import LemurError, MissingDependencyError
from lemur.eval.batcher import CallBatcher
from lemur.eval.models.base import Generation, GenerationRequest, Message, ModelBackend

DEFAULT_COMPLETION_TOKENS = 16
DEFAULT_CHAT_TOKENS = 512
ROLES = ("system", "user", "assistant")

#: Fields served as OpenAI defines them, per endpoint (checked by the handlers).
_SERVED = {
    "completions": {"model", "prompt", "max_tokens", "temperature", "stop", "echo", "logprobs", "stream", "n"},
    "chat": {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "stop",
        "stream",
        "n",
        "logprobs",
        "top_logprobs",
        "continue_final_message",
        "add_generation_prompt",
    },
}
#: Fields that cannot change the answer: accepted with any value.
_HARMLESS = {"user", "metadata", "store", "stream_options", "service_tier", "parallel_tool_calls", "seed"}
#: Fields that change the answer and are not implemented: accepted only with these neutral values.
_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "tools": ([],),
    "tool_choice": ("none",),
    "functions": ([],),
    "function_call": ("none",),
    "response_format": ({"type": "text"},),
    "logit_bias": ({},),
    "top_p": (1, 1.0),
    "presence_penalty": (0, 0.0),
    "frequency_penalty": (0, 0.0),
    "best_of": (1,),
    "suffix": ("",),
}
#: Every field a request may carry, per endpoint.
ACCEPTED_FIELDS = {endpoint: served | _HARMLESS | set(_NEUTRAL) for endpoint, served in _SERVED.items()}


class RequestError(Exception):
    """A request the server cannot serve; becomes HTTP 400 with an OpenAI-style error body."""

    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.status = status


def create_app(backend: ModelBackend, model_name: str, max_batch: int = 32) -> Any:
    """Build the FastAPI app serving ``backend`` under the model id ``model_name``.

    Concurrent requests are merged into backend calls of at most ``max_batch`` prompts
    (:class:`~lemur.eval.batcher.CallBatcher`); the batcher is ``app.state.batcher``.

    Raises:
        MissingDependencyError: fastapi is not installed.
    """
    try:
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse
    except ModuleNotFoundError as error:
        raise MissingDependencyError("lemur serve", error.name or "fastapi", "lemur-eval[serve]") from None

    batcher = CallBatcher(backend, max_batch=max_batch)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        batcher.close()

    app = FastAPI(
        title="lemur serve", description=f"OpenAI-compatible API over the model {model_name!r}", lifespan=lifespan
    )
    app.state.batcher = batcher
    created = int(time.time())

    async def call(method: str, items: list[Any]) -> list[Any]:
        try:
            return await batcher.call(method, items)
        except (LemurError, NotImplementedError, ValueError) as error:
            raise RequestError(" ".join(str(error).split())) from error

    def error_body(message: str, param: str | None = None) -> dict[str, Any]:
        return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}

    @app.exception_handler(RequestError)
    async def _request_error(_request: Request, error: RequestError) -> JSONResponse:
        return JSONResponse(error_body(str(error), error.param), status_code=error.status)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/version")
    async def version() -> dict[str, str]:
        return {"version": _lemur_eval_version()}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        # `fingerprint` (an extra field, as vLLM adds `root` and `max_model_len`): the SHA-256 of the
        # backend's identity (for hf: checkpoint, file fingerprint, dtype, template), which the openai
        # backend folds into its cache identity, so another checkpoint served under this name is not
        # answered from the cache.
        from lemur.eval.cache import sha256_json

        entry = {"id": model_name, "object": "model", "created": created, "owned_by": "lemur"}
        return {"object": "list", "data": [{**entry, "fingerprint": sha256_json(backend.identity)}]}

    @app.post("/v1/completions")
    async def completions(request: Request) -> dict[str, Any]:
        body = await _json_object(request)
        _check_fields(body, "completions")
        _check_common(body, model_name)
        prompts = _prompts(body.get("prompt"))
        max_tokens = _int_field(body, "max_tokens", DEFAULT_COMPLETION_TOKENS)
        echo = bool(body.get("echo", False))
        logprobs = body.get("logprobs")
        if logprobs is not None and not hasattr(backend, "score_prompts"):
            raise RequestError(
                f"the '{backend.name}' backend behind this server cannot return log-probabilities", "logprobs"
            )
        requests = [GenerationRequest(prompt=p, **_sampling(body, max_tokens)) for p in prompts]
        if max_tokens == 0:
            outputs = [Generation("", "length", 0)] * len(prompts)
        else:
            outputs = await call("generate", requests)
        texts = [(o.text, o.finish_reason) for o in outputs]
        scored: list[Any] = [None] * len(prompts)
        if logprobs is not None:
            # Scoring prompt + generated text re-tokenizes the generation; with greedy decoding
            # this gives the generated tokens' log-probabilities (OpenAI reports them too).
            scored = await call("score_prompts", [p + text for p, (text, _) in zip(prompts, texts, strict=True)])
        choices = [
            {
                "index": i,
                "text": (p if echo else "") + text,
                "finish_reason": reason,
                "logprobs": None if tokens is None else _logprobs_body(tokens, 0 if echo else len(p)),
            }
            for i, (p, (text, reason), tokens) in enumerate(zip(prompts, texts, scored, strict=True))
        ]
        usage = await _usage(call, requests, outputs)
        return _response("text_completion", "cmpl", model_name, choices, usage)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> dict[str, Any]:
        body = await _json_object(request)
        _check_fields(body, "chat")
        _check_common(body, model_name)
        if body.get("logprobs"):
            raise RequestError("lemur serve cannot return log-probabilities of generated tokens", "logprobs")
        max_tokens = _int_field(body, "max_completion_tokens", None)
        max_tokens = _int_field(body, "max_tokens", DEFAULT_CHAT_TOKENS) if max_tokens is None else max_tokens
        messages = _messages(body.get("messages"))
        _check_continuation(body, messages)
        generation = GenerationRequest(messages=messages, **_sampling(body, max_tokens))
        output = (await call("generate", [generation]))[0]
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": output.text},
            "finish_reason": output.finish_reason,
            "logprobs": None,
        }
        usage = await _usage(call, [generation], [output])
        return _response("chat.completion", "chatcmpl", model_name, [choice], usage)

    async def _usage(call: Any, requests: list[GenerationRequest], outputs: list[Generation]) -> dict[str, int] | None:
        """OpenAI's ``usage``, summed over the prompts; ``None`` when the backend cannot count tokens."""
        counted = [output.tokens for output in outputs]
        if not hasattr(backend, "prompt_tokens") or None in counted:
            return None
        prompt = sum(await call("prompt_tokens", requests))
        completion = sum(count or 0 for count in counted)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    return app


def _lemur_eval_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("lemur-eval")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _check_fields(body: dict[str, Any], endpoint: str) -> None:
    """Refuse a field this endpoint does not serve (see :data:`ACCEPTED_FIELDS`), naming it."""
    for name, value in body.items():
        if value is None or name in _SERVED[endpoint] or (name in _HARMLESS and name != "seed"):
            continue
        if name == "seed":
            temperature = body.get("temperature")
            if temperature:
                raise RequestError(
                    "lemur serve does not honour seed when sampling (temperature > 0); leave seed out or use "
                    "temperature=0, which is deterministic",
                    "seed",
                )
            continue
        if name in _NEUTRAL:
            if value in _NEUTRAL[name]:
                continue
            neutral = " or ".join(json.dumps(v) for v in _NEUTRAL[name])
            raise RequestError(
                f"lemur serve does not support '{name}' (it would change the answer); leave it out or send {neutral}",
                name,
            )
        raise RequestError(f"lemur serve does not support the field '{name}'; leave it out", name)


async def _json_object(request: Any) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise RequestError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    return body


def _check_common(body: dict[str, Any], model_name: str) -> None:
    model = body.get("model")
    if model is not None and model != model_name:
        raise RequestError(f"model {model!r} is not served here; this server serves {model_name!r}", "model", 404)
    if body.get("stream"):
        raise RequestError("lemur serve does not stream; send stream=false", "stream")
    if _int_field(body, "n", 1) != 1:
        raise RequestError("lemur serve returns one choice per prompt; send n=1", "n")


def _int_field(body: dict[str, Any], name: str, default: int | None) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RequestError(f"{name} must be a non-negative integer, got {value!r}", name)
    return value


def _bool_field(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise RequestError(f"{name} must be true or false, got {value!r}", name)
    return value


def _check_continuation(body: dict[str, Any], messages: tuple[Message, ...]) -> None:
    """Refuse ``continue_final_message`` / ``add_generation_prompt`` settings the backends cannot render.

    Lemur backends continue a final assistant message (a prefill) and open a new assistant
    turn after any other message; the flags must ask for exactly that.
    """
    continues = _bool_field(body, "continue_final_message", False)
    opens_turn = _bool_field(body, "add_generation_prompt", not continues)
    ends_with_assistant = messages[-1].role == "assistant"
    if continues and opens_turn:
        raise RequestError(
            "continue_final_message and add_generation_prompt cannot both be true", "continue_final_message"
        )
    if continues and not ends_with_assistant:
        raise RequestError(
            f"continue_final_message=true needs a final assistant message to continue; the last message is "
            f"{messages[-1].role}'s",
            "continue_final_message",
        )
    if ends_with_assistant and not continues:
        raise RequestError(
            "the conversation ends with an assistant message: send continue_final_message=true and "
            "add_generation_prompt=false to have the model continue it (lemur serve cannot close it and "
            "start a new assistant turn)",
            "messages",
        )
    if not opens_turn and not continues:
        raise RequestError(
            "add_generation_prompt=false is served only with continue_final_message=true", "add_generation_prompt"
        )


def _sampling(body: dict[str, Any], max_tokens: int | None) -> dict[str, Any]:
    temperature = body.get("temperature")
    temperature = 0.0 if temperature is None else temperature
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature < 0:
        raise RequestError(f"temperature must be a non-negative number, got {temperature!r}", "temperature")
    stop = body.get("stop")
    stop = [] if stop is None else [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise RequestError("stop must be a string or a list of strings", "stop")
    return {"max_tokens": max_tokens, "temperature": float(temperature), "stop": tuple(stop)}


def _prompts(prompt: Any) -> list[str]:
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return prompt
    raise RequestError("prompt must be a string or a non-empty list of strings (token ids are not supported)", "prompt")


def _messages(messages: Any) -> tuple[Message, ...]:
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages must be a non-empty list", "messages")
    result = []
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ROLES:
            raise RequestError(f"messages[{index}].role must be one of {', '.join(ROLES)}, got {role!r}", "messages")
        content = message.get("content")
        if isinstance(content, list):  # content parts: only text is supported
            if not all(isinstance(p, dict) and p.get("type") == "text" for p in content):
                raise RequestError(f"messages[{index}].content: only text parts are supported", "messages")
            content = "".join(str(p.get("text", "")) for p in content)
        if not isinstance(content, str):
            raise RequestError(f"messages[{index}].content must be a string", "messages")
        result.append(Message(role=role, content=content))
    return tuple(result)


def _logprobs_body(tokens: list[Any], start: int) -> dict[str, Any]:
    """OpenAI's legacy ``logprobs`` object for the scored tokens that begin at or after character ``start``."""
    kept = [t for t in tokens if t.offset >= start]
    return {
        "tokens": [t.text for t in kept],
        "token_logprobs": [t.logprob for t in kept],
        "top_logprobs": None,
        "text_offset": [t.offset for t in kept],
    }


def _response(
    kind: str, prefix: str, model_name: str, choices: list[dict[str, Any]], usage: dict[str, int] | None
) -> dict[str, Any]:
    body = {
        "id": f"{prefix}-{uuid.uuid4().hex}",
        "object": kind,
        "created": int(time.time()),
        "model": model_name,
        "choices": choices,
    }
    if usage is not None:
        body["usage"] = usage
    return body


def build_server(
    backend: ModelBackend, model_name: str, host: str = "127.0.0.1", port: int = 8000, max_batch: int = 32
) -> Any:
    """A ``uvicorn.Server`` for :func:`create_app`; ``.run(sockets=[bind_socket(...)])``, ``.should_exit`` stops it.

    Raises:
        MissingDependencyError: fastapi or uvicorn is not installed.
    """
    try:
        import uvicorn
    except ModuleNotFoundError:
        raise MissingDependencyError("lemur serve", "uvicorn", "lemur-eval[serve]") from None
    app = create_app(backend, model_name, max_batch=max_batch)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    return uvicorn.Server(config)


class ListenError(LemurError):
    """The server cannot listen on the asked host and port."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (port 0: any free port), for the server's ``run(sockets=...)``.

    Raises:
        ListenError: The address is taken, not local, or not allowed.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        raise ListenError(f"lemur serve: cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def default_model_name(backend: ModelBackend) -> str:
    """The model id to serve under when none is given: the model's directory or name, else the backend name."""
    model = backend.identity.get("model")
    if isinstance(model, str) and model:
        return PurePath(model).name or model
    return backend.name or "model"


@click.command("serve")
@click.option(
    "--model", "spec", required=True, metavar="SPEC", help="Model spec, e.g. 'hf:/path/to/ckpt,template=chatml'."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port (0: any free port)."
)
@click.option("--name", default=None, help="Model id clients send (default: the model directory's name).")
@click.option(
    "--max-batch",
    default=32,
    show_default=True,
    type=click.IntRange(1),
    help="Most prompts merged from concurrent requests into one backend call.",
)
def serve_command(spec: str, host: str, port: int, name: str | None, max_batch: int) -> None:
    """Serve a model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /v1/models).

    Requests that arrive together are batched. Temperature defaults to 0 (greedy).
    """
    from lemur.eval.models.spec import create_backend

    sock = bind_socket(host, port)  # before loading the model, so a taken port fails at once
    try:
        backend = create_backend(spec)
    except BaseException:
        sock.close()
        raise
    try:
        model_name = name or default_model_name(backend)
        bound_host, bound_port = sock.getsockname()[:2]
        server = build_server(backend, model_name, host, bound_port, max_batch=max_batch)
        click.echo(f"lemur serve: serving {model_name!r} at http://{bound_host}:{bound_port}/v1", err=True)
        server.run(sockets=[sock])
    finally:
        backend.close()

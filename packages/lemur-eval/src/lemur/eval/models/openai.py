"""The ``openai`` model backend: any OpenAI-compatible server (vLLM, TGI, llama.cpp, OpenAI, ``lemur serve``).

Spec: ``openai:BASE_URL[,model=NAME][,key=value...]``, e.g.
``openai:http://127.0.0.1:8000/v1`` (the server's only model is picked) or
``openai:https://api.openai.com/v1,model=gpt-4o-mini``.

- ``mode=auto`` (default) sends chat requests to ``/chat/completions`` and raw prompts to
  ``/completions``; ``mode=chat`` or ``mode=completions`` allows only one of them.
- ``prefill``: how a conversation that ends with an assistant message (a prefill the model
  continues, as Lemur's ``Answer:``/``A:`` openings) is sent; OpenAI's chat API has no field for it.

  - ``continue`` (default): with vLLM's extra parameters ``continue_final_message: true,
    add_generation_prompt: false``, which TGI, SGLang, llama.cpp and ``lemur serve`` also read.
    A server that refuses them raises :class:`~lemur.eval.models.errors.UnsupportedCapabilityError`
    carrying the server's message.
  - ``plain``: as is, and the server decides: llama.cpp continues the message by default, other
    servers may close it and start a new assistant turn (not what the ``hf`` backend does).
  - ``error``: refused before sending (OpenAI's own API cannot continue a message).

  Other conversations are sent alike in every mode.
- Requests run ``concurrency`` at a time. 429, 5xx, timeouts and connection errors are
  retried up to ``max_retries`` times with exponential backoff and jitter
  (``backoff * 2**attempt`` seconds, scaled by a random factor in [0.5, 1], at most
  ``max_backoff``); a ``Retry-After`` header is honoured instead (also capped). Other 4xx
  answers fail at once with the server's message. Until the server has answered once, a
  refused connection or an unknown host is retried once after
  :data:`FIRST_CONTACT_RETRY_DELAY` seconds and then fails: a wrong URL or a server that is
  not running is reported in well under a second instead of after the whole backoff.
- Cache identity: the model-call cache keys answers by :attr:`OpenAIBackend.identity`, the
  server URL, the model name, ``mode`` and ``prefill``, plus the model's ``fingerprint`` when
  the server's ``/models`` entry carries one. ``lemur serve`` publishes there a SHA-256 of the
  served backend's identity (for ``hf``: checkpoint path, a fingerprint of its files, dtype,
  template...), so serving another checkpoint under the same name and port does not reuse the
  first one's answers. Other servers (vLLM, TGI, OpenAI) give no fingerprint: their answers are
  keyed by URL and model name alone, and a different model served later under the same name
  would be answered from the cache. The backend warns once (:class:`WeakIdentityWarning`) when
  that is so; pass ``--no-cache`` or a fresh ``--cache`` after swapping what a server serves.
- ``loglikelihood`` asks ``/completions`` for ``echo=True, logprobs=1, max_tokens=0`` on
  ``context + continuation`` (``max_tokens=1`` from then on if a server refuses 0) and
  sums the log-probabilities of the tokens that cover the continuation (found by
  ``text_offset``; trailing spaces of the context count as continuation, as in the ``hf``
  backend). Servers that refuse this raise
  :class:`~lemur.eval.models.errors.UnsupportedCapabilityError`.
- The API key is read from the environment variable named by ``api_key_env``
  (``OPENAI_API_KEY``); with none set no ``Authorization`` header is sent.

The module passes 400 lines because retries, generation and echo scoring share one HTTP client.
"""

from __future__ import annotations

import email.utils
import os
import random
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from lemur.core.errors import MissingDependencyError
from lemur.eval.models.base import Generation, GenerationRequest, LoglikelihoodRequest, ModelBackend
from lemur.eval.models.errors import BackendOptionError, ModelServerError, UnsupportedCapabilityError
from lemur.eval.models.options import as_bool, as_choice, as_float, as_int
from lemur.eval.models.stops import first_stop

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MODES = ("auto", "chat", "completions")
#: How a conversation ending with an assistant message is sent (see the module docstring).
PREFILL_MODES = ("continue", "plain", "error")
#: vLLM's chat-completions extra parameters that make the server continue the final message.
CONTINUE_FINAL_MESSAGE = {"continue_final_message": True, "add_generation_prompt": False}
#: OpenAI's own API accepts at most this many stop sequences; further ones are applied client-side.
MAX_SERVER_STOPS = 4
_RETRY_STATUSES = {408, 409, 429} | set(range(500, 600))
#: Statuses with which a server says it does not support a request's parameters.
_UNSUPPORTED_STATUSES = {400, 404, 405, 422, 501}
#: Seconds before the single retry of a refused connection (or unknown host) to a server not yet reached.
FIRST_CONTACT_RETRY_DELAY = 0.25
#: The ``/models`` entry field in which ``lemur serve`` publishes what it serves (a hex SHA-256).
FINGERPRINT_FIELD = "fingerprint"
_warned_weak_identity: set[tuple[str, str | None]] = set()

T = TypeVar("T")


class ServerRefusal(ModelServerError):
    """The server answered a request with a non-retryable error status."""

    def __init__(self, message: str, status: int, detail: str) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class WeakIdentityWarning(UserWarning):
    """The server gives no model fingerprint, so cached answers are keyed by the model's name alone."""


class OpenAIBackend(ModelBackend):
    """A model behind an OpenAI-compatible HTTP API.

    Args:
        base_url: The API root including ``/v1``; default ``$OPENAI_BASE_URL`` or OpenAI's.
        model: The model name to request; default: the only model the server lists.
        mode: ``auto``, ``chat`` or ``completions`` (see the module docstring).
        prefill: ``continue``, ``plain`` or ``error``: how a conversation that ends with an
            assistant message is sent (see the module docstring).
        api_key_env: Environment variable holding the API key.
        concurrency: Requests in flight at once.
        max_retries: Retries after the first attempt for 429/5xx/timeouts/connection errors (a
            refused connection or unknown host before the server first answered: at most one).
        timeout: Seconds to wait for one response (connecting: at most 10).
        backoff: Base delay of the exponential backoff, in seconds.
        max_backoff: Longest single wait between attempts, in seconds (also caps Retry-After).
        check: Ask ``/models`` at construction so a wrong URL or model fails early, and read
            the model's fingerprint there (see the module docstring); ``check=false`` with a
            ``model`` named skips both.

    Raises:
        BackendOptionError: A bad option, or no model named and the server lists several.
        ModelServerError: (with ``check``) The server cannot be reached or does not serve ``model``.
        MissingDependencyError: httpx is not installed.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        *,
        model: str | None = None,
        mode: str = "auto",
        prefill: str = "continue",
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int | str = 8,
        max_retries: int | str = 5,
        timeout: float | str = 120.0,
        backoff: float | str = 1.0,
        max_backoff: float | str = 60.0,
        check: bool | str = True,
    ) -> None:
        try:
            import httpx
        except ModuleNotFoundError:
            raise MissingDependencyError("the openai model backend", "httpx", "lemur-eval[openai]") from None
        base_url = str(base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL)
        if not base_url.startswith(("http://", "https://")):
            raise BackendOptionError(f"openai backend: base URL {base_url!r} must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.mode = as_choice("openai", "mode", mode, MODES)
        self.prefill = as_choice("openai", "prefill", prefill, PREFILL_MODES)
        self.concurrency = as_int("openai", "concurrency", concurrency, minimum=1)
        self.max_retries = as_int("openai", "max_retries", max_retries, minimum=0)
        self.timeout = as_float("openai", "timeout", timeout, minimum=0.001)
        self.backoff = as_float("openai", "backoff", backoff, minimum=0.0)
        self.max_backoff = as_float("openai", "max_backoff", max_backoff, minimum=0.0)
        self.api_key_env = api_key_env
        headers = {"User-Agent": "lemur-eval"}
        api_key = os.environ.get(api_key_env)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._httpx = httpx
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(self.timeout, connect=min(10.0, self.timeout)),
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
        )
        self.model = str(model) if model is not None else None
        #: What the server's ``/models`` entry says it serves (``lemur serve``), or None.
        self.fingerprint: str | None = None
        self._score_max_tokens = 0
        self._reached = False  # whether the server has answered at least once (see _request)
        if self.model is None or as_bool("openai", "check", check):
            self._check_model()
        if self.fingerprint is None:
            self._warn_weak_identity()

    @property
    def identity(self) -> dict[str, Any]:
        """Server URL, model name, mode, prefill and the server's model fingerprint if it gives one.

        Concurrency and retry settings are left out, as they do not change answers.
        """
        identity = {
            "backend": self.name,
            "base_url": self.base_url,
            "model": self.model,
            "mode": self.mode,
            "prefill": self.prefill,
        }
        if self.fingerprint is not None:
            identity[FINGERPRINT_FIELD] = self.fingerprint
        return identity

    def _warn_weak_identity(self) -> None:
        """Warn once per server and model that cached answers are keyed by the model's name alone."""
        key = (self.base_url, self.model)
        if key in _warned_weak_identity:
            return
        _warned_weak_identity.add(key)
        warnings.warn(
            f"openai backend: the server at {self.base_url} gives no fingerprint for model {self.model!r}, so "
            "cached answers are keyed by its URL and name alone; after serving another model under that name, "
            "run with --no-cache or a new --cache",
            WeakIdentityWarning,
            stacklevel=3,
        )

    # ---------------------------------------------------------------------------- HTTP

    def _check_model(self) -> None:
        try:
            listing = self._request("GET", "/models")
        except ServerRefusal as refusal:
            if self.model is not None and refusal.status in (404, 405):
                return  # the server has no /models; trust the name given
            raise
        entries = [entry for entry in listing.get("data", []) if isinstance(entry, dict)]
        served = [str(entry.get("id")) for entry in entries]
        if self.model is None:
            if len(served) != 1:
                raise BackendOptionError(
                    f"openai backend: the server at {self.base_url} serves {len(served)} models "
                    f"({', '.join(served[:10]) or 'none listed'}); name one with model=NAME"
                )
            self.model = served[0]
        elif served and self.model not in served:
            raise ModelServerError(
                f"openai backend: the server at {self.base_url} does not serve model {self.model!r}; "
                f"it serves: {', '.join(served[:10])}"
            )
        for entry in entries:
            fingerprint = entry.get(FINGERPRINT_FIELD)
            if str(entry.get("id")) == self.model and isinstance(fingerprint, str) and fingerprint:
                self.fingerprint = fingerprint

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one request with retries and return the decoded JSON body.

        A refused connection or an unknown host before the server has ever answered is retried
        once, after :data:`FIRST_CONTACT_RETRY_DELAY` seconds, whatever ``max_retries`` says.

        Raises:
            ServerRefusal: A non-retryable error status (the server's message included).
            ModelServerError: Unreachable, timing out, or failing with 429/5xx after every retry.
        """
        httpx = self._httpx
        url = self.base_url + path
        attempts = self.max_retries + 1
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                response = self._client.request(method, url, json=payload)
            except httpx.TimeoutException:
                failure = f"no answer within {self.timeout:g} s"
            except httpx.ConnectError as error:
                failure = f"cannot connect ({_one_line(error) or type(error).__name__}); is the server running?"
                if not self._reached:
                    # Nothing answers at this address (yet): a wrong URL or a server not started
                    # is not helped by a minute of backoff. One quick retry covers a server that
                    # is just binding its port.
                    if attempt >= min(1, self.max_retries):
                        break
                    attempt += 1
                    time.sleep(FIRST_CONTACT_RETRY_DELAY)
                    continue
            except httpx.TransportError as error:
                failure = f"cannot connect ({_one_line(error) or type(error).__name__}); is the server running?"
            else:
                self._reached = True
                if response.status_code < 400:
                    try:
                        body = response.json()
                    except ValueError:
                        raise ModelServerError(
                            f"openai backend: {method} {url} returned a body that is not JSON"
                        ) from None
                    if not isinstance(body, dict):
                        raise ModelServerError(f"openai backend: {method} {url} returned JSON that is not an object")
                    return body
                detail = _error_detail(response)
                if response.status_code not in _RETRY_STATUSES:
                    hint = f" (is ${self.api_key_env} set?)" if response.status_code in (401, 403) else ""
                    raise ServerRefusal(
                        f"openai backend: {method} {url} was refused with HTTP {response.status_code}: {detail}{hint}",
                        response.status_code,
                        detail,
                    )
                failure = f"HTTP {response.status_code}: {detail}"
                retry_after = _retry_after_seconds(response.headers.get("retry-after"))
            if attempt + 1 >= attempts:
                break
            time.sleep(self._delay(attempt, retry_after))
            attempt += 1
        tried = attempt + 1
        raise ModelServerError(
            f"openai backend: {method} {url} failed after {tried} attempt{'s' if tried > 1 else ''}: {failure}"
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        return min(self.max_backoff, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)

    def _map(self, function: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        """``function`` over ``items`` with at most ``concurrency`` in flight; the first error cancels the rest."""
        if len(items) <= 1 or self.concurrency == 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            futures = [pool.submit(function, item) for item in items]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    # ------------------------------------------------------------------------ generate

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate one completion per request, in order (greedy unless ``temperature`` is set).

        Stop strings are sent to the server (the first four) and also cut client-side, so
        the returned text never contains one.

        Raises:
            UnsupportedCapabilityError: A chat request with ``mode=completions``, a raw
                prompt with ``mode=chat``, a conversation ending with an assistant message
                with ``prefill=error``, or a server that refuses ``continue_final_message``.
            ModelServerError: The server failed or refused a request.
        """
        for request in requests:
            self._check_mode(request)
        return self._map(self._generate_one, requests)

    def _check_mode(self, request: GenerationRequest) -> None:
        if request.messages is not None and self.mode == "completions":
            raise UnsupportedCapabilityError(
                "openai backend: chat messages need mode=auto or mode=chat (this backend is mode=completions)"
            )
        if request.prompt is not None and self.mode == "chat":
            raise UnsupportedCapabilityError(
                "openai backend: a raw prompt needs mode=auto or mode=completions (this backend is mode=chat)"
            )
        if _is_prefill(request) and self.prefill == "error":
            raise UnsupportedCapabilityError(
                "openai backend: the conversation ends with an assistant message for the model to continue, "
                "and this backend is prefill=error; use prefill=continue with a server that reads "
                "continue_final_message (vLLM, TGI, SGLang, llama.cpp, lemur serve)"
            )

    def _generate_one(self, request: GenerationRequest) -> Generation:
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            payload["stop"] = list(request.stop[:MAX_SERVER_STOPS])
        if request.messages is not None:
            payload["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
            choice = self._first_choice(self._chat(payload, continues=_is_prefill(request)))
            text = (choice.get("message") or {}).get("content") or ""
        else:
            payload["prompt"] = request.prompt
            choice = self._first_choice(self._request("POST", "/completions", payload))
            text = choice.get("text") or ""
        cut = first_stop(text, request.stop)
        if cut is not None:
            return Generation(text[:cut], "stop")
        return Generation(text, "length" if choice.get("finish_reason") == "length" else "stop")

    def _chat(self, payload: dict[str, Any], continues: bool) -> dict[str, Any]:
        """POST ``payload`` to ``/chat/completions``, asking the server to continue the final message if ``continues``.

        Raises:
            UnsupportedCapabilityError: The server refused the ``continue_final_message`` request.
            ModelServerError: The server failed or refused a request.
        """
        if not (continues and self.prefill == "continue"):
            return self._request("POST", "/chat/completions", payload)
        try:
            return self._request("POST", "/chat/completions", {**payload, **CONTINUE_FINAL_MESSAGE})
        except ServerRefusal as refusal:
            if refusal.status not in _UNSUPPORTED_STATUSES:
                raise
            raise UnsupportedCapabilityError(
                f"openai backend: the server at {self.base_url} refused a conversation that ends with an assistant "
                f"message to continue, sent with continue_final_message=true (HTTP {refusal.status}: "
                f"{refusal.detail}); a server without it cannot continue the message: use prefill=error to stop "
                "before sending, or prefill=plain if the server continues a final assistant message by itself"
            ) from None

    def _first_choice(self, body: dict[str, Any]) -> dict[str, Any]:
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise ModelServerError(f"openai backend: the server at {self.base_url} returned no choices")
        return choices[0]

    # ------------------------------------------------------------------- loglikelihood

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[float]:
        """Return ``log P(continuation | context)`` (natural log) per request, in order.

        An empty continuation scores 0.0 without a request.

        Raises:
            UnsupportedCapabilityError: ``mode=chat``, or the server does not return prompt
                log-probabilities (``echo`` + ``logprobs`` on ``/completions``), or gives none
                for a continuation token (an empty context on a server that adds no BOS).
            ModelServerError: The server failed.
        """
        if self.mode == "chat":
            raise UnsupportedCapabilityError(
                "openai backend: mode=chat cannot score text; use mode=auto or completions"
            )
        return self._map(self._loglikelihood_one, requests)

    def _loglikelihood_one(self, request: LoglikelihoodRequest) -> float:
        if not request.continuation:
            return 0.0
        prompt = request.context + request.continuation
        boundary = len(request.context.rstrip())
        max_tokens = self._score_max_tokens
        payload = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": max_tokens,
            "echo": True,
            "logprobs": 1,
            "temperature": 0.0,
        }
        try:
            body = self._request("POST", "/completions", payload)
        except ServerRefusal as refusal:
            if refusal.status in _UNSUPPORTED_STATUSES and max_tokens == 0:
                # Some servers (vLLM) refuse max_tokens=0; the one token they then generate lies
                # past the prompt and is left out by offset.
                self._score_max_tokens = 1
                return self._loglikelihood_one(request)
            if refusal.status in _UNSUPPORTED_STATUSES:
                raise UnsupportedCapabilityError(
                    f"openai backend: the server at {self.base_url} cannot score text (completions with "
                    f"echo and logprobs was refused with HTTP {refusal.status}: {refusal.detail})"
                ) from None
            raise
        logprobs = self._first_choice(body).get("logprobs") or {}
        tokens, values, offsets = (logprobs.get(k) for k in ("tokens", "token_logprobs", "text_offset"))
        if not (isinstance(tokens, list) and isinstance(values, list) and isinstance(offsets, list)):
            raise UnsupportedCapabilityError(
                f"openai backend: the server at {self.base_url} cannot score text (its echo answer has no "
                "tokens, token_logprobs and text_offset)"
            )
        return _continuation_logprob(tokens, values, offsets, prompt, boundary, self.base_url)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def _is_prefill(request: GenerationRequest) -> bool:
    """Whether ``request`` is a conversation ending with an assistant message the model must continue."""
    return bool(request.messages) and request.messages[-1].role == "assistant"


def _continuation_logprob(
    tokens: list[str], values: list[float | None], offsets: list[int], prompt: str, boundary: int, where: str
) -> float:
    """Sum the log-probabilities of the prompt tokens that cover characters at or after ``boundary``.

    A token covers ``[offset, min(next offset, offset + len(text)))``; zero-width tokens (a
    BOS the server reports) and generated tokens beyond the prompt are left out.
    """
    total = 0.0
    for index, (token, value, offset) in enumerate(zip(tokens, values, offsets, strict=False)):
        if offset >= len(prompt):
            break
        following = offsets[index + 1] if index + 1 < len(offsets) else len(prompt)
        end = min(following, offset + len(token))
        if end <= boundary or end <= offset:
            continue
        if value is None:
            raise UnsupportedCapabilityError(
                f"openai backend: the server at {where} gave no log-probability for token {token!r} of the "
                "continuation (an empty context cannot be scored by a server that adds no BOS token)"
            )
        total += float(value)
    return total


def _error_detail(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return _one_line(response.text)[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body))
        if isinstance(error, dict):
            error = error.get("message", error)
        return _one_line(error)[:300]
    return _one_line(body)[:300]


def _retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _one_line(value: object) -> str:
    return " ".join(str(value).split())

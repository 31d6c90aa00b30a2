"""Every refusal as a 4xx whose ``detail`` is one line: pydantic's list of errors is cut to the most telling one,
named by where it is (``input[2]: Input should be a valid string``); a limit is 413; an unknown model or prompt,
or a search with nothing to search, 422. A client sees what to fix, never a 500 or a stack trace."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from simcse_pl.serving.limits import TooLarge
from simcse_pl.serving.prompts import UnknownPrompt


class Refused(ValueError):
    """A well-formed request the loaded models cannot answer (422); the message says why."""


class UnknownModel(Refused):
    """A request named a model the server has not loaded (422)."""


class NoCorpus(Refused):
    """A search with no documents pasted on a server started without ``--corpus`` (422)."""


def one_line(exc: RequestValidationError) -> str:
    """``where: what`` of the most telling validation error (``input[2]: Input should be a valid string``;
    ``body: invalid JSON`` for a body that does not parse). Of a union's errors (``input`` is a string or a list),
    one about content beats a branch's "wrong type", the deepest location wins, and branch tags leave it."""
    errors = sorted(exc.errors(), key=lambda e: (str(e.get("type", "")).endswith("_type"), -len(e.get("loc", ()))))
    if not errors:
        return "invalid request"
    first = errors[0]
    if first.get("type") == "json_invalid":
        return f"body: invalid JSON ({first.get('ctx', {}).get('error', 'does not parse')})"
    parts = [p for p in first.get("loc", ()) if p != "body" and not (isinstance(p, str) and ("[" in p or "-" in p))]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
    return f"{where or 'body'}: {first.get('msg', 'invalid')}".replace("\n", " ")


def install(app: FastAPI) -> None:
    """The handlers: validation 422, limits 413, unknown model or prompt 422."""

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"detail": one_line(exc)}, status_code=422)

    async def too_large(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=413)

    async def unknown(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(TooLarge, too_large)
    app.add_exception_handler(UnknownPrompt, unknown)
    app.add_exception_handler(Refused, unknown)

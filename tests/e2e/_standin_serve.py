"""A stand-in for ``dockyard serve MODEL --host H --port P`` in the rollout scenarios.

It answers the routes the gateway and the supervisor use (``/v2/health/ready`` and
``/predict``) with the registered model loaded through the registry; used through
``DOCKYARD_SERVE_COMMAND`` while the real service is not wired into the CLI.
"""

from __future__ import annotations

import asyncio
import json
import sys

import uvicorn

from dockyard.registry import load_model
from dockyard.stacks.stack import load_stack


def main() -> None:
    ref, host, port = (
        sys.argv[1],
        sys.argv[sys.argv.index("--host") + 1],
        int(sys.argv[sys.argv.index("--port") + 1]),
    )
    record, model = load_model(ref, load_stack(), trust_pickle=True)
    version = str(record.version).encode()

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, payload = 404, {"error": "no route"}
        if scope["path"] in ("/v2/health/ready", "/v2/health/live"):
            status, payload = 200, {"ready": True}
        elif scope["path"] == "/predict":
            try:
                rows = json.loads(body)["instances"]
                predictions = await asyncio.to_thread(model.predict, rows)
                status = 200
                payload = {
                    "predictions": predictions,
                    "model": record.name,
                    "version": record.version,
                }
            except Exception as exc:
                status, payload = 500, {"error": f"model {record.ref} failed: {exc}"}
        data = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json"), (b"x-model-version", version)]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    uvicorn.run(app, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    main()

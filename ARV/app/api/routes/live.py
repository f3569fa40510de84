"""The live socket: notifications and company events as they happen, with replay on
reconnect. See `app.api.live_socket` for the protocol and ARV/docs/notifications.md#live."""

from fastapi import APIRouter, WebSocket

from app.api.live_socket import LiveSocket

router = APIRouter(tags=["notifications"])


@router.websocket("/ws")
async def live_socket(websocket: WebSocket) -> None:
    """Sign in with the first message (`{"type": "auth", "token": ..., "epoch", "offset"}`);
    then receive your notifications and your companies' events."""
    await LiveSocket(websocket).run()

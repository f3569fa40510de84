"""The one failure every delivery path reports (an SMTP transport, an outbox channel): it
says whether trying again could help."""


class DeliveryError(Exception):
    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent  # a 5xx refusal: retrying would be refused again

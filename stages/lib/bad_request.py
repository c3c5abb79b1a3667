"""What a client sent that the server refuses: BadRequest (a 4xx status and its message) and the
helpers that word those messages. The data kinds raise it while parsing instances, serving answers it."""


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def show(value, limit: int = 60) -> str:
    """A client's value in a message, cut short: it may be megabytes long."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def check_utf8(text: str, where: str) -> str:
    try:
        text.encode("utf-8")  # JSON's "\ud800" escapes give lone surrogates, which no model input can hold
    except UnicodeEncodeError:
        raise BadRequest(f"{where} holds a lone surrogate (\\ud800-\\udfff): send valid Unicode") from None
    return text
